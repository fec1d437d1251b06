"""Every contrast kind through every stage, with the report: the design and contrasts
of the shipped `config/examples/designs.yaml` (an LRT of the tissue source, the
response effect within bone marrow and within Wharton's jelly through an interaction,
and the continuous endpoint abi_change) on a small simulated cohort with the same
planted structure.

Checks what each stage did for each kind (tables, figures, the report's words), how
much of the planted truth each kind recovers (`msc_response.example.recovery`, as the
README's figures for the full example), and that a contrast the design cannot
estimate stops the run before any job with the coefficients listed.
"""

import pandas as pd
import pytest
import yaml

from msc_response.example.recovery import planted, recovery

from .conftest import ROOT, run_snakemake, write_cohort

pytestmark = pytest.mark.integration

DESIGNS = yaml.safe_load((ROOT / "config" / "examples" / "designs.yaml").read_text())
DESIGN, CONTRASTS = DESIGNS["design"], DESIGNS["contrasts"]

# Bounds on recall / false discovery proportion per contrast on the small cohort
# (measured: see test_each_kind_recovers_the_planted_truth). Two non-responders per
# source make the interaction contrasts noisy; a wrong truth or a broken kind gives a
# recall near 0 and a proportion near 1.
BOUNDS = {
    "any_source_effect": {"recall": 0.6, "fdp": 0.2},
    "response_in_bm": {"recall": 0.15, "fdp": 0.3},
    "response_in_wj": {"recall": 0.12, "fdp": 0.25},
    "abi_change": {"recall": 0.3, "fdp": 0.1},
}


@pytest.fixture(scope="module")
def kinds_cohort():
    from msc_response.example.biology import CLEAR_SIGNAL
    from msc_response.example.cohort import simulate_cohort

    # the clear-signal cohort of the other workflow tests, with one donor factor:
    # the one the continuous endpoint abi_change measures
    return simulate_cohort(n_genes=3000, n_samples=24, seed=7,
                           **{**CLEAR_SIGNAL, "n_donor_factors": 1})


@pytest.fixture(scope="module")
def kinds_run(kinds_cohort, tmp_path_factory):
    base = tmp_path_factory.mktemp("kinds")
    config = write_cohort(kinds_cohort, base / "input")
    config.update(
        design=DESIGN,
        contrasts=CONTRASTS,
        # one small collection and a short signature keep the run quick
        enrichment={"collections": {"go_bp": None}},
        markers={"signature": {"repeats": 2, "permutations": 4, "min_per_group": 2,
                               "outer_folds": 2, "inner_folds": 2}},
    )
    run_snakemake(base / "run", config)
    return base / "run", kinds_cohort


def read(workdir, path):
    return pd.read_csv(workdir / "results" / path, sep="\t")


def test_each_kind_says_what_it_estimates(kinds_run):
    workdir, _ = kinds_run
    described = read(workdir, "qc/contrasts.tsv").set_index("contrast")
    lrt = described.loc["any_source_effect"]
    assert lrt["kind"] == "lrt" and lrt["df"] == 4
    assert described.loc["response_in_bm", "coefficients"] == (
        "response[T.responder] + source[T.bone_marrow]:response[T.responder]")
    assert described.loc["abi_change", "coefficients"] == "abi_change"


def test_each_kind_recovers_the_planted_truth(kinds_run):
    """Recall and false discovery proportion (padj < 0.05) of each kind against the
    cohort's truth (`example.recovery`, as the README's figures for the full
    example). Measured on this cohort (24 samples, December 2026): source LRT 0.69 /
    0.13 (272 called), response in bone marrow 0.23 / 0.21 (34), in Wharton's jelly
    0.18 / 0.13 (24), abi_change 0.41 / 0.04 (259)."""
    workdir, cohort = kinds_run
    found = {}
    for name, contrast in CONTRASTS.items():
        table = read(workdir, f"de/{name}.tsv")
        found[name] = recovery(table, planted(cohort.truth, contrast, DESIGN))
    for name, bound in BOUNDS.items():
        assert found[name]["recall"] >= bound["recall"], (name, found[name])
        assert found[name]["fdp"] <= bound["fdp"], (name, found[name])


def test_lrt_statistics_are_non_negative(kinds_run):
    workdir, _ = kinds_run
    table = read(workdir, "de/any_source_effect.tsv").set_index("gene_id")
    # a negative statistic means the full model's fit is not at its optimum (genes
    # with dispersions at the upper bound); R DESeq2 reports such statistics as they
    # are too (p-value 1)
    stat = table["stat"].dropna()
    assert (stat > -1e-6).mean() > 0.995
    assert (table.loc[stat.index[stat < 0], "pvalue"] == 1).all()


def test_later_stages_per_kind(kinds_run):
    workdir, _ = kinds_run
    results = workdir / "results"
    # enrichment: an LRT gets ORA of its significant genes only, no GSEA figures
    assert read(workdir, "enrichment/any_source_effect/msc_biology.gsea.tsv").empty
    assert read(workdir, "enrichment/any_source_effect/msc_biology.ora_down.tsv").empty
    assert not (results / "enrichment/any_source_effect/msc_biology.dotplot.png").exists()
    for name in ("abi_change", "response_in_bm"):
        assert (results / f"enrichment/{name}/msc_biology.dotplot.png").stat().st_size > 0
    # markers: AUROC tables on the within-level samples; per-level means for the LRT;
    # Spearman for the continuous variable
    lrt = read(workdir, "markers/any_source_effect/markers.tsv")
    assert {"mean_adipose", "mean_bone_marrow", "mean_wharton_jelly"} <= set(lrt.columns)
    continuous = read(workdir, "markers/abi_change/markers.tsv")
    assert {"spearman", "spearman_ci_low", "spearman_ci_high"} <= set(continuous.columns)
    within = read(workdir, "markers/response_in_bm/markers.tsv")
    assert "auroc" in within.columns
    performance = read(workdir, "markers/response_in_bm/signature_performance.tsv").iloc[0]
    assert performance["n_test"] + performance["n_reference"] == 8  # bone marrow only
    # the signature runs for two-level contrasts only; no R cross-check rule for them
    assert not (results / "markers/any_source_effect/signature.tsv").exists()
    assert not (results / "markers/abi_change/signature.tsv").exists()
    html = (results / "report/index.html").read_text()
    assert "A likelihood-ratio test of the design" in html
    assert "Over-representation among the significant genes" in html
    assert "log2 fold changes are per unit of abi_change" in html
    # the gene tables say what their columns are for each kind
    assert ">LR stat<" in html and ">log2 FC (last coef.)<" in html
    assert ">log2 FC per unit<" in html
    assert "runs for two-level contrasts only" in html


def test_a_contrast_the_design_cannot_estimate_stops_before_any_job(kinds_cohort, tmp_path):
    config = write_cohort(kinds_cohort, tmp_path / "input")
    config.update(design="~ batch + source + response",
                  contrasts={"wj": CONTRASTS["response_in_bm"]})
    result = run_snakemake(tmp_path / "run", config, check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "needs an interaction of 'response' with 'source'" in output
    assert "estimates these coefficients: 'Intercept'" in output
    assert "Traceback" not in output
    assert not (tmp_path / "run" / "results").exists()
