"""Run R DESeq2 on the same pre-filtered counts and design; write the agreement table."""

import logging

import anndata as ad
import pandas as pd

from msc_response.crosscheck import agreement
from msc_response.dataset import counts_frame
from msc_response.de import DESettings
from msc_response.io import write_table
from msc_response.rdeseq2 import run_r_deseq2
from msc_response.scripting import run
from msc_response.validation import design_variables, order_reference_first, parse_contrasts


def main(snakemake):
    adata = ad.read_h5ad(snakemake.input.dataset)
    ours = pd.read_csv(snakemake.input.table, sep="\t")
    [contrast] = parse_contrasts({snakemake.wildcards.contrast: snakemake.params.contrast})
    settings = DESettings.from_config(snakemake.params.settings)
    design = snakemake.params.design
    tested = ours.loc[ours["status"] != "low_counts", "gene_id"].astype(str)
    counts = counts_frame(adata)[list(tested)]
    sheet = order_reference_first(adata.obs, contrast)
    r = run_r_deseq2(
        counts,
        sheet[design_variables(design)],
        design,
        contrast.as_list(),
        alpha=settings.alpha,
        cooks_filter=settings.cooks_filter,
        independent_filter=settings.independent_filtering,
    )
    sizes = pd.read_csv(snakemake.input.size_factors, sep="\t", index_col="sample")["size_factor"]
    table = agreement(ours, r.results, sizes, r.size_factors, settings.alpha)
    logging.getLogger("msc_response").info("\n%s", table.to_string(index=False))
    write_table(table, snakemake.output[0])


run(main, snakemake)
