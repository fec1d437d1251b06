rule design_audit:
    input:
        config["samples"],
    output:
        report(
            "results/qc/design_audit.tsv",
            caption="../report/design_audit.rst",
            category="Quality control",
        ),
        contrasts=report(
            "results/qc/contrasts.tsv",
            caption="../report/contrasts.rst",
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
        contrasts=config["contrasts"],
        categorical=config["categorical_variables"],
        warn_association=config["audit"]["warn_association"],
        references=DE_FIT_PLAN["reference_levels"],
    script:
        "../scripts/design_audit.py"
