"""Per-sample QC table (with its ok/note/outlier flags) and figures from results/dataset.h5ad."""

import anndata as ad
import numpy as np

from msc_response.common.scripting import run
from msc_response.common.tables import write_table
from msc_response.design.formula import design_variables
from msc_response.qc.figures import library_sizes, pca, sample_distance_heatmap
from msc_response.qc.samples import FlagRules, sample_distances, sample_qc_table


def main(snakemake):
    adata = ad.read_h5ad(snakemake.input[0])
    params = snakemake.params
    variables = design_variables(adata.uns["design"])
    table, explained = sample_qc_table(
        adata,
        rules=FlagRules.from_config(params.qc),
        n_top=params.qc["pca_top_genes"],
        variables=variables,
    )
    write_table(table, snakemake.output.table)
    flags = table.set_index("sample")["flag"]
    library_sizes(table, snakemake.output.library_sizes)
    pca(
        adata,
        variables,
        table[["PC1", "PC2"]].to_numpy(),
        explained,
        snakemake.output.pca,
        flags=flags,
    )
    expressed = np.asarray(adata.var["expressed"])
    distances = sample_distances(adata.layers["vst"][:, expressed], adata.obs_names)
    sample_distance_heatmap(
        distances, adata.obs[variables], snakemake.output.distances, flags=flags
    )


run(main, snakemake)
