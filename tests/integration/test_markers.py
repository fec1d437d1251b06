"""The marker stage end to end on a small simulated cohort with one non-MSC sample
planted, and the same run with a contrast that has no significant gene."""

import shutil

import numpy as np
import pandas as pd
import pytest

from ..figure_checks import assert_drawn_png
from .conftest import run_snakemake, write_cohort

pytestmark = pytest.mark.integration

CONTRAST = "responder_vs_non_responder"
SEEDS = ["IL4", "IL6", "CCL4", "CDH1", "PDX1"]
POSITIVE = {"NT5E": 3000, "THY1": 1500, "ENG": 2500}
NEGATIVE = ["PTPRC", "CD34", "CD14", "ITGAM", "CD79A", "CD19", "HLA-DRA"]
BLOOD = {"PTPRC": 4000, "CD34": 300, "CD14": 2500, "ITGAM": 900, "CD79A": 600, "CD19": 200,
         "HLA-DRA": 5000}
FIGURES = ["strip_top", "strip_panel", "heatmap", "panel_dotplot", "volcano_panel", "signature_roc"]


def plant_identity(cohort, non_msc: str, seed: int = 5):
    """MSC-like ISCT marker counts in every sample (positives high, haematopoietic
    markers near zero), and a blood-like profile in sample `non_msc`: its MSC
    markers diluted five-fold, haematopoietic markers clearly expressed."""
    from msc_response.example.biology import load_human_genes

    rng = np.random.default_rng(seed)
    genes = load_human_genes().set_index("symbol")["gene_id"]
    counts = cohort.counts.copy()
    depth = counts.sum(axis=0) / counts.sum(axis=0).median()
    annotation = cohort.annotation.copy()
    wanted = {**POSITIVE, **{s: 0.3 for s in NEGATIVE}}
    for symbol, mean in wanted.items():
        gene = genes[symbol]
        if gene not in counts.index:
            annotation.loc[len(annotation)] = [gene, symbol]
        mu = mean * depth
        if symbol in BLOOD:
            mu[non_msc] = BLOOD[symbol] * depth[non_msc]
        elif symbol in POSITIVE:
            mu[non_msc] = mean * depth[non_msc] / 5
        size = 10.0  # dispersion 0.1
        counts.loc[gene] = rng.negative_binomial(size, size / (size + mu.to_numpy()))
    cohort.counts = counts.sort_index().astype(int)
    cohort.annotation = annotation
    return cohort


@pytest.fixture(scope="module")
def marker_run(tmp_path_factory):
    from msc_response.example.biology import CLEAR_SIGNAL
    from msc_response.example.cohort import simulate_cohort

    # a clear signal: this tests the stage's plumbing; the example cohort its realism
    cohort = simulate_cohort(n_genes=2000, n_samples=30, seed=11, **CLEAR_SIGNAL)
    responders = cohort.samples.loc[cohort.samples["response"] == "responder", "sample"]
    non_msc = responders.iloc[3]
    cohort = plant_identity(cohort, non_msc)
    base = tmp_path_factory.mktemp("markers")
    config = write_cohort(cohort, base / "input")
    # a short signature keeps the test quick; the defaults are exercised elsewhere
    config["markers"] = {"signature": {"repeats": 3, "permutations": 8}}
    workdir = base / "run"
    run_snakemake(workdir, config)
    return cohort, non_msc, workdir, config


def read(workdir, name):
    return pd.read_csv(workdir / "results" / "markers" / name, sep="\t")


def test_identity_flags_the_planted_sample_only(marker_run):
    cohort, non_msc, workdir, _ = marker_run
    identity = read(workdir, "identity.tsv")
    assert list(identity.columns[:5]) == ["sample", "flagged", "reason", "positive_score", "negative_score"]
    assert len(identity) == cohort.counts.shape[1]
    assert identity.loc[identity["flagged"], "sample"].tolist() == [non_msc]
    reason = identity.set_index("sample").loc[non_msc, "reason"]
    assert "haematopoietic" in reason and "PTPRC" in reason


