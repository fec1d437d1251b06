"""PyDESeq2 fit and Wald test for one contrast; writes the results table and summary."""

import logging

import anndata as ad

from msc_response.dataset import counts_frame
from msc_response.de import DESettings, run_contrast, summarise
from msc_response.io import write_table
from msc_response.scripting import run
from msc_response.validation import parse_contrasts


def main(snakemake):
    adata = ad.read_h5ad(snakemake.input[0])
    [contrast] = parse_contrasts({snakemake.wildcards.contrast: snakemake.params.contrast})
    settings = DESettings.from_config(snakemake.params.settings, n_cpus=snakemake.threads)
    result = run_contrast(
        counts_frame(adata),
        adata.obs,
        snakemake.params.design,
        contrast,
        adata.var["symbol"],
        settings,
    )
    write_table(result.table, snakemake.output.table)
    summary = summarise(result.table, contrast, settings.alpha)
    write_table(summary, snakemake.output.summary)
    write_table(
        result.size_factors.rename("size_factor").rename_axis("sample").reset_index(),
        snakemake.output.size_factors,
    )
    logging.getLogger("msc_response").info("\n%s", summary.T.to_string())


run(main, snakemake)
