"""One contrast from the fitted design: Wald test (or, for an LRT contrast, the
likelihood-ratio test), Cook's and independent filtering, LFC shrinkage; writes the
results table, its summary and the size factors."""

import logging

from msc_response.common.scripting import run
from msc_response.common.tables import write_table
from msc_response.de.contrast import contrast_result
from msc_response.de.fit import DESettings
from msc_response.de.fit_file import load_fit
from msc_response.de.results import summarise
from msc_response.design.contrasts import parse_contrasts


def main(snakemake):
    [contrast] = parse_contrasts({snakemake.wildcards.contrast: snakemake.params.contrast})
    settings = DESettings.from_config(snakemake.params.settings, n_cpus=snakemake.threads)
    weights = dict(snakemake.params.weights) or None
    result = contrast_result(load_fit(snakemake.input[0]), contrast, settings, weights)
    write_table(result.table, snakemake.output.table)
    summary = summarise(result.table, contrast, settings.alpha)
    write_table(summary, snakemake.output.summary)
    write_table(
        result.size_factors.rename_axis("sample").reset_index(),
        snakemake.output.size_factors,
    )
    logging.getLogger("msc_response").info("\n%s", summary.T.to_string())


run(main, snakemake)
