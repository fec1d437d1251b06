import os
import re
import sys

import yaml
from snakemake.utils import validate

sys.path.insert(0, os.path.join(workflow.basedir, "workflow", "scripts"))

from msc_response.common.config import (  # noqa: E402
    canonical,
    check_config,
    input_settings,
    missing_data_paths,
    replace_merged_keys,
    take_data_paths,
)
from msc_response.common.errors import InputError  # noqa: E402
from msc_response.common.provenance import workflow_version  # noqa: E402
from msc_response.common.tables import writable_problem  # noqa: E402
from msc_response.design.audit import audit_warnings, design_audit  # noqa: E402
from msc_response.design.contrasts import (  # noqa: E402
    contrast_variables,
    parse_contrasts,
)
from msc_response.design.estimable import contrast_weights  # noqa: E402
from msc_response.design.plan import fit_plan, fit_stage  # noqa: E402
from msc_response.enrichment.gene_sets import (  # noqa: E402
    active_collections,
    check_enrichment_settings,
    resolve_path,
)
from msc_response.inputs.count_files import FORMAT_NAMES, sample_paths  # noqa: E402
from msc_response.inputs.populations import (  # noqa: E402
    plan_from_config,
    population_fits,
)
from msc_response.inputs.quant_settings import (  # noqa: E402
    check_offsets_settings,
    check_settings as check_quant_config,
    quant_paths,
)
from msc_response.inputs.readers import require_file  # noqa: E402
from msc_response.inputs.validation import check_sheet  # noqa: E402
from msc_response.markers.config import check_marker_config  # noqa: E402
from msc_response.power.config import current_sizes, power_contrasts  # noqa: E402
from msc_response.report.files import ResultFiles, Stages, runs  # noqa: E402


def stop_with(message):
    """End the run with `message` alone on the terminal: a user's mistake is no crash,
    so no Python traceback and no Snakemake file/line preamble."""
    logger.error(message)
    sys.exit(1)


# A --configfile is merged into config/config.yaml key by key; the data paths and
# the contrasts must come from the user's file alone, or the example's files and
# contrast would leak into their run (see config/README.md).
USER_CONFIG = workflow.config_settings.overwrite_config
take_data_paths(config, USER_CONFIG, workflow.config_settings.configfiles)
replace_merged_keys(config, USER_CONFIG, ["contrasts"])

# A results or logs folder the machine will not let us write (no permission, a
# read-only file system) stops the run now, not in the middle of it.
for _folder in ("results", "logs"):
    _problem = writable_problem(_folder)
    if _problem:
        stop_with(str(_problem))

# Parse-time checks: config, sample sheet, contrasts and design, before any job runs.
# Problems of the design's structure (not full rank, no residual df, a level without
# replicates) are reported here and stop the run in rule check_inputs, after rule
# design_audit has written results/qc/design_audit.tsv to explain them.
try:
    _missing = missing_data_paths(config, workflow.config_settings.configfiles)
    if _missing:
        raise InputError(_missing)
    with open(
        os.path.join(workflow.basedir, "workflow", "schemas", "config.schema.yaml")
    ) as f:
        check_config(config, yaml.safe_load(f))
    validate(config, schema="../schemas/config.schema.yaml")  # fills in defaults
    if config.get("counts"):
        require_file(config["counts"], "Counts")
    if config.get("annotation"):
        require_file(config["annotation"], "Annotation")
    SHEET = check_sheet(
        config["samples"],
        config["design"],
        config["contrasts"],
        tuple(config["categorical_variables"]),
    )
    # Gene-set collections: every GMT read and checked line by line (name -> path).
    COLLECTIONS = (
        check_enrichment_settings(config, workflow.basedir)
        if config["enrichment"]["enabled"]
        else {}
    )
    # One count file per sample: each named file must exist.
    COUNT_FILES = (
        sample_paths(
            SHEET.sheet,
            config["count_files"]["column"],
            config["samples"],
            FORMAT_NAMES[config["count_files"]["format"]],
        )
        if config.get("count_files")
        else {}
    )
    # Transcript quantifications: the block's settings, and each sample's file.
    QUANT_FILES = {}
    if config.get("quantifications"):
        _quant_spec = check_quant_config(config["quantifications"])
        check_offsets_settings(_quant_spec, config)
        QUANT_FILES = quant_paths(SHEET.sheet, _quant_spec, config["samples"])
except InputError as err:
    stop_with(f"Invalid input: {err}")
SAMPLES = SHEET.sheet
validate(SAMPLES, schema="../schemas/samples.schema.yaml")
PARSED_CONTRASTS = parse_contrasts(config["contrasts"])
CONTRAST_VARIABLES = contrast_variables(PARSED_CONTRASTS, config["design"])
for _warning in SHEET.warnings + audit_warnings(
    design_audit(
        SAMPLES,
        config["design"],
        CONTRAST_VARIABLES,
        config["audit"]["warn_association"],
    )
):
    logger.warning(f"Warning: {_warning}")
for _problem in SHEET.design_problems:
    logger.error(
        f"Invalid design: {_problem}\nThe run writes results/qc/design_audit.tsv and "
        f"stops at rule check_inputs, before the counts are read."
    )

