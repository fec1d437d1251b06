"""Read counts, sample sheet and annotation, check them, write the checked AnnData."""

from msc_response.dataset import InputSpec, load_checked_inputs, write_h5ad
from msc_response.scripting import run


def main(snakemake):
    adata = load_checked_inputs(InputSpec.from_config(snakemake.config))
    write_h5ad(adata, snakemake.output[0])


run(main, snakemake)
