"""Single-cell input through the workflow: cells that sum to a count table give that
table's checked counts, DE tables and sample QC (the later stages read only these)."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from .conftest import result_tables, run_snakemake, write_cohort

pytestmark = pytest.mark.integration
CONTRAST = "responder_vs_non_responder"
TARGETS = [f"results/de/{CONTRAST}.tsv", "results/qc/samples_qc.tsv", "results/dataset.h5ad"]


@pytest.fixture(scope="module")
def bulk_run(small_cohort, tmp_path_factory):
    base = tmp_path_factory.mktemp("bulk")
    config = write_cohort(small_cohort, base / "input")
    run_snakemake(base / "run", config, *TARGETS)
    return base / "run", config


@pytest.fixture(scope="module")
def cells_run(bulk_run, tmp_path_factory):
    """The bulk run's cohort as single cells (raw counts in a layer, log data in X)."""
    from msc_response.example.single_cell import cells_from_counts

    base = tmp_path_factory.mktemp("single_cell")
    _, bulk_config = bulk_run
    counts = pd.read_csv(bulk_config["counts"], sep="\t", index_col=0)
    cells = cells_from_counts(counts, cells_per_sample=(30, 60), seed=5, sample_column="donor")
    path = base / "cells.h5ad"
    cells.write_h5ad(path)
    config = {
        **bulk_config,
        "counts": str(path),
        "single_cell": {"layer": "counts", "sample_column": "donor", "min_cells": 20},
    }
    run_snakemake(base / "run", config, *TARGETS)
    return base / "run", cells


def test_cells_give_the_same_tables_as_their_count_table(bulk_run, cells_run):
    bulk, cells = result_tables(bulk_run[0]), result_tables(cells_run[0])
    assert set(bulk) == set(cells)
    assert any(name.startswith("de/") for name in bulk)
    differing = sorted(name for name in bulk if bulk[name] != cells[name])
    # The sample QC table gains the cells behind each profile; nothing else changes.
    assert differing == ["qc/samples_qc.tsv"], differing
    qc_bulk = pd.read_csv(io.BytesIO(bulk["qc/samples_qc.tsv"]), sep="\t")
    qc_cells = pd.read_csv(io.BytesIO(cells["qc/samples_qc.tsv"]), sep="\t")
    pd.testing.assert_frame_equal(qc_cells.drop(columns="n_cells"), qc_bulk)
    expected = cells_run[1].obs["donor"].value_counts()
    assert qc_cells.set_index("sample")["n_cells"].to_dict() == expected.to_dict()


def test_dataset_carries_the_cells_behind_each_sample(bulk_run, cells_run):
    import anndata as ad
    import numpy as np

    bulk = ad.read_h5ad(bulk_run[0] / "results/dataset.h5ad")
    cells = ad.read_h5ad(cells_run[0] / "results/dataset.h5ad")
    np.testing.assert_array_equal(cells.layers["counts"], bulk.layers["counts"])
    assert "single_cell" not in bulk.uns
    expected = cells_run[1].obs["donor"].value_counts().reindex(cells.obs_names)
    assert cells.uns["single_cell"]["n_cells"].tolist() == expected.tolist()