CONTRASTS = list(config["contrasts"])


def contrast_spec(wildcards):
    """The contrast's config entry as a rule's params (keys sorted)."""
    return canonical(config["contrasts"][wildcards.contrast])


# Each contrast's kind (wald, within, continuous, lrt): which later stages run for it
# (msc_response.report.files.KIND_STAGES).
CONTRAST_KINDS = {c.name: c.kind for c in PARSED_CONTRASTS}


def contrasts_with(stage):
    """The contrasts for whose kind `stage` runs."""
    return [name for name in CONTRASTS if runs(CONTRAST_KINDS[name], stage)]


ENRICHMENT_COLLECTIONS = {
    name: spec
    for name, spec in active_collections(config["enrichment"]).items()
    if name in COLLECTIONS
}
ENRICHMENT_PAIRS = [
    [contrast, collection]
    for contrast in contrasts_with("enrichment")
    for collection in COLLECTIONS
]
DE_FIT_PLAN = fit_plan(
    SAMPLES,
    PARSED_CONTRASTS,
    config["diffexp"]["prefilter"]["min_samples"],
    config["design"],
)
# Within-level and continuous contrasts as weights on the fit's coefficients, by name
# (msc_response.design.estimable), with the fit's reference levels.
try:
    CONTRAST_WEIGHTS = {
        c.name: contrast_weights(
            SAMPLES, config["design"], c, DE_FIT_PLAN["reference_levels"]
        )
        for c in PARSED_CONTRASTS
        if c.kind in ("within", "continuous")
    }
except InputError as err:
    stop_with(f"Invalid input: {err}")

# Marker stage: the panel's GMT file and every set the config names, checked now.
try:
    MARKERS = check_marker_config(config["markers"], workflow.basedir)
except InputError as err:
    stop_with(f"Invalid input: {err}")


# Per-population analysis (issue 24): with single_cell.group_by, the populations of
# the cells file (two obs columns read, not the matrix) and the contrasts each one
# has enough samples for, so the DAG is known now, without a checkpoint.
try:
    POPULATIONS = plan_from_config(config, SAMPLES, PARSED_CONTRASTS)
    POPULATION_FITS = (
        population_fits(
            POPULATIONS,
            SAMPLES,
            PARSED_CONTRASTS,
            config["design"],
            config["diffexp"]["prefilter"]["min_samples"],
        )
        if POPULATIONS
        else {}
    )
except InputError as err:
    stop_with(f"Invalid input: {err}")


# Power stage (issue 22): the two-level contrasts, when power.enabled.
POWER_CONTRASTS = power_contrasts(config)


def current_group_sizes(contrast):
    """[n_test, n_reference] of a contrast in the sample sheet."""
    return current_sizes(SAMPLES, config["contrasts"][contrast])


def marker_gmt_input():
    return [MARKERS.gmt] if MARKERS.gmt else []


def marker_alpha():
    """markers.padj, or the DE cut-off when it is null."""
    padj = config["markers"]["padj"]
    return config["diffexp"]["alpha"] if padj is None else padj


wildcard_constraints:
    contrast="|".join(CONTRASTS),
    collection="|".join(COLLECTIONS) or "no-collection",
    population="|".join(map(re.escape, POPULATION_FITS)) or "no-population",


def counts_input():
    """The files the counts are read from: the count table, or each sample's file."""
    if COUNT_FILES:
        return [str(path) for path in COUNT_FILES.values()]
    if QUANT_FILES:
        tx2gene = config["quantifications"].get("tx2gene")
        return [str(path) for path in QUANT_FILES.values()] + (
            [tx2gene] if tx2gene else []
        )
    return [config["counts"]]


def per_sample_inputs():
    """Name -> path of each per-sample input file (count files or quantifications,
    and the tx2gene table), for the provenance record; empty with a count table."""
    files = {
        sample: str(path) for sample, path in {**COUNT_FILES, **QUANT_FILES}.items()
    }
    if QUANT_FILES and config["quantifications"].get("tx2gene"):
        files["tx2gene"] = config["quantifications"]["tx2gene"]
    return files


def annotation_input():
    return [config["annotation"]] if config.get("annotation") else []


def fallback_symbols_input():
    path = config["enrichment"]["fallback_symbols"]
    return [str(resolve_path(path, workflow.basedir))] if path else []


def enrichment_tables(kind):
    """One file per contrast x collection, in ENRICHMENT_PAIRS order."""
    return [
        f"results/enrichment/{contrast}/{collection}.{kind}.tsv"
        for contrast, collection in ENRICHMENT_PAIRS
    ]


def enrichment_outputs(kind, caption=None, suffix="tsv", root="results"):
    """Outputs of rules enrichment and enrichment_plots (one job per contrast): one
    file of `kind` per collection, in ENRICHMENT_COLLECTIONS order, under `root` (a
    population's tree has its own; those are not in `snakemake --report`)."""
    paths = [
        f"{root}/enrichment/{{contrast}}/{collection}.{kind}.{suffix}"
        for collection in ENRICHMENT_COLLECTIONS
    ]
    if caption is None:
        return paths
    options = dict(
        caption=caption, category="Pathway enrichment", subcategory="{contrast}"
    )
    return [report(path, **options) for path in paths]


