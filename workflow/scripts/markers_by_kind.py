"""Marker table and figure of a continuous or LRT contrast (results/markers/{contrast}/):
per-unit log2FC with Spearman correlations, or per-level means with a heatmap."""

import anndata as ad
import pandas as pd

from msc_response.common.scripting import run
from msc_response.common.tables import write_table
from msc_response.markers.kinds import (
    continuous_markers,
    level_heatmap,
    level_markers,
    levels_variable,
    scatter_figure,
)


def main(snakemake):
    params, name = snakemake.params, snakemake.wildcards.contrast
    settings, contrast = params.settings, params.contrast
    adata = ad.read_h5ad(snakemake.input.dataset)
    de = pd.read_csv(snakemake.input.de, sep="\t")
    common = dict(n_top=settings["n_top"], alpha=params.alpha,
                  min_base_mean=settings["min_base_mean"])
    if "reduced" in contrast:
        variable = levels_variable(adata.uns["design"], contrast["reduced"], adata.obs)
        table = level_markers(de, adata, variable, **common)
        level_heatmap(table, adata, variable, snakemake.output.figure,
                      f"LRT {name}: top genes by level of {variable}",
                      settings["plots"]["heatmap_genes"])
    else:
        variable = contrast["variable"]
        table = continuous_markers(de, adata, variable, n_boot=settings["bootstrap"],
                                   seed=settings["seed"], **common)
        scatter_figure(table, adata, variable, snakemake.output.figure,
                       f"{name}: top genes against {variable}", settings["plots"]["strip_genes"])
    write_table(table, snakemake.output.markers)


run(main, snakemake)
