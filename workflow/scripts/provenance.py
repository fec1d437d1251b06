"""Write results/provenance.json: versions, config, platform and checksums of the run."""

import logging

from msc_response.common.provenance import (
    input_records,
    output_records,
    pinned_packages,
    provenance,
    tool_versions,
    write_provenance,
)
from msc_response.common.scripting import run


def _first(files):
    return files if isinstance(files, str) else files[0]


def main(snakemake):
    count_files = snakemake.params.count_files
    record = provenance(
        workflow=snakemake.params.version,
        config=snakemake.params.config,
        tools=tool_versions(pinned_packages(snakemake.params.requirements)),
        inputs=input_records(
            None if count_files else _first(snakemake.input.counts),
            snakemake.input.samples,
            snakemake.input.annotation[0] if snakemake.input.annotation else None,
            dict(zip(snakemake.params.gene_set_names, snakemake.input.gene_sets)),
            workflow_dir=snakemake.params.workflow_dir,
            count_files=count_files,
        ),
        outputs=output_records(list(snakemake.input.results)),
    )
    write_provenance(record, snakemake.output[0])
    logging.getLogger("msc_response").info(
        "workflow %s, %d result files recorded",
        record["workflow"]["git_commit"],
        len(record["outputs"]),
    )


run(main, snakemake)
