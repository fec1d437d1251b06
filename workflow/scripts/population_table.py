"""The populations of single_cell.group_by, and for each contrast whether it was
analysed or why not; writes results/qc/populations.tsv (decided when the workflow
was parsed: msc_response.inputs.populations)."""

import pandas as pd

from msc_response.common.scripting import run
from msc_response.common.tables import write_table
from msc_response.inputs.populations import TABLE_COLUMNS


def main(snakemake):
    write_table(pd.DataFrame(snakemake.params.rows, columns=TABLE_COLUMNS), snakemake.output[0])


run(main, snakemake)
