"""Per-population analysis (single_cell.group_by): folder names, the plan of which
population is analysed for which contrast, population pseudobulk, and the composition
test across donors (msc_response.inputs.populations, msc_response.qc.composition)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from msc_response.common.errors import InputError
from msc_response.design.contrasts import parse_contrasts
from msc_response.example.single_cell import simulate_population_cohort
from msc_response.inputs.populations import (
    cell_counts,
    folder_names,
    plan_populations,
    read_cell_labels,
    safe_name,
)
from msc_response.inputs.single_cell import SingleCellSpec, pseudobulk
from msc_response.qc.composition import bh, cells_table, composition_test, composition_tests

CONTRASTS = parse_contrasts(
    {"rvn": {"variable": "response", "test": "responder", "reference": "non_responder"}}
)


@pytest.fixture(scope="module")
def cohort():
    return simulate_population_cohort(n_per_group=4, n_genes=200, seed=3)


@pytest.fixture(scope="module")
def cells_file(cohort, tmp_path_factory):
    path = tmp_path_factory.mktemp("populations") / "cells.h5ad"
    cohort.cells.write_h5ad(path)
    return path


@pytest.fixture(scope="module")
def sheet(cohort):
    sheet = cohort.samples.set_index("sample")
    sheet["response"] = pd.Categorical(sheet["response"])
    return sheet


def test_safe_names_are_one_path_component_and_unique():
    assert safe_name("CD34+ / progenitor") == "CD34_progenitor"
    assert safe_name("../etc") == "etc"
    assert safe_name("???") == "population"
    folders = folder_names(["T cells", "T_cells", "t cells", "B"])
    assert folders == {"B": "B", "T cells": "T_cells", "T_cells": "T_cells_2",
                       "t cells": "t_cells_3"}
    assert all("/" not in f for f in folders.values())


def test_labels_are_read_from_obs_without_the_matrix(cells_file, cohort):
    labels = read_cell_labels(cells_file, "donor", "cell_type")
    assert labels["population"].tolist() == cohort.cells.obs["cell_type"].astype(str).tolist()
    counts = cell_counts(labels, ["D01", "D02"])
    assert list(counts.index) == ["D01", "D02"]
    assert counts.to_numpy().sum() == labels["sample"].isin(["D01", "D02"]).sum()


def test_missing_group_by_column_says_which_file_column_and_what_to_do(cells_file):
    with pytest.raises(InputError) as err:
        read_cell_labels(cells_file, "donor", "leiden")
    text = str(err.value)
    assert str(cells_file) in text and "'leiden'" in text and "single_cell.group_by" in text
    assert "'donor'" in text and "'cell_type'" in text and "or to null" in text


def test_a_column_with_one_population_is_refused(cohort, tmp_path):
    cells = cohort.cells.copy()
    cells.obs["tissue"] = "bone_marrow"
    path = tmp_path / "one.h5ad"
    cells.write_h5ad(path)
    with pytest.raises(InputError, match="holds a single population \\('bone_marrow'\\)"):
        read_cell_labels(path, "donor", "tissue")


def test_plan_analyses_shared_populations_and_says_why_not_the_others(cells_file, sheet):
    labels = read_cell_labels(cells_file, "donor", "cell_type")
    plan = plan_populations(labels, sheet, "~ response", CONTRASTS, 20, "cell_type")
    assert [p.name for p in plan.analysed] == ["perivascular", "stromal"]
    table = plan.table().set_index("population")
    only = table.loc["immunoregulatory"]
    assert not only["analysed"] and only["n_reference"] == 0
    assert "at least 2 per side" in only["reason"]
    assert "D02 (0 cells)" in only["samples_left_out"]
    stromal = table.loc["stromal"]
    assert stromal["analysed"] and stromal["reason"] == ""
    assert stromal["cells_test"] + stromal["cells_reference"] == (
        labels["population"] == "stromal"
    ).sum()


def test_a_population_without_replicates_after_min_cells_is_left_out(cells_file, sheet):
    labels = read_cell_labels(cells_file, "donor", "cell_type")
    plan = plan_populations(labels, sheet, "~ response", CONTRASTS, 10_000, "cell_type")
    assert plan.analysed == []
    assert plan.table()["reason"].str.contains("0 responder vs 0 non_responder").all()


def test_population_pseudobulk_sums_only_that_population(cells_file, cohort):
    spec = SingleCellSpec(layer="counts", sample_column="donor", min_cells=1,
                          group_by="cell_type")
    samples = pd.Index(["D01", "D02", "D03"])
    bulk = pseudobulk(cells_file, spec, samples, population="stromal")
    obs = cohort.cells.obs
    keep = (obs["cell_type"] == "stromal").to_numpy() & obs["donor"].isin(samples).to_numpy()
    raw = cohort.cells.layers["counts"][keep]
    expected = pd.DataFrame(raw.toarray()).groupby(obs["donor"].astype(str).to_numpy()[keep]).sum()
    np.testing.assert_array_equal(bulk.counts.to_numpy(), expected.loc[samples].to_numpy().T)
    assert bulk.cells.tolist() == [int((obs["cell_type"][obs["donor"] == s] == "stromal").sum())
                                   for s in samples]


def test_population_below_min_cells_names_the_population(cells_file):
    spec = SingleCellSpec(layer="counts", sample_column="donor", min_cells=20,
                          group_by="cell_type")
    with pytest.raises(InputError, match="cells of population 'immunoregulatory'"):
        pseudobulk(cells_file, spec, pd.Index(["D01", "D02"]), population="immunoregulatory")


def test_bh_matches_the_step_up_rule_and_keeps_nan():
    p = np.array([0.01, 0.04, np.nan, 0.03, 0.5])
    assert np.allclose(bh(p)[[0, 1, 3, 4]], [0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.5])
    assert np.isnan(bh(p)[2])


def test_a_population_only_one_group_has_is_significant_across_donors(cells_file, sheet):
    cells = cell_counts(read_cell_labels(cells_file, "donor", "cell_type"), sheet.index)
    table = composition_test(cells, sheet, "~ response", CONTRASTS[0]).set_index("population")
    only = table.loc["immunoregulatory"]
    assert only["mean_share_reference"] == 0 and only["mean_share_test"] > 0.1
    assert only["padj"] < 0.01 and only["df"] == len(sheet) - 2
    assert only["samples_with_cells_reference"] == 0


def test_composition_p_values_follow_donors_not_cells(sheet):
    """Ten times more cells with the same shares give the same test."""
    rng = np.random.default_rng(1)
    cells = pd.DataFrame(rng.integers(20, 80, (len(sheet), 3)), index=sheet.index,
                         columns=["a", "b", "c"])
    one = composition_test(cells, sheet, "~ response", CONTRASTS[0])
    ten = composition_test(cells * 10, sheet, "~ response", CONTRASTS[0])
    pd.testing.assert_frame_equal(one, ten)


def test_composition_with_a_covariate_and_only_two_level_contrasts(sheet):
    sheet = sheet.copy()
    sheet["batch"] = pd.Categorical(["b1", "b1", "b2", "b2"] * 2)
    cells = pd.DataFrame({"a": [50, 10] * 4, "b": [50, 90] * 4}, index=sheet.index)
    contrasts = parse_contrasts(
        {
            "rvn": {"variable": "response", "test": "responder", "reference": "non_responder"},
            "lrt": {"test": "LRT", "reduced": "~ batch"},
        }
    )
    table = composition_tests(cells, sheet, "~ batch + response", contrasts)
    assert table["contrast"].unique().tolist() == ["rvn"]
    assert (table["df"] == len(sheet) - 3).all()
    long = cells_table(cells, 20)
    assert long.loc[long["n_cells"] < 20, "in_population_de"].eq(False).all()
    assert np.allclose(long.groupby("sample")["share"].sum(), 1)


def test_report_reads_each_population_tree_without_crosscheck_or_power():
    from msc_response.report.files import ResultFiles, Stages

    stages = Stages(collections=["msc_biology"], crosscheck=True, power=["rvn"],
                    populations=[["CD34+ cells", "CD34_cells", ["rvn"]]])
    paths = ResultFiles("results").all(["rvn"], stages)
    population = [p for p in paths if p.startswith("results/populations/")]
    assert "results/populations/CD34_cells/de/rvn.tsv" in population
    assert "results/populations/CD34_cells/markers/rvn/signature.tsv" in population
    assert not any("crosscheck" in p or "power" in p for p in population)
    assert {"results/qc/composition.tsv", "results/qc/populations.tsv"} <= set(paths)
    without = ResultFiles("results").all(["rvn"], Stages(collections=["msc_biology"],
                                                         crosscheck=True, power=["rvn"]))
    assert [p for p in paths if p in without] == without  # the cohort's files, same order
