"""Design audit from the sample sheet alone: writes results/qc/design_audit.tsv."""

import logging

from msc_response.common.scripting import run
from msc_response.common.tables import write_table
from msc_response.design.audit import audit_warnings, design_audit
from msc_response.inputs.validation import check_sheet


def main(snakemake):
    params = snakemake.params
    # the contrasts were checked against the sheet when the workflow was parsed
    checked = check_sheet(snakemake.input[0], params.design, {}, tuple(params.categorical))
    table = design_audit(
        checked.sheet, params.design, list(params.variables), params.warn_association
    )
    write_table(table, snakemake.output[0])
    log = logging.getLogger("msc_response.design.audit")
    for message in audit_warnings(table, flags=("nearly_confounded", "confounded", "error")):
        log.info(message)  # already warned about at parse time; the log keeps a copy
    for problem in checked.design_problems:
        log.info("the run stops at rule check_inputs: %s", problem)


run(main, snakemake)
