"""One fit per design: every contrast tested from one fit (and its saved copy) gives
what a separate fit per contrast gives, shrinkage of non-reference contrasts included."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from msc_response.common.errors import InputError
from msc_response.de.fit import (
    DESettings,
    fit_design,
    fit_for_contrasts,
    fitted_model,
    prefilter_mask,
    with_reference_levels,
)
from msc_response.de.fit_file import FIT_FORMAT, load_fit, save_fit
from msc_response.de.contrast import contrast_result, run_contrast
from msc_response.de.results import shrink_lfc, wald_results
from msc_response.design.contrasts import Contrast
from msc_response.design.plan import fit_plan, fit_stage

from ._deseq_cases import synthetic

CONTRASTS = [
    Contrast("b_vs_a", "group", "b", "a"),
    Contrast("c_vs_a", "group", "c", "a"),
    Contrast("c_vs_b", "group", "c", "b"),  # b is not the design's reference level
]
NUMERIC = ["baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj",
           "log2FoldChange_shrunk", "lfcSE_shrunk"]


@pytest.fixture(scope="module")
def cohort():
    """Three groups of 5 (a 3-level factor) and a batch covariate, 1,200 genes."""
    samples = [f"s{i:02d}" for i in range(15)]
    sheet = pd.DataFrame(
        {"batch": ["x", "y", "z"] * 5, "group": ["a"] * 5 + ["b"] * 5 + ["c"] * 5},
        index=samples,
    )
    indicators = pd.DataFrame(
        {
            "b": (sheet["group"] == "b").astype(float),
            "c": (sheet["group"] == "c").astype(float),
            "y": (sheet["batch"] == "y").astype(float),
        }
    )
    counts = synthetic(1200, indicators, {"b": 1.5, "c": 1.2, "y": 0.5}, seed=21, de_fraction=0.2)
    for column in sheet:
        sheet[column] = pd.Categorical(sheet[column])
    symbols = pd.Series([f"SYM{i}" for i in range(counts.shape[1])], index=counts.columns)
    return counts, sheet, symbols


@pytest.fixture(scope="module")
def saved_fit(cohort, tmp_path_factory):
    """The fit in memory, its file (results/de/fit.h5ad) and the fit read back."""
    counts, sheet, symbols = cohort
    settings = DESettings()
    plan = fit_plan(sheet, CONTRASTS, settings.min_samples)
    fit = fit_for_contrasts(counts, sheet, "~ batch + group", plan, symbols, settings)
    path = tmp_path_factory.mktemp("fit") / "fit.h5ad"
    save_fit(fit, path, counts)
    return plan, fit, path, load_fit(path)


@pytest.fixture(scope="module")
def one_fit(saved_fit):
    plan, _, _, loaded = saved_fit
    settings = DESettings()
    return plan, {c.name: contrast_result(loaded, c, settings).table for c in CONTRASTS}


def _same_array(a, b):
    """Equal bit for bit (NaNs included), with the same dtype, shape and layout."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    if a.dtype == object:
        assert [(type(x), x) for x in a.ravel()] == [(type(x), x) for x in b.ravel()]
    else:
        assert a.tobytes() == b.tobytes()
    layout = (a.flags.c_contiguous, a.flags.f_contiguous)
    assert layout == (b.flags.c_contiguous, b.flags.f_contiguous)


def _same_frame(a, b):
    assert type(a) is type(b) and a.equals(b)
    if a.ndim == 2 and (a.dtypes == object).any():
        for column in a:
            _same_array(a[column].to_numpy(), b[column].to_numpy())
    else:
        _same_array(a.to_numpy(), b.to_numpy())
    axes = [(a.index, b.index)] + ([(a.columns, b.columns)] if a.ndim == 2 else [])
    for x, y in axes:
        assert x.equals(y) and x.dtype == y.dtype and x.name == y.name and list(x) == list(y)
    if a.ndim == 1:
        assert a.name == b.name
    else:
        assert list(a.dtypes) == list(b.dtypes)


