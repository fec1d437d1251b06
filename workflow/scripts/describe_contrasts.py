"""What each contrast estimates, in words: writes results/qc/contrasts.tsv."""

from msc_response.common.scripting import run
from msc_response.common.tables import write_table
from msc_response.design.contrasts import parse_contrasts
from msc_response.design.estimable import contrasts_table
from msc_response.inputs.validation import check_sheet


def main(snakemake):
    params = snakemake.params
    checked = check_sheet(
        snakemake.input[0], params.design, params.contrasts, tuple(params.categorical)
    )
    contrasts = parse_contrasts(params.contrasts)
    write_table(
        contrasts_table(checked.sheet, params.design, contrasts, dict(params.references)),
        snakemake.output[0],
    )


run(main, snakemake)
