"""Read counts, sample sheet and annotation, check them, write the checked AnnData."""

from dataclasses import replace

from msc_response.common.scripting import run
from msc_response.inputs.carrier import write_h5ad
from msc_response.inputs.dataset import InputSpec, load_checked_inputs


def main(snakemake):
    settings = {**snakemake.params.settings, "contrasts": snakemake.config["contrasts"]}
    spec = InputSpec.from_config(settings, human_genes=snakemake.params.human_genes)
    # rule population_check_inputs: one population's cells, on its samples
    population = snakemake.params.get("population")
    if population:
        spec = replace(spec, population=population)
    adata = load_checked_inputs(spec)
    write_h5ad(adata, snakemake.output[0])


run(main, snakemake)
