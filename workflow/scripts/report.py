"""The HTML report, results/report/index.html, from the workflow's result files."""

from pathlib import Path

from msc_response.common.scripting import run
from msc_response.inputs.readers import read_sample_sheet
from msc_response.report.files import ResultFiles, Stages
from msc_response.report.render import write_report


def main(snakemake):
    config = snakemake.params.config
    stages = Stages(**snakemake.params.stages)
    files = ResultFiles(str(Path(snakemake.input.provenance).parent))
    # The rule's inputs come from the same ResultFiles: reading a file the rule did not
    # declare would let the report run before the stage that writes it.
    undeclared = set(files.all(config["contrasts"], stages)) - set(snakemake.input)
    if undeclared:
        raise RuntimeError(f"report reads files its rule does not declare: {sorted(undeclared)}")
    sheet = read_sample_sheet(snakemake.input.samples)
    write_report(files, sheet, config, snakemake.output[0], stages)


run(main, snakemake)
