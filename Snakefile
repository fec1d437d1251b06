from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/qc.smk"
include: "workflow/rules/diffexp.smk"
include: "workflow/rules/crosscheck.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
