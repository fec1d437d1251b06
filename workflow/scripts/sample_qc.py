"""Per-sample QC table (with its ok/note/outlier flags) and figures from results/dataset.h5ad."""

import anndata as ad
import numpy as np

from msc_response import plots, qc
from msc_response.io import write_table
from msc_response.scripting import run
from msc_response.validation import design_variables


def main(snakemake):
    adata = ad.read_h5ad(snakemake.input[0])
    params = snakemake.params
    variables = design_variables(adata.uns["design"])
    table, explained = qc.sample_qc_table(
        adata,
        rules=qc.FlagRules.from_config(params.qc),
        n_top=params.qc["pca_top_genes"],
        variables=variables,
    )
    write_table(table, snakemake.output.table)
    flags = table.set_index("sample")["flag"]
    plots.library_sizes(table, snakemake.output.library_sizes)
    plots.pca(
        adata,
        variables,
        table[["PC1", "PC2"]].to_numpy(),
        explained,
        snakemake.output.pca,
        flags=flags,
    )
    expressed = np.asarray(adata.var["expressed"])
    distances = qc.sample_distances(adata.layers["vst"][:, expressed], adata.obs_names)
    plots.sample_distance_heatmap(
        distances, adata.obs[variables], snakemake.output.distances, flags=flags
    )


run(main, snakemake)