def test_marker_table_and_panel(marker_run):
    cohort, _, workdir, _ = marker_run
    table = read(workdir, f"{CONTRAST}/markers.tsv")
    for column in ["gene_id", "symbol", "direction", "rank", "baseMean", "mean_test",
                   "mean_reference", "log2FoldChange", "log2FoldChange_shrunk", "padj",
                   "frac_expressed_test", "frac_expressed_reference", "auroc", "auroc_ci_low",
                   "auroc_ci_high"]:
        assert column in table.columns
    assert set(table["direction"]) == {"up", "down"} and len(table) <= 100
    # the markers are planted genes, in the planted direction
    truth = cohort.truth.set_index("gene")["true_log2fc"]
    planted = truth.reindex(table["gene_id"]).fillna(0).to_numpy()
    assert (planted != 0).mean() >= 0.9
    assert (np.sign(planted[planted != 0]) == np.where(table["direction"] == "up", 1, -1)[planted != 0]).all()
    up = table[table["direction"] == "up"]
    assert (up["auroc"] > 0.5).all() and (up["mean_test"] > up["mean_reference"]).all()
    assert (up["log2FoldChange_shrunk"].diff().dropna() <= 0).all()  # ranked by effect size
    panel = read(workdir, f"{CONTRAST}/panel.tsv")
    assert set(panel["status"]) <= {"up", "down", "not significant", "low counts", "not in data"}
    untested = panel["status"].isin(["low counts", "not in data"])
    assert panel.loc[untested, ["auroc", "auroc_ci_low", "auroc_ci_high"]].isna().all().all()
    assert panel.loc[~untested, "auroc"].notna().all()
    responders = panel[panel["panel"] == "ALTANER2013_CLI_RESPONDER_UP"].set_index("symbol")
    assert (responders.loc[SEEDS, "status"] == "up").all(), responders["status"]
    # ISCT markers are MSC-like in every sample but one: not different between groups
    isct = panel[panel["panel"] == "ISCT_MSC_POSITIVE_MARKERS"]
    assert (isct["status"] == "not significant").all()


def test_signature_and_figures(marker_run):
    _, _, workdir, _ = marker_run
    perf = read(workdir, f"{CONTRAST}/signature_performance.tsv").iloc[0]
    assert perf["status"] == "ok" and perf["n_test"] + perf["n_reference"] == 30
    assert perf["auroc_mean"] > perf["null_auroc_mean"] + 0.2
    signature = read(workdir, f"{CONTRAST}/signature.tsv")
    assert list(signature.columns[:4]) == ["gene_id", "symbol", "selection_frequency", "mean_coefficient"]
    assert signature["selection_frequency"].between(0, 1).all()
    for figure in FIGURES:
        assert_drawn_png(workdir / f"results/markers/{CONTRAST}/{figure}.png")
    assert (workdir / "results/benchmarks/signature" / f"{CONTRAST}.tsv").exists()


def test_contrast_without_significant_genes(marker_run, tmp_path):
    """No gene passes: header-only marker table, a panel without up/down, figures
    that say so; only the marker jobs rerun."""
    _, _, workdir, config = marker_run
    empty = tmp_path / "empty"
    shutil.copytree(workdir, empty, symlinks=True)
    config = {**config, "markers": {**config["markers"], "padj": 1e-300}}
    result = run_snakemake(empty, config)
    assert "rule deseq2" not in result.stdout + result.stderr
    table = read(empty, f"{CONTRAST}/markers.tsv")
    assert table.empty and "auroc" in table.columns
    panel = read(empty, f"{CONTRAST}/panel.tsv")
    assert not panel["status"].isin(["up", "down"]).any()
    for figure in ["strip_top", "heatmap"]:
        assert_drawn_png(empty / f"results/markers/{CONTRAST}/{figure}.png", min_ink=0.002)
        new = (empty / f"results/markers/{CONTRAST}/{figure}.png").read_bytes()
        assert new != (workdir / f"results/markers/{CONTRAST}/{figure}.png").read_bytes()
