"""One row per contrast x collection x analysis: sets tested, significant terms, top term."""

import pandas as pd

from msc_response.common.scripting import run
from msc_response.common.tables import write_table
from msc_response.enrichment.analysis import summarise


def main(snakemake):
    rows = []
    for i, (contrast, collection) in enumerate(snakemake.params.pairs):
        tables = {
            analysis: pd.read_csv(snakemake.input[analysis][i], sep="\t")
            for analysis in ("gsea", "ora_up", "ora_down")
        }
        sets_tested = int(pd.read_csv(snakemake.input.sets[i], sep="\t")["sets_tested"].iloc[0])
        rows.append(summarise(contrast, collection, tables, sets_tested, snakemake.params.fdr))
    write_table(pd.concat(rows, ignore_index=True), snakemake.output[0])


run(main, snakemake)