def report_stages():
    """What the report reads beyond the fixed stages (msc_response.report.files.Stages)."""
    stages = {
        "collections": list(COLLECTIONS),
        "signature": config["markers"]["signature"]["enabled"],
        "crosscheck": config["crosscheck_r"]["enabled"],
        "power": POWER_CONTRASTS,
    }
    kinds = {n: k for n, k in CONTRAST_KINDS.items() if k != "wald"}
    if kinds:  # only then, so the report rule's params of other runs are unchanged
        stages["kinds"] = kinds
    if POPULATIONS:
        stages["populations"] = [
            [p.name, p.folder, p.contrasts] for p in POPULATIONS.analysed
        ]
    return stages


def report_inputs(wildcards):
    """What the report reads, as inputs of its rule: the sample sheet, and the results
    that msc_response.report.files.ResultFiles names (the paths the stages write)."""
    files = ResultFiles("results")
    return {
        "samples": config["samples"],
        "provenance": files.provenance,
        "results": files.all(CONTRASTS, Stages(**report_stages())),
    }


def all_outputs():
    outputs = [
        "results/qc/design_audit.tsv",
        "results/qc/contrasts.tsv",
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
        outputs += expand(
            "results/crosscheck/{contrast}.tsv", contrast=contrasts_with("crosscheck")
        )
    # Marker stage (issue 9)
    outputs.append("results/markers/identity.tsv")
    outputs += expand(
        [
            "results/markers/{contrast}/markers.tsv",
            "results/markers/{contrast}/panel.tsv",
            "results/markers/{contrast}/strip_top.png",
            "results/markers/{contrast}/strip_panel.png",
            "results/markers/{contrast}/heatmap.png",
            "results/markers/{contrast}/panel_dotplot.png",
            "results/markers/{contrast}/volcano_panel.png",
        ],
        contrast=contrasts_with("markers"),
    )
    outputs += expand(
        [
            "results/markers/{contrast}/markers.tsv",
            "results/markers/{contrast}/expression.png",
        ],
        contrast=contrasts_with("kind_markers"),
    )
    if config["markers"]["signature"]["enabled"]:
        outputs += expand(
            [
                "results/markers/{contrast}/signature.tsv",
                "results/markers/{contrast}/signature_performance.tsv",
                "results/markers/{contrast}/signature_roc.png",
            ],
            contrast=contrasts_with("signature"),
        )
    if ENRICHMENT_PAIRS:
        outputs += [
            f"results/enrichment/{contrast}/{collection}.{kind}"
            for contrast, collection in ENRICHMENT_PAIRS
            for kind in (
                "gsea.tsv",
                "ora_up.tsv",
                "ora_down.tsv",
                "sets.tsv",
                "dotplot.png",
                "gsea_top.png",
            )
            # an LRT has no GSEA, so no GSEA figures
            if CONTRAST_KINDS[contrast] != "lrt" or not kind.endswith(".png")
        ]
        outputs.append("results/enrichment/summary.tsv")
    # Power stage (issue 22)
    outputs += expand(
        ["results/power/{contrast}.tsv", "results/power/{contrast}.png"],
        contrast=POWER_CONTRASTS,
    )
    # Cell populations (issue 24): one result tree per population of group_by.
    outputs += population_outputs()
    # How the run was made, with the checksums of the results above (rule provenance).
    outputs.append("results/provenance.json")
    # The HTML report, from all of the above (rule report, the last one).
    outputs.append("results/report/index.html")
    return outputs


def population_input(wildcards):
    """The check_inputs parameter of a population: its name and samples."""
    return POPULATION_FITS[wildcards.population]["inputs"]


def population_outputs():
    """With single_cell.group_by: the populations table, the composition test, and
    each analysed population's DE, enrichment and markers (as the report reads them)."""
    if not POPULATIONS:
        return []
    files = ResultFiles("results")
    stages = Stages(**report_stages())
    outputs = list(files.composition().values())
    for population in POPULATIONS.analysed:
        for contrast in population.contrasts:
            outputs += files.population(population.folder).contrast_files(
                contrast, stages, crosscheck=False
            )
    return outputs


def gene_set_files():
    """Name -> GMT path of every gene-set file the run uses: the enrichment
    collections, and the marker panel's file."""
    files = {name: str(path) for name, path in sorted(COLLECTIONS.items())}
    if MARKERS.gmt:
        files["markers.panel_gmt"] = MARKERS.gmt
    return files


def provenance_results():
    """The run's results, and the tables written next to them, except those made
    from the provenance record itself."""
    results = [
        path
        for path in all_outputs()
        if not path.startswith(("results/provenance.json", "results/report/"))
    ]
    results += [
        "results/counts/normalised_counts.tsv.gz",
        "results/counts/vst.tsv.gz",
        "results/qc/size_factors.tsv",
    ]
    results += expand("results/de/{contrast}.size_factors.tsv", contrast=CONTRASTS)
    return sorted(set(results))
