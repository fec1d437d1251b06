"""The HTML report, results/report/index.html, from the workflow's result files."""

from pathlib import Path

from msc_response import report
from msc_response.io import read_sample_sheet
from msc_response.scripting import run


def main(snakemake):
    config = snakemake.params.config
    stages = report.Stages(**snakemake.params.stages)
    files = report.ResultFiles(str(Path(snakemake.input.provenance).parent))
    # The rule's inputs come from the same ResultFiles: reading a file the rule did not
    # declare would let the report run before the stage that writes it.
    undeclared = set(files.all(config["contrasts"], stages)) - set(snakemake.input)
    if undeclared:
        raise RuntimeError(f"report reads files its rule does not declare: {sorted(undeclared)}")
    sheet = read_sample_sheet(snakemake.input.samples)
    report.write_report(files, sheet, config, snakemake.output[0], stages)


run(main, snakemake)
