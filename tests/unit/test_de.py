"""One fit per design: every contrast tested from one fit (and its saved copy) gives
what a separate fit per contrast gives, shrinkage of non-reference contrasts included."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from msc_response import de
from msc_response.validation import Contrast

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
def one_fit(cohort, tmp_path_factory):
    counts, sheet, symbols = cohort
    settings = de.DESettings()
    plan = de.fit_plan(sheet, CONTRASTS, settings.min_samples)
    path = tmp_path_factory.mktemp("fit") / "fit.pkl"
    de.save_fit(de.fit_for_contrasts(counts, sheet, "~ batch + group", plan, symbols, settings), path)
    loaded = de.load_fit(path)
    return plan, {c.name: de.contrast_result(loaded, c, settings).table for c in CONTRASTS}


def test_fit_plan_reference_levels_and_prefilter(cohort):
    _, sheet, _ = cohort
    sheet = sheet.copy()
    sheet["group"] = pd.Categorical(["a"] * 6 + ["b"] * 4 + ["c"] * 5)
    plan = de.fit_plan(sheet, CONTRASTS[::-1], None)
    # the first contrast on a variable sets its reference; the smallest group counts
    assert plan == {"reference_levels": {"group": "b"}, "min_samples": 4}
    assert de.fit_plan(sheet, CONTRASTS[:1], 3)["min_samples"] == 3
    ordered = de.with_reference_levels(sheet, plan["reference_levels"])
    assert list(ordered["group"].cat.categories) == ["b", "a", "c"]


def test_fit_stage_leaves_out_contrast_settings():
    section = {"alpha": 0.1, "lfc_shrinkage": False, "fit_type": "mean",
               "prefilter": {"min_count": 5}, "cooks": {"refit": False, "filter": False}}
    assert de.fit_stage(section) == {
        "fit_type": "mean", "prefilter": {"min_count": 5}, "cooks": {"refit": False}
    }


@pytest.mark.parametrize("contrast", CONTRASTS, ids=lambda c: c.name)
def test_one_fit_equals_a_fit_per_contrast(cohort, one_fit, contrast):
    counts, sheet, symbols = cohort
    plan, tables = one_fit
    # the same pre-filter, so both fit the same genes
    settings = de.DESettings(min_samples=plan["min_samples"])
    separate = de.run_contrast(counts, sheet, "~ batch + group", contrast, symbols, settings)
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
    keep = de.prefilter_mask(counts, 10, plan["min_samples"])
    assert low.sum() == (~keep).sum() > 0
    assert table.loc[low, "pvalue"].isna().all() and table.loc[low, "baseMean"].notna().all()


@pytest.mark.parametrize("rule", ["r", "pydeseq2", "none"])
def test_results_step_for_step_as_pydeseq2(cohort, rule):
    """wald_results and shrink_lfc give what PyDESeq2's DeseqStats gives on the same
    fit (summary(), lfc_shrink()); R's filter rule is checked against R elsewhere."""
    from pydeseq2.ds import DeseqStats

    counts, sheet, _ = cohort
    settings = de.DESettings(
        independent_filtering=rule != "none",
        independent_filtering_rule="r" if rule == "none" else rule,
    )
    metadata = de.with_reference_levels(sheet, {"group": "a"})
    keep = de.prefilter_mask(counts, 10, 5)
    dds = de.fit_design(counts.loc[:, keep], metadata, "~ batch + group", settings)
    model = de.fitted_model(dds, ["group"])
    for contrast in CONTRASTS:
        ours, wald = de.wald_results(model, contrast.as_list(), settings, dds.inference)
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
            shrunk, se = de.shrink_lfc(model, wald, dds.inference)
            stats.lfc_shrink(coeff=f"group[T.{contrast.test}]")
            np.testing.assert_allclose(shrunk / np.log(2), stats.results_df["log2FoldChange"],
                                       rtol=1e-12, atol=0)
            np.testing.assert_allclose(se / np.log(2), stats.results_df["lfcSE"],
                                       rtol=1e-12, atol=0)
