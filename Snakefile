import os

from snakemake.utils import min_version

min_version("9.0")


# Defaults from the workflow's own folder, so a run with --directory elsewhere still
# gets them; a user's --configfile is layered on top (see config/README.md).
configfile: os.path.join(workflow.basedir, "config", "config.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/audit.smk"
include: "workflow/rules/qc.smk"
include: "workflow/rules/diffexp.smk"
include: "workflow/rules/crosscheck.smk"
include: "workflow/rules/enrichment.smk"
include: "workflow/rules/provenance.smk"
include: "workflow/rules/markers.smk"
include: "workflow/rules/power.smk"
include: "workflow/rules/populations.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
