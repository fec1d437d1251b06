from msc_response.report import ResultFiles  # noqa: E402

REPORT_FILES = ResultFiles("results")


def report_inputs(wildcards):
    """Every result file the report reads (ResultFiles names them, as the contracts do)."""
    collections = list(config.get("enrichment", {}).get("collections", {}))
    return {
        "samples": config["samples"],
        "results": REPORT_FILES.all(
            CONTRASTS, collections, config["crosscheck_r"]["enabled"]
        ),
    }


rule report:
    input:
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
    conda:
        "../../envs/report.yaml"
    params:
        results=REPORT_FILES.root,
        # the resolved config: parameters, methods text and report settings
        config=config,
    script:
        "../scripts/report.py"
