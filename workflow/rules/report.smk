rule report:
    input:
        # every result file the report reads, as msc_response.report.files.ResultFiles names them
        unpack(report_inputs),
    output:
        report(
            "results/report/index.html",
            caption="../report/html_report.rst",
            category="Report",
        ),
    log:
        "logs/report.log",
    benchmark:
        "results/benchmarks/report.tsv"
    # Seconds of work on files already there: on the submit node, not a SLURM job.
    localrule: True
    conda:
        "../../envs/report.yaml"
    params:
        # the resolved config: parameters, methods text and report settings
        config=config,
        stages=report_stages(),
    script:
        "../scripts/report.py"