def test_fit_file_restores_every_field(saved_fit):
    _, fit, _, loaded = saved_fit
    assert loaded.min_count == fit.min_count and type(loaded.min_count) is int
    assert loaded.min_samples == fit.min_samples and type(loaded.min_samples) is int
    _same_frame(loaded.genes, fit.genes)
    model, back = fit.model, loaded.model
    assert back.design == model.design
    frames = ["design_matrix", "lfc", "size_factors", "base_mean"]
    for name in frames:
        _same_frame(getattr(back, name), getattr(model, name))
    arrays = ["dispersions", "counts", "non_zero", "cooks_outlier", "all_zero_after_refit"]
    for name in arrays:
        _same_array(getattr(back, name), getattr(model, name))
    assert np.isfinite(model.prior_disp_var) and model.prior_disp_var > 0
    assert back.prior_disp_var == model.prior_disp_var and type(back.prior_disp_var) is float
    # a field added to the dataclasses must be added to the file and to this test
    # the LRT's log-likelihoods: none without an LRT contrast (test_de_kinds.py has them)
    assert back.full_loglik is None and back.reduced_loglik == back.reduced_df == {}
    lrt = {"full_loglik", "reduced_loglik", "reduced_df"}
    # tximport's offsets: none for a count table (test_fit_file_with_offsets has them)
    assert back.norm_factors is None and loaded.norm_factors is None
    checked = {"design", "contrast_vectors", "releveled", "prior_disp_var", "norm_factors", *frames,
               *arrays, *lrt}
    assert {f.name for f in dataclasses.fields(model)} == checked
    assert {f.name for f in dataclasses.fields(fit)} == {"model", "genes", "min_count", "min_samples",
                                                          "norm_factors"}
    assert list(back.contrast_vectors) == list(model.contrast_vectors)
    for key, vector in model.contrast_vectors.items():
        _same_array(back.contrast_vectors[key], vector)
    assert list(back.releveled) == list(model.releveled)
    for key, matrix in model.releveled.items():
        _same_frame(back.releveled[key], matrix)
    assert (~fit.genes["kept"]).any(), "some genes are pre-filtered, so the file spreads them"


def test_fit_file_with_offsets(cohort, tmp_path):
    """tximport's offsets: the normalisation factors of every gene are stored (layer
    norm_factors) and read back bit for bit, the model's those of the kept genes;
    the contrast tables from the file are those of the fit in memory."""
    counts, sheet, symbols = cohort
    rng = np.random.default_rng(2)
    lengths = pd.DataFrame(rng.uniform(800, 3000, counts.shape), index=counts.index, columns=counts.columns)
    settings = DESettings()
    plan = fit_plan(sheet, CONTRASTS, settings.min_samples)
    fit = fit_for_contrasts(counts, sheet, "~ batch + group", plan, symbols, settings, lengths=lengths)
    save_fit(fit, tmp_path / "fit.h5ad", counts)
    loaded = load_fit(tmp_path / "fit.h5ad")
    kept = fit.genes["kept"].to_numpy()
    assert fit.norm_factors.shape == counts.shape
    _same_array(loaded.norm_factors, fit.norm_factors)
    np.testing.assert_array_equal(loaded.model.norm_factors, fit.model.norm_factors)
    np.testing.assert_array_equal(fit.norm_factors[:, kept], fit.model.norm_factors)
    for contrast in CONTRASTS:
        fresh = contrast_result(loaded, contrast, settings).table
        assert fresh.equals(contrast_result(fit, contrast, settings).table), contrast.name


def test_fit_file_gives_the_tables_of_the_fit_in_memory(saved_fit, one_fit):
    _, fit, _, _ = saved_fit
    _, tables = one_fit
    for contrast in CONTRASTS:
        fresh = contrast_result(fit, contrast, DESettings()).table
        assert fresh.equals(tables[contrast.name]), contrast.name
        assert list(fresh.dtypes) == list(tables[contrast.name].dtypes)


def test_fit_file_opens_in_anndata(cohort, saved_fit):
    import anndata as ad

    counts, _, _ = cohort
    _, fit, path, _ = saved_fit
    model, kept = fit.model, fit.genes["kept"].to_numpy()
    adata = ad.read_h5ad(path)
    assert adata.shape == counts.shape
    assert list(adata.obs_names) == list(counts.index)
    assert list(adata.var_names) == list(counts.columns) and adata.var.index.name == "gene_id"
    assert adata.X.dtype == counts.to_numpy().dtype
    np.testing.assert_array_equal(adata.X, counts.to_numpy())
    np.testing.assert_array_equal(adata.obs["size_factors"], model.size_factors)
    np.testing.assert_array_equal(adata.var["dispersions"].to_numpy()[kept], model.dispersions)
    assert np.isnan(adata.var["dispersions"].to_numpy()[~kept]).all()
    assert not adata.var["cooks_outlier"].to_numpy()[~kept].any()
    assert adata.var["kept"].tolist() == kept.tolist()
    assert adata.varm["LFC"].shape == (counts.shape[1], model.lfc.shape[1])
    np.testing.assert_array_equal(adata.varm["LFC"][kept], model.lfc.to_numpy())
    assert list(adata.uns["LFC_columns"]) == list(model.lfc.columns)
    np.testing.assert_array_equal(adata.obsm["design_matrix"], model.design_matrix.to_numpy())
    assert adata.uns["format"] == FIT_FORMAT and adata.uns["design"] == "~ batch + group"
    assert "deseq2_fit" in adata.uns["description"]
    assert list(adata.uns["contrasts"]["keys"].columns) == ["variable", "test", "reference"]
    # gzip + shuffle on the counts, as the workflow's other .h5ad files
    import h5py

    with h5py.File(path) as handle:
        assert handle["X"].compression == "gzip" and handle["X"].shuffle


