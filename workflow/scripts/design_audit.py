"""Design audit from the sample sheet alone: writes results/qc/design_audit.tsv and
results/qc/contrasts.tsv (what each contrast estimates, in words)."""

import logging

from msc_response.common.scripting import run
from msc_response.common.tables import write_table
from msc_response.design.audit import audit_warnings, design_audit
from msc_response.design.contrasts import contrast_variables, parse_contrasts
from msc_response.design.estimable import contrasts_table
from msc_response.inputs.validation import check_sheet


def main(snakemake):
    params = snakemake.params
    checked = check_sheet(
        snakemake.input[0], params.design, params.contrasts, tuple(params.categorical)
    )
    contrasts = parse_contrasts(params.contrasts)
    variables = contrast_variables(contrasts, params.design)
    table = design_audit(checked.sheet, params.design, variables, params.warn_association)
    write_table(table, snakemake.output[0])
    write_table(
        contrasts_table(checked.sheet, params.design, contrasts, dict(params.references)),
        snakemake.output.contrasts,
    )
    log = logging.getLogger("msc_response.design.audit")
    for message in audit_warnings(table, flags=("nearly_confounded", "confounded", "error")):
        log.info(message)  # already warned about at parse time; the log keeps a copy
    for problem in checked.design_problems:
        log.info("the run stops at rule check_inputs: %s", problem)


run(main, snakemake)
