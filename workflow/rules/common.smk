import os
import sys

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

sys.path.insert(0, os.path.join(workflow.basedir, "workflow", "scripts"))

from msc_response.config import replace_merged_keys  # noqa: E402
from msc_response.dataset import InputSpec, check_sheet_and_design  # noqa: E402
from msc_response.errors import InputError  # noqa: E402

# A --configfile is merged into config/config.yaml key by key; contrasts must come
# from the user's file alone, or the example's contrast would leak into their run.
replace_merged_keys(config, workflow.config_settings.overwrite_config, ["contrasts"])
validate(config, schema="../schemas/config.schema.yaml")

try:
    SAMPLES, SAMPLE_WARNINGS = check_sheet_and_design(InputSpec.from_config(config))
except InputError as err:
    raise WorkflowError(f"Invalid input: {err}") from None
validate(SAMPLES, schema="../schemas/samples.schema.yaml")
for _warning in SAMPLE_WARNINGS:
    logger.warning(f"Warning: {_warning}")

CONTRASTS = list(config["contrasts"])


wildcard_constraints:
    contrast="|".join(CONTRASTS),


def annotation_input():
    return [config["annotation"]] if config.get("annotation") else []


def all_outputs():
    outputs = [
        "results/dataset.h5ad",
        "results/qc/samples_qc.tsv",
        "results/qc/library_sizes.png",
        "results/qc/pca.png",
        "results/qc/sample_distances.png",
    ]
    outputs += expand(
        [
            "results/de/{contrast}.tsv",
            "results/de/{contrast}.summary.tsv",
            "results/de/{contrast}.ma.png",
            "results/de/{contrast}.volcano.png",
        ],
        contrast=CONTRASTS,
    )
    if config["crosscheck_r"]["enabled"]:
        outputs += expand("results/crosscheck/{contrast}.tsv", contrast=CONTRASTS)
    return outputs
