"""Size factors, normalised counts and VST; writes results/dataset.h5ad and tables."""

import anndata as ad
import pandas as pd

from msc_response.common.scripting import run
from msc_response.common.tables import write_table, write_tables
from msc_response.de.engines import dataset_class, make_inference
from msc_response.inputs.carrier import write_h5ad
from msc_response.qc.normalisation import normalise


def gene_table(adata, layer: str) -> pd.DataFrame:
    table = pd.DataFrame(adata.layers[layer].T, index=adata.var_names, columns=adata.obs_names)
    table.insert(0, "symbol", adata.var["symbol"].to_numpy())
    return table.reset_index()


def main(snakemake):
    adata = ad.read_h5ad(snakemake.input[0])
    settings = snakemake.params.settings
    result = normalise(
        adata,
        size_factors_fit_type=settings["size_factors_fit_type"],
        blind=snakemake.params.blind,
        fit_type=settings["fit_type"],
        inference=make_inference(settings["inference"], snakemake.threads),
        dataset_cls=dataset_class(settings["dispersion_prior"]),
    )
    write_h5ad(result, snakemake.output.dataset)
    tables = [
        (gene_table(result, "normalised"), snakemake.output.normalised),
        (gene_table(result, "vst"), snakemake.output.vst),
    ]
    write_tables(tables, processes=snakemake.threads)
    write_table(
        result.obs[["size_factor"]].rename_axis("sample").reset_index(),
        snakemake.output.size_factors,
    )


run(main, snakemake)
