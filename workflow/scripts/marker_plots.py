"""Figures of one contrast's markers and panel (results/markers/{contrast}/*.png)."""

import anndata as ad
import pandas as pd

from msc_response.common.scripting import run
from msc_response.markers.config import check_marker_config
from msc_response.markers.figures import contrast_figures
from msc_response.markers.tables import contrast_samples


def main(snakemake):
    params = snakemake.params
    settings = params.settings
    adata = ad.read_h5ad(snakemake.input.dataset)
    read = lambda path: pd.read_csv(path, sep="\t")  # noqa: E731
    contrast_figures(
        read(snakemake.input.de),
        read(snakemake.input.markers),
        read(snakemake.input.panel),
        check_marker_config(settings, params.basedir).panel,
        contrast_samples(adata, params.contrast),
        name=snakemake.wildcards.contrast,
        alpha=params.alpha,
        n_strip=settings["plots"]["strip_genes"],
        heatmap_genes=settings["plots"]["heatmap_genes"],
        colour_by=settings["plots"]["colour_by"],
        expressed_min_count=settings["expressed_min_count"],
        paths=dict(snakemake.output.items()),
    )


run(main, snakemake)
