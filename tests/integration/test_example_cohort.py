"""The default configuration on the shipped example cohort recovers the planted truth
(the foundation issue's acceptance figures)."""

from pathlib import Path

import pandas as pd
import pytest
import yaml

from .conftest import ROOT, run_snakemake

pytestmark = pytest.mark.integration

EXAMPLE = ROOT / "resources" / "example"
SEEDS = ["IL4", "IL6", "CCL4", "CDH1", "PDX1"]


def absolute(path: str) -> str:
    return str((ROOT / path).resolve())


@pytest.fixture(scope="module")
def example_run(tmp_path_factory):
    defaults = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config = {key: absolute(defaults[key]) for key in ("counts", "samples", "annotation")}
    workdir = tmp_path_factory.mktemp("example")
    run_snakemake(
        workdir, config, "results/de/responder_vs_non_responder.tsv", "results/qc/samples_qc.tsv"
    )
    return workdir


def test_default_sample_sheet_is_the_example_cohort():
    assert (ROOT / "config/samples.tsv").read_bytes() == (EXAMPLE / "samples.tsv").read_bytes()


def test_planted_truth_recovered(example_run: Path):
    table = pd.read_csv(example_run / "results/de/responder_vs_non_responder.tsv", sep="\t")
    truth = pd.read_csv(EXAMPLE / "truth.tsv", sep="\t").set_index("gene")["true_log2fc"]
    called = set(table.loc[table["padj"] < 0.05, "gene_id"])
    strong = set(truth.index[truth.abs() >= 1])
    null = set(truth.index[truth == 0])
    recall = len(called & strong) / len(strong)
    fdp = len(called & null) / len(called)
    assert recall >= 0.8, f"recall {recall:.3f}"
    assert fdp <= 0.1, f"false discovery proportion {fdp:.3f}"
    seeds = table.set_index("symbol").loc[SEEDS]
    assert (seeds["padj"] < 0.05).all(), seeds[["log2FoldChange", "padj"]]
    assert (seeds["log2FoldChange"] > 0).all()


def test_no_tissue_source_group_flagged(example_run: Path):
    """Sources may differ a lot (they should dominate PC1), yet a whole source group is
    never flagged; a few poor samples may be."""
    qc = pd.read_csv(example_run / "results/qc/samples_qc.tsv", sep="\t")
    sheet = pd.read_csv(ROOT / "config/samples.tsv", sep="\t")
    flags = qc.merge(sheet, on="sample")
    for source, group in flags.groupby("source"):
        assert (group["flag"] == "ok").any(), f"every {source} sample flagged"
    outliers = flags.loc[flags["flag"] == "outlier"]
    assert len(outliers) <= 0.1 * len(flags), outliers[["sample", "source", "flag_reason"]]
