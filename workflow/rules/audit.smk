rule design_audit:
    input:
        config["samples"],
    output:
        report(
            "results/qc/design_audit.tsv",
            caption="../report/design_audit.rst",
            category="Quality control",
        ),
    log:
        "logs/design_audit.log",
    benchmark:
        "results/benchmarks/design_audit.tsv"
    # Seconds of work: on a cluster it runs on the submit node, not as a SLURM job.
    localrule: True
    # Needs the sample sheet alone; rule check_inputs waits for it, so the audit exists
    # to explain a design problem even when check_inputs stops the run.
    conda:
        "../../envs/qc.yaml"
    params:
        design=config["design"],
        # the variables the contrasts are about, not the contrasts: a contrast added
        # on a variable already compared changes nothing upstream of its own jobs
        variables=CONTRAST_VARIABLES,
        categorical=config["categorical_variables"],
        warn_association=config["audit"]["warn_association"],
    script:
        "../scripts/design_audit.py"


rule describe_contrasts:
    input:
        config["samples"],
    output:
        report(
            "results/qc/contrasts.tsv",
            caption="../report/contrasts.rst",
            category="Quality control",
        ),
    log:
        "logs/describe_contrasts.log",
    benchmark:
        "results/benchmarks/describe_contrasts.tsv"
    localrule: True
    conda:
        "../../envs/qc.yaml"
    params:
        design=config["design"],
        # the order of the contrasts matters (the first on a variable sets its
        # reference level), the order of each one's keys does not
        contrasts={name: canonical(spec) for name, spec in config["contrasts"].items()},
        categorical=config["categorical_variables"],
        references=DE_FIT_PLAN["reference_levels"],
    script:
        "../scripts/describe_contrasts.py"
