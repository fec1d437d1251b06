"""Run R DESeq2 on the same pre-filtered counts and design; write the agreement table."""

import logging

import anndata as ad
import pandas as pd

from msc_response.common.scripting import run
from msc_response.common.tables import write_table
from msc_response.de.crosscheck import agreement
from msc_response.de.fit import DESettings
from msc_response.de.r_reference import run_r_deseq2
from msc_response.design.contrasts import order_reference_first, parse_contrasts
from msc_response.design.formula import design_variables
from msc_response.inputs.carrier import counts_frame


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
