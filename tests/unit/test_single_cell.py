"""Single-cell input: pseudobulk sums, checks and messages (msc_response.inputs.single_cell)."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from msc_response.common.errors import InputError
from msc_response.example.single_cell import cells_from_counts
from msc_response.inputs import single_cell
from msc_response.inputs.single_cell import SingleCellSpec, pseudobulk

SAMPLES = pd.Index(["S1", "S2", "S3", "S4"])


@pytest.fixture(scope="module")
def bulk():
    rng = np.random.default_rng(3)
    counts = rng.negative_binomial(2, 0.02, size=(60, len(SAMPLES)))
    counts[5] = 0  # a gene without reads
    return pd.DataFrame(
        counts, index=[f"G{i}" for i in range(60)], columns=SAMPLES
    )


@pytest.fixture(scope="module")
def cells(bulk):
    return cells_from_counts(bulk, cells_per_sample=(25, 40), seed=2)


def write(adata, tmp_path, name="cells.h5ad"):
    path = tmp_path / name
    adata.write_h5ad(path)
    return path


SPEC = SingleCellSpec(layer="counts", sample_column="donor", min_cells=20)


def test_simulated_cells_sum_to_the_bulk_table(bulk, cells):
    sums = pd.DataFrame(cells.layers["counts"].toarray(), columns=cells.var_names)
    by_sample = sums.groupby(cells.obs["donor"].to_numpy()).sum().T
    pd.testing.assert_frame_equal(
        by_sample[SAMPLES].astype(np.int64), bulk.astype(np.int64), check_names=False
    )


@pytest.mark.parametrize("layout", ["csr", "csc", "dense"])
def test_pseudobulk_is_the_sum_of_each_samples_cells(bulk, cells, tmp_path, monkeypatch, layout):
    # blocks smaller than the data, so that sums run across block boundaries
    monkeypatch.setattr(single_cell, "BLOCK", 17)
    adata = cells.copy()
    raw = adata.layers["counts"]
    adata.layers["counts"] = {"csr": raw.tocsr(), "csc": raw.tocsc(), "dense": raw.toarray()}[layout]
    # cells of one sample spread over the file, not in one run
    order = np.random.default_rng(0).permutation(adata.n_obs)
    result = pseudobulk(write(adata[order].copy(), tmp_path), SPEC, SAMPLES)
    pd.testing.assert_frame_equal(result.counts, bulk.astype(np.int64), check_names=False)
    assert result.counts.dtypes.eq(np.int64).all()
    expected_cells = cells.obs["donor"].value_counts().reindex(SAMPLES)
    assert result.cells.tolist() == expected_cells.tolist()


def test_symbols_from_var_and_sample_order_of_the_sheet(cells, tmp_path):
    adata = cells.copy()
    adata.var["gene_symbols"] = [f"SYM{i}" for i in range(adata.n_vars)]
    order = pd.Index(["S3", "S1", "S4", "S2"])
    result = pseudobulk(write(adata, tmp_path), SPEC, order)
    assert list(result.counts.columns) == list(order)
    assert result.symbols.iloc[7] == "SYM7"


def test_cells_of_samples_outside_the_sheet_are_left_out(bulk, cells, tmp_path, caplog):
    result = pseudobulk(write(cells, tmp_path), SPEC, SAMPLES[:3])
    pd.testing.assert_frame_equal(
        result.counts, bulk[SAMPLES[:3]].astype(np.int64), check_names=False
    )
    assert "'S4'" in caplog.text and "left out" in caplog.text


def message(path, spec=SPEC, samples=SAMPLES) -> str:
    with pytest.raises(InputError) as err:
        pseudobulk(path, spec, samples)
    return str(err.value)


def test_log_data_in_the_chosen_matrix_says_where_raw_counts_live(cells, tmp_path):
    text = message(write(cells, tmp_path), SingleCellSpec(layer=None, sample_column="donor"))
    assert ".X holds the value" in text and "not a whole number" in text
    assert "layers['counts']" in text and ".raw.X" in text


def test_negative_value_is_named_with_its_cell_and_gene(cells, tmp_path):
    adata = cells.copy()
    raw = adata.layers["counts"].toarray()
    raw[30, 4] = -2
    adata.layers["counts"] = sp.csr_matrix(raw)
    text = message(write(adata, tmp_path))
    assert "-2" in text and "cell 30, gene 4" in text


def test_missing_sample_column_lists_the_obs_columns(cells, tmp_path):
    text = message(write(cells, tmp_path), SingleCellSpec(layer="counts", sample_column="patient"))
    assert "no obs column 'patient'" in text and "'donor'" in text and "'population'" in text


def test_sheet_sample_without_cells(cells, tmp_path):
    text = message(write(cells, tmp_path), samples=pd.Index([*SAMPLES, "S9"]))
    assert "'S9'" in text and "no cells" in text


def test_no_sample_of_the_sheet_in_the_column(cells, tmp_path):
    text = message(write(cells, tmp_path), SingleCellSpec(layer="counts", sample_column="population"))
    assert "none of the samples" in text and "right column" in text


def test_too_few_cells(cells, tmp_path):
    text = message(write(cells, tmp_path), SingleCellSpec(layer="counts", sample_column="donor", min_cells=200))
    assert "fewer than single_cell.min_cells = 200" in text


def test_missing_layer_lists_the_layers(cells, tmp_path):
    text = message(write(cells, tmp_path), SingleCellSpec(layer="raw_counts", sample_column="donor"))
    assert "no layer 'raw_counts'" in text and "'counts'" in text


def test_hdf5_file_that_is_not_anndata(tmp_path):
    path = tmp_path / "matrix.h5"
    with h5py.File(path, "w") as handle:
        handle["matrix"] = np.zeros((3, 3))
    assert "not an AnnData" in message(path)


def test_not_hdf5_at_all(tmp_path):
    path = tmp_path / "cells.h5ad"
    path.write_text("gene\tS1\n")
    assert "could not be opened as an .h5ad" in message(path)


def test_sparse_matrix_in_an_unexpected_format(cells, tmp_path):
    path = write(cells, tmp_path)
    with h5py.File(path, "r+") as handle:
        handle["layers/counts"].attrs["encoding-type"] = "coo_matrix"
    text = message(path)
    assert "stored as 'coo_matrix'" in text and "csr_matrix" in text


def test_counts_file_in_hdf5_without_single_cell_block_says_what_to_add(cells, tmp_path):
    from msc_response.inputs.readers import read_counts

    with pytest.raises(InputError, match="add a 'single_cell:' block"):
        read_counts(write(cells, tmp_path))


def test_checked_inputs_from_cells_equal_those_of_the_bulk_table(bulk, cells, tmp_path):
    from msc_response.inputs.dataset import InputSpec, load_checked_inputs

    sheet = pd.DataFrame({"sample": SAMPLES, "group": ["a", "b", "a", "b"]})
    sheet.to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
    bulk.rename_axis("gene_id").to_csv(tmp_path / "counts.tsv", sep="\t")
    common = dict(samples=str(tmp_path / "samples.tsv"), design="~ group",
                  contrasts={"b_vs_a": {"variable": "group", "test": "b", "reference": "a"}})
    from_table = load_checked_inputs(InputSpec(counts=str(tmp_path / "counts.tsv"), **common))
    from_cells = load_checked_inputs(
        InputSpec(counts=str(write(cells, tmp_path)), single_cell=SPEC, **common)
    )
    np.testing.assert_array_equal(from_cells.layers["counts"], from_table.layers["counts"])
    assert list(from_cells.var_names) == list(from_table.var_names)
    assert from_cells.uns["single_cell"]["n_cells"].tolist() == (
        cells.obs["donor"].value_counts().reindex(SAMPLES).tolist()
    )
    assert "single_cell" not in from_table.uns


def test_methods_say_the_samples_are_pseudobulk():
    from pathlib import Path

    import yaml

    from msc_response.report.jinja import environment

    config = yaml.safe_load((Path(__file__).parents[2] / "config/config.yaml").read_text())
    facts = {"n_genes": 10, "n_samples": 6, "contrasts": [], "collections": [],
             "source_in_design": False, "power": False}
    render = environment().get_template("methods.txt.j2").render
    options = dict(tools={}, facts=facts, provenance={"workflow": {}})
    cells = {"single_cell": {"layer": "counts", "sample_column": "donor", "min_cells": 20}}
    text = " ".join(render(config={**config, **cells}, **options).split())
    assert ("each the sum of its single cells' raw counts (layer counts of the cells' "
            "AnnData; cells assigned to samples by donor; at least 20 cells per sample") in text
    assert "single cells" not in " ".join(render(config=config, **options).split())
