"""Marker table and curated panel of one contrast (results/markers/{contrast}/)."""

import anndata as ad
import pandas as pd

from msc_response.common.scripting import run
from msc_response.common.tables import write_table
from msc_response.markers.config import check_marker_config
from msc_response.markers.tables import contrast_tables


def main(snakemake):
    params = snakemake.params
    adata = ad.read_h5ad(snakemake.input.dataset)
    de = pd.read_csv(snakemake.input.de, sep="\t")
    panel = check_marker_config(params.settings, params.basedir).panel
    table, panel_rows = contrast_tables(
        de, adata, params.contrast, panel, params.settings, params.alpha
    )
    write_table(table, snakemake.output.markers)
    write_table(panel_rows, snakemake.output.panel)


run(main, snakemake)