def test_fit_file_is_read_without_anndata_or_pydeseq2(saved_fit):
    import subprocess
    import sys
    from pathlib import Path

    _, _, path, _ = saved_fit
    scripts = Path(__file__).parents[2] / "workflow" / "scripts"
    code = (
        "import sys; from msc_response.de.fit_file import load_fit; "
        f"load_fit({str(path)!r}); "
        "print(sorted(m for m in ('anndata', 'pydeseq2', 'pickle') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=scripts, capture_output=True, text=True, check=True
    ).stdout
    assert "anndata" not in out and "pydeseq2" not in out, out


def test_fit_file_of_another_format_or_not_hdf5_is_refused(saved_fit, tmp_path):
    import h5py

    _, _, path, _ = saved_fit
    data = path.read_bytes()
    older = tmp_path / "older.h5ad"
    older.write_bytes(data)
    with h5py.File(older, "r+") as handle:
        del handle["uns/format"]
        handle["uns/format"] = 2
    unmarked = tmp_path / "unmarked.h5ad"
    unmarked.write_bytes(data)
    with h5py.File(unmarked, "r+") as handle:
        del handle["uns/format"]
    pickled = tmp_path / "fit.h5ad"
    pickled.write_bytes(b"\x80\x05\x95" + bytes(200))  # a pickle's first bytes
    text = tmp_path / "text.h5ad"
    text.write_text("gene_id\tbaseMean\n")
    truncated = tmp_path / "truncated.h5ad"
    truncated.write_bytes(data[: len(data) // 2])
    cases = [
        (older, "format 2"),
        (unmarked, "no uns/format"),
        (pickled, "is a pickle"),
        (text, "not a readable HDF5"),
        (truncated, "not a readable HDF5"),
    ]
    for bad, found in cases:
        with pytest.raises(InputError) as error:
            load_fit(bad)
        message = str(error.value)
        assert str(bad) in message and found in message, message
        assert "deseq2_fit" in message and "snakemake --forcerun deseq2_fit" in message
        assert f"format {FIT_FORMAT}" in message


def test_fit_file_of_an_earlier_version_has_no_prior_variance(saved_fit, tmp_path):
    """Format-3 files written before the power stage lack uns/prior_disp_var: they
    still serve the contrast jobs (read as NaN; the power stage asks for a refit)."""
    import h5py

    _, fit, path, _ = saved_fit
    earlier = tmp_path / "earlier.h5ad"
    earlier.write_bytes(path.read_bytes())
    with h5py.File(earlier, "r+") as handle:
        del handle["uns/prior_disp_var"]
    loaded = load_fit(earlier)
    assert np.isnan(loaded.model.prior_disp_var)
    _same_array(loaded.model.dispersions, fit.model.dispersions)


def test_fit_plan_reference_levels_and_prefilter(cohort):
    _, sheet, _ = cohort
    sheet = sheet.copy()
    sheet["group"] = pd.Categorical(["a"] * 6 + ["b"] * 4 + ["c"] * 5)
    plan = fit_plan(sheet, CONTRASTS[::-1], None)
    # the first contrast on a variable sets its reference; the smallest group counts
    assert plan == {"reference_levels": {"group": "b"}, "min_samples": 4}
    assert fit_plan(sheet, CONTRASTS[:1], 3)["min_samples"] == 3
    ordered = with_reference_levels(sheet, plan["reference_levels"])
    assert list(ordered["group"].cat.categories) == ["b", "a", "c"]


def test_fit_stage_leaves_out_contrast_settings():
    section = {"alpha": 0.1, "lfc_shrinkage": False, "fit_type": "mean",
               "prefilter": {"min_count": 5}, "cooks": {"refit": False, "filter": False}}
    assert fit_stage(section) == {
        "fit_type": "mean", "prefilter": {"min_count": 5}, "cooks": {"refit": False}
    }


@pytest.mark.parametrize("contrast", CONTRASTS, ids=lambda c: c.name)
def test_one_fit_equals_a_fit_per_contrast(cohort, one_fit, contrast):
    counts, sheet, symbols = cohort
    plan, tables = one_fit
    # the same pre-filter, so both fit the same genes
    settings = DESettings(min_samples=plan["min_samples"])
    separate = run_contrast(counts, sheet, "~ batch + group", contrast, symbols, settings)
    ours = tables[contrast.name].set_index("gene_id")
    theirs = separate.table.set_index("gene_id").loc[ours.index]
    assert list(ours.columns) == list(theirs.columns)
    assert (ours["status"] == theirs["status"]).all()
    assert (ours["symbol"] == theirs["symbol"]).all()
    for column in NUMERIC:
        a, b = ours[column].to_numpy(float), theirs[column].to_numpy(float)
        assert (np.isnan(a) == np.isnan(b)).all(), column
        ok = ~np.isnan(a)
        # dispersions and LFCs do not depend on the parametrisation; optimisers stop
        # at tolerances, so allow small relative differences
        np.testing.assert_allclose(a[ok], b[ok], rtol=1e-3, atol=1e-6, err_msg=column)
    called = ours["padj"] < 0.05
    assert called.sum() > 50, "the planted effects are found"
    assert (called == (theirs["padj"] < 0.05)).all()


def test_shrinkage_of_a_non_reference_contrast_is_its_own(one_fit):
    _, tables = one_fit
    c_vs_b = tables["c_vs_b"].set_index("gene_id")
    tested = c_vs_b["status"] == "tested"
    shrunk, mle = c_vs_b.loc[tested, "log2FoldChange_shrunk"], c_vs_b.loc[tested, "log2FoldChange"]
    # shrunk towards 0 from this contrast's own MLE, not from another coefficient's;
    # near 0 the optimiser (PyDESeq2's L-BFGS-B stopping rules) may stop a few 1e-3
    # to either side, hence the tolerance
    assert (shrunk.abs() <= mle.abs() + 0.01).mean() > 0.99
    assert np.corrcoef(shrunk, mle)[0, 1] > 0.9
    # not the shrunken coefficient of c in the fitted (reference a) parametrisation
    c_vs_a = tables["c_vs_a"].set_index("gene_id").loc[shrunk.index, "log2FoldChange_shrunk"]
    assert np.abs(shrunk - c_vs_a).max() > 0.5


def test_filtered_genes_and_size_factors(cohort, one_fit):
    counts, sheet, _ = cohort
    plan, tables = one_fit
    table = tables["b_vs_a"]
    assert len(table) == counts.shape[1]
    low = table["status"] == "low_counts"
    keep = prefilter_mask(counts, 10, plan["min_samples"])
    assert low.sum() == (~keep).sum() > 0
    assert table.loc[low, "pvalue"].isna().all() and table.loc[low, "baseMean"].notna().all()


@pytest.mark.parametrize("rule", ["r", "pydeseq2", "none"])
def test_results_step_for_step_as_pydeseq2(cohort, rule):
    """wald_results and shrink_lfc give what PyDESeq2's DeseqStats gives on the same
    fit (summary(), lfc_shrink()); R's filter rule is checked against R elsewhere."""
    from pydeseq2.ds import DeseqStats

    counts, sheet, _ = cohort
    settings = DESettings(
        independent_filtering=rule != "none",
        independent_filtering_rule="r" if rule == "none" else rule,
    )
    metadata = with_reference_levels(sheet, {"group": "a"})
    keep = prefilter_mask(counts, 10, 5)
    dds = fit_design(counts.loc[:, keep], metadata, "~ batch + group", settings)
    model = fitted_model(dds, ["group"])
    for contrast in CONTRASTS:
        ours, wald = wald_results(model, contrast.as_list(), settings, dds.inference)
        stats = DeseqStats(
            dds,
            contrast=contrast.as_list(),
            independent_filter=rule == "pydeseq2",
            inference=dds.inference,
            quiet=True,
        )
        stats.summary()
        theirs = stats.results_df
        if rule == "r":
            theirs = theirs.assign(padj=ours["padj"])  # the filter rule is ours, not theirs
        pd.testing.assert_frame_equal(ours, theirs, check_exact=False, rtol=1e-12, atol=0)
        if contrast.reference == "a":  # one coefficient: PyDESeq2 can shrink it
            shrunk, se = shrink_lfc(model, wald, dds.inference)
            stats.lfc_shrink(coeff=f"group[T.{contrast.test}]")
            np.testing.assert_allclose(shrunk / np.log(2), stats.results_df["log2FoldChange"],
                                       rtol=1e-12, atol=0)
            np.testing.assert_allclose(se / np.log(2), stats.results_df["lfcSE"],
                                       rtol=1e-12, atol=0)
