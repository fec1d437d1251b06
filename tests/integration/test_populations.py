"""Single cells of three populations (simulate_population_cohort, its truth planted)
through the workflow without and with single_cell.group_by, report included: the
planted population-specific genes come back in their own population and not in the
other, the population only responders have is a significant composition shift and is
listed as not analysable, and turning group_by on leaves the analysis of all cells as
it was."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from .conftest import result_tables, run_snakemake

pytestmark = pytest.mark.integration
CONTRAST = "responder_vs_non_responder"
ALPHA = 0.05


@pytest.fixture(scope="module")
def cohort_files(tmp_path_factory):
    from msc_response.example.single_cell import simulate_population_cohort

    base = tmp_path_factory.mktemp("populations")
    cohort = simulate_population_cohort()
    cohort.cells.write_h5ad(base / "cells.h5ad")
    cohort.samples.to_csv(base / "samples.tsv", sep="\t", index=False)
    config = {
        "counts": str(base / "cells.h5ad"),
        "samples": str(base / "samples.tsv"),
        "design": "~ response",
        "contrasts": {
            CONTRAST: {"variable": "response", "test": "responder", "reference": "non_responder"}
        },
        "single_cell": {"layer": "counts", "sample_column": "donor", "min_cells": 20},
        "enrichment": {"collections": {"go_bp": None}},  # msc_biology holds the planted sets
        "markers": {"signature": {"enabled": False}},
    }
    return base, config, cohort.truth.set_index("gene_id")


@pytest.fixture(scope="module")
def runs(cohort_files):
    """The same work folder run without group_by, then with it: (workdir, tables of
    the first run, seconds of each run)."""
    base, config, _ = cohort_files
    workdir = base / "run"
    start = time.monotonic()
    run_snakemake(workdir, config)
    without = time.monotonic() - start
    before = result_tables(workdir)
    report_before = (workdir / "results/report/index.html").read_text()
    grouped = {**config, "single_cell": {**config["single_cell"], "group_by": "cell_type"}}
    start = time.monotonic()
    run_snakemake(workdir, grouped)
    return workdir, before, report_before, (without, time.monotonic() - start)


def called(workdir, population: str) -> set[str]:
    table = pd.read_csv(
        workdir / f"results/populations/{population}/de/{CONTRAST}.tsv", sep="\t", index_col=0
    )
    return set(table.index[table["padj"] < ALPHA])


def test_without_group_by_nothing_per_population(runs):
    _, before, report, seconds = runs
    print(f"runtime without / with group_by: {seconds[0]:.0f} s / {seconds[1]:.0f} s")
    assert not any(name.startswith("populations/") for name in before)
    assert "qc/composition.tsv" not in before
    assert "Cell populations" not in report


def test_group_by_leaves_the_analysis_of_all_cells_as_it_was(runs):
    workdir, before, _, _ = runs
    after = result_tables(workdir)
    assert {k: v for k, v in after.items() if k in before} == before
    added = set(after) - set(before)
    assert {"qc/populations.tsv", "qc/population_cells.tsv", "qc/composition.tsv"} <= added
    assert all(k.startswith(("populations/", "qc/")) for k in added), added


def test_planted_genes_are_found_in_their_own_population_only(runs, cohort_files):
    workdir, *_ = runs
    truth = cohort_files[2]
    for population, other in (("stromal", "perivascular"), ("perivascular", "stromal")):
        planted = set(truth.index[truth["population"] == population])
        elsewhere = set(truth.index[truth["population"] == other])
        calls = called(workdir, population)
        recall = len(calls & planted) / len(planted)
        fdp = len(calls - planted) / max(len(calls), 1)
        print(f"{population}: recall {recall:.2f}, FDP {fdp:.2f}, "
              f"other population's genes called {len(calls & elsewhere)}")
        assert recall >= 0.8 and fdp <= 0.2
        assert len(calls & elsewhere) <= 0.1 * len(elsewhere)
        gsea = pd.read_csv(
            workdir / f"results/populations/{population}/enrichment/{CONTRAST}/msc_biology.gsea.tsv",
            sep="\t",
        )
        planted_set = {"stromal": "MSC_PARACRINE_ANGIOGENIC",
                       "perivascular": "MSC_IMMUNOMODULATION"}[population]
        assert gsea.sort_values("pvalue").iloc[0]["term"] == planted_set


def test_the_responder_only_population_is_a_composition_shift_not_a_de_analysis(runs):
    workdir, *_ = runs
    composition = pd.read_csv(workdir / "results/qc/composition.tsv", sep="\t")
    row = composition.set_index("population").loc["immunoregulatory"]
    print("composition padj:", composition.set_index("population")["padj"].to_dict())
    assert row["padj"] < 0.001 and row["share_difference"] > 0.1
    assert row["samples_with_cells_reference"] == 0
    plan = pd.read_csv(workdir / "results/qc/populations.tsv", sep="\t").set_index("population")
    assert not plan.loc["immunoregulatory", "analysed"]
    assert "at least 2 per side" in plan.loc["immunoregulatory", "reason"]
    assert plan.loc[["stromal", "perivascular"], "analysed"].all()
    assert not (workdir / "results/populations/immunoregulatory").exists()
    cells = pd.read_csv(workdir / "results/qc/population_cells.tsv", sep="\t")
    assert cells.groupby("sample")["share"].sum().round(6).eq(1).all()


def test_report_shows_the_populations_with_their_detail(runs):
    workdir, *_ = runs
    html = (workdir / "results/report/index.html").read_text()
    assert 'id="populations"' in html and 'href="#population-stromal"' in html
    assert 'id="population-stromal"' in html and 'id="population-perivascular"' in html
    assert "immunoregulatory</b>, responder_vs_non_responder: " in html
    assert "responder vs 0 non_responder samples with enough cells" in html
    assert "Phipson" in html
