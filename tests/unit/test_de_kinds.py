"""The contrast kinds without R: parsing, what the design can estimate (and the
message when it cannot), the fit plan (one reduced fit per formula), the fit file
with an LRT, and the reparametrised shrinkage of a within-level contrast. R's
answers for each kind: test_de_kinds_r.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from msc_response.common.errors import InputError
from msc_response.de.fit import DESettings, fit_for_contrasts
from msc_response.de.fit_file import load_fit, save_fit
from msc_response.de.contrast import contrast_result
from msc_response.design.contrasts import check_contrasts, contrast_variables, parse_contrasts
from msc_response.design.estimable import contrast_weights, describe
from msc_response.design.plan import fit_plan

from ._deseq_cases import synthetic

DESIGN = "~ batch + x + source * response"
SPECS = {
    "resp": {"variable": "response", "test": "r", "reference": "n", "within": {"source": "bm"}},
    "resp_wj": {"variable": "response", "test": "r", "reference": "n", "within": {"source": "wj"}},
    "x": {"variable": "x"},
    "source": {"test": "LRT", "reduced": "~ batch + x + response"},
    "source_again": {"test": "LRT", "reduced": "~ batch + x + response"},
}


@pytest.fixture(scope="module")
def cohort():
    """24 samples: batch (2), source (2) x response (2) with an interaction, and a
    continuous x; 800 genes."""
    rng = np.random.default_rng(3)
    n = 24
    sheet = pd.DataFrame(
        {
            "batch": np.tile(["b1", "b2"], 12),
            "source": np.repeat(["bm", "wj"], 12),
            "response": np.tile(["n", "n", "r", "r"], 6),
            "x": np.round(rng.normal(0, 1, n), 3),
        },
        index=[f"s{i:02d}" for i in range(n)],
    )
    indicators = pd.DataFrame(
        {
            "r": (sheet["response"] == "r").astype(float),
            "wj_r": ((sheet["response"] == "r") & (sheet["source"] == "wj")).astype(float),
            "wj": (sheet["source"] == "wj").astype(float),
            "x": sheet["x"],
        }
    )
    counts = synthetic(800, indicators, {"r": 1.0, "wj_r": 1.5, "wj": 1.0, "x": 0.5},
                       seed=5, de_fraction=0.2)
    for column in ("batch", "source", "response"):
        sheet[column] = pd.Categorical(sheet[column])
    symbols = pd.Series(list(counts.columns), index=counts.columns)
    return counts, sheet, symbols


def test_kinds_are_parsed():
    kinds = {c.name: c.kind for c in parse_contrasts(SPECS)}
    assert kinds == {"resp": "within", "resp_wj": "within", "x": "continuous",
                     "source": "lrt", "source_again": "lrt"}
    [plain] = parse_contrasts({"a": {"variable": "v", "test": 1, "reference": 0.0}})
    assert (plain.kind, plain.test, plain.reference) == ("wald", "1", "0")


def test_weights_and_words(cohort):
    _, sheet, _ = cohort
    contrasts = {c.name: c for c in parse_contrasts(SPECS)}
    check_contrasts(sheet, DESIGN, list(contrasts.values()), "s.tsv")
    refs = {"response": "n"}
    assert contrast_weights(sheet, DESIGN, contrasts["resp"], refs) == {"response[T.r]": 1.0}
    assert contrast_weights(sheet, DESIGN, contrasts["resp_wj"], refs) == {
        "response[T.r]": 1.0, "source[T.wj]:response[T.r]": 1.0}
    assert contrast_weights(sheet, DESIGN, contrasts["x"], refs) == {"x": 1.0}
    words = describe(sheet, DESIGN, contrasts["source"], refs)
    assert words["df"] == 2 and "source[T.wj]:response[T.r]" in words["description"]
    assert "among samples with source = wj" in describe(sheet, DESIGN, contrasts["resp_wj"])["description"]
    assert contrast_variables(list(contrasts.values()), DESIGN) == ["response", "source", "x"]


@pytest.mark.parametrize(
    "design, spec, expected",
    [
        (DESIGN, {"variable": "response", "test": "r", "reference": "n"},
         "depends on 'source'"),
        ("~ batch + source + response", SPECS["resp_wj"], "needs an interaction"),
        ("~ batch + source + response", {"test": "LRT", "reduced": "~ batch + x"},
         "uses 'x'"),
        ("~ batch + source + response", {"test": "LRT", "reduced": "~ batch + source + response"},
         "removes nothing"),
        ("~ batch + source + response", {"test": "LRT", "reduced": "batch"}, "not a formula"),
        ("~ batch + source + response", {"variable": "source"}, "categorical"),
        ("~ batch + x * source + response", {"variable": "x"}, "depends on 'source'"),
    ],
)
def test_a_contrast_the_design_cannot_estimate_stops(cohort, design, spec, expected):
    _, sheet, _ = cohort
    with pytest.raises(InputError) as error:
        check_contrasts(sheet, design, parse_contrasts({"c": spec}), "s.tsv")
    message = str(error.value)
    assert expected in message and "config 'contrasts: c'" in message
    if "categorical" not in expected:
        assert "estimates these coefficients: 'Intercept', 'batch[T.b2]'" in message


def test_one_reduced_fit_per_formula(cohort):
    _, sheet, _ = cohort
    plan = fit_plan(sheet, parse_contrasts(SPECS), None, DESIGN)
    assert plan["reduced_designs"] == ["~ batch + x + response"]
    assert plan["reference_levels"] == {"response": "n"}
    # groups: response within each source (6 each) and the LRT's source levels (12)
    assert plan["min_samples"] == 6
    # no LRT, no key: the plan (hence the fit) of other designs is unchanged
    plain = {"a": {"variable": "response", "test": "r", "reference": "n"}}
    assert "reduced_designs" not in fit_plan(sheet, parse_contrasts(plain), None, "~ response")
    assert fit_plan(sheet, parse_contrasts({"x": SPECS["x"]}), None, DESIGN)["min_samples"] == 3


@pytest.fixture(scope="module")
def fitted(cohort, tmp_path_factory):
    counts, sheet, symbols = cohort
    contrasts = parse_contrasts(SPECS)
    plan = fit_plan(sheet, contrasts, None, DESIGN)
    fit = fit_for_contrasts(counts, sheet, DESIGN, plan, symbols, DESettings())
    path = tmp_path_factory.mktemp("fit") / "fit.h5ad"
    save_fit(fit, path, counts)
    weights = {
        c.name: contrast_weights(sheet, DESIGN, c, plan["reference_levels"])
        for c in contrasts if c.kind != "lrt"
    }
    return fit, load_fit(path), contrasts, weights


def test_fit_file_keeps_the_lrt(fitted):
    fit, loaded, contrasts, weights = fitted
    model, back = fit.model, loaded.model
    assert back.reduced_df == model.reduced_df == {"~ batch + x + response": 2}
    assert np.array_equal(back.full_loglik, model.full_loglik)
    for formula, values in model.reduced_loglik.items():
        assert np.array_equal(back.reduced_loglik[formula], values)
    # the full model fits at least as well as the nested one
    assert (model.full_loglik - model.reduced_loglik["~ batch + x + response"] > -1e-6).all()
    for contrast in contrasts:
        fresh = contrast_result(fit, contrast, DESettings(), weights.get(contrast.name))
        again = contrast_result(loaded, contrast, DESettings(), weights.get(contrast.name))
        assert fresh.table.equals(again.table), contrast.name


def test_kinds_find_their_planted_genes(fitted, cohort):
    fit, _, contrasts, weights = fitted
    tables = {
        c.name: contrast_result(fit, c, DESettings(), weights.get(c.name)).table.set_index("gene_id")
        for c in contrasts
    }
    lrt = tables["source"]
    assert lrt["stat"].min() > -1e-6 and set(lrt["status"]) <= {
        "tested", "independent_filtering", "cooks_outlier", "low_counts"}
    assert (lrt["padj"] < 0.05).sum() > 50
    # the within-source effect of response is larger in wj (1 + 1.5 planted) than bm
    wj, bm = tables["resp_wj"], tables["resp"]
    shared = wj.index[(wj["padj"] < 0.05) & (bm["padj"] < 0.05).reindex(wj.index)]
    assert (wj.loc[shared, "log2FoldChange"].abs() >= bm.loc[shared, "log2FoldChange"].abs() - 0.3).mean() > 0.8
    assert (tables["x"]["padj"] < 0.05).sum() > 20


def test_within_shrinkage_is_the_releveled_models(cohort, fitted):
    """The within-level contrast is shrunk in the model reparametrised so that it is
    one coefficient: the same as fitting with that level as the factor's reference."""
    counts, sheet, symbols = cohort
    fit, _, contrasts, weights = fitted
    [within] = [c for c in contrasts if c.name == "resp_wj"]
    shrunk = contrast_result(fit, within, DESettings(), weights["resp_wj"]).table.set_index("gene_id")
    releveled = sheet.copy()
    releveled["source"] = releveled["source"].cat.reorder_categories(["wj", "bm"])
    plain = parse_contrasts({"p": {"variable": "response", "test": "r", "reference": "n",
                                   "within": {"source": "wj"}}})
    plan = fit_plan(releveled, plain, None, DESIGN)
    refit = fit_for_contrasts(counts, releveled, DESIGN, plan, symbols, DESettings())
    w = contrast_weights(releveled, DESIGN, plain[0], plan["reference_levels"])
    assert w == {"response[T.r]": 1.0}  # one coefficient there: shrunk directly
    other = contrast_result(refit, plain[0], DESettings(), w).table.set_index("gene_id")
    ok = shrunk["log2FoldChange_shrunk"].notna()
    a = shrunk.loc[ok, "log2FoldChange_shrunk"]
    b = other.loc[a.index, "log2FoldChange_shrunk"]
    assert np.corrcoef(a, b)[0, 1] > 0.9999
    assert np.allclose(shrunk["log2FoldChange"], other.loc[shrunk.index, "log2FoldChange"], atol=1e-4, equal_nan=True)


@pytest.mark.parametrize(
    "spec, expected",
    [
        ({"variable": "v", "reduced": "~ b"}, "add 'test: LRT'"),
        ({"test": "LRT"}, "needs 'reduced'"),
        ({"test": "LRT", "reduced": "~ b", "variable": "v"}, "not 'variable'"),
        ({"test": "a", "reference": "b"}, "'variable' is missing"),
        ({"variable": "v", "test": "a"}, "give both 'test' and 'reference'"),
        ({"variable": "v", "within": {"s": "x"}}, "'within' is for two levels"),
    ],
)
def test_the_keys_of_a_contrast_make_one_kind(spec, expected):
    with pytest.raises(InputError, match="config 'contrasts: c'") as error:
        parse_contrasts({"c": spec})
    assert expected in str(error.value) and "The kinds of contrast" in str(error.value)
    for good in SPECS.values():
        parse_contrasts({"c": good})


def test_each_stage_runs_for_its_kinds_and_the_report_reads_only_those():
    from msc_response.report.files import ResultFiles, Stages
    from msc_response.report.reading import shown_contrast

    kinds = {c.name: c.kind for c in parse_contrasts(SPECS)}
    stages = Stages(collections=["go_bp"], crosscheck=True, kinds=kinds)
    paths = set(ResultFiles().all(list(SPECS), stages))
    assert "results/crosscheck/resp.tsv" not in paths  # R's cross-check: two levels only
    assert "results/markers/resp_wj/signature.tsv" in paths
    assert "results/markers/x/signature.tsv" not in paths
    assert {"results/markers/x/markers.tsv", "results/markers/x/expression.png",
            "results/markers/source/expression.png"} <= paths
    assert "results/enrichment/source/go_bp.ora_up.tsv" in paths
    assert "results/enrichment/source/go_bp.dotplot.png" not in paths  # no GSEA for an LRT
    assert "results/enrichment/x/go_bp.dotplot.png" in paths
    # the default (two-level) contrast reads what it always read
    plain = set(ResultFiles().all(["c"], Stages(collections=["go_bp"], crosscheck=True)))
    assert {"results/crosscheck/c.tsv", "results/markers/c/signature_roc.png",
            "results/enrichment/c/go_bp.dotplot.png"} <= plain
    assert shown_contrast(SPECS["x"])["label"] == "per unit of x"
    assert shown_contrast(SPECS["resp_wj"])["label"] == "r vs n in wj"
    assert shown_contrast(SPECS["source"], DESIGN)["kind"] == "lrt"


def test_continuous_shrinkage_stays_near_its_estimate(fitted):
    """Shrinkage of a per-unit effect on an uncentred variable (x + 70, as age in
    years) gives what it gives on the centred one, and never flips a clear effect."""
    from msc_response.de.kinds import centred

    fit, _, contrasts, weights = fitted
    [x] = [c for c in contrasts if c.name == "x"]
    table = contrast_result(fit, x, DESettings(), weights["x"]).table.set_index("gene_id")
    strong = table[table["padj"] < 1e-6]
    assert len(strong) > 10
    assert (np.sign(strong["log2FoldChange_shrunk"]) == np.sign(strong["log2FoldChange"])).all()
    X = fit.model.design_matrix.copy()
    X["x"] += 70.0
    lfc = fit.model.lfc.to_numpy()
    lfc_shifted = lfc.copy()
    lfc_shifted[:, 0] -= 70.0 * lfc[:, list(X.columns).index("x")]
    a, b = centred(X, lfc_shifted), centred(fit.model.design_matrix, lfc)
    assert np.allclose(a[0].to_numpy(), b[0].to_numpy()) and np.allclose(a[1], b[1])
    # the whole contrast on the shifted model: the same shrunken values
    import dataclasses

    shifted = dataclasses.replace(
        fit.model, design_matrix=X,
        lfc=pd.DataFrame(lfc_shifted, index=fit.model.lfc.index, columns=fit.model.lfc.columns),
    )
    again = contrast_result(dataclasses.replace(fit, model=shifted), x, DESettings(),
                            weights["x"]).table.set_index("gene_id")
    ok = table["log2FoldChange_shrunk"].notna()
    assert np.allclose(again.loc[ok.index[ok], "log2FoldChange_shrunk"],
                       table.loc[ok, "log2FoldChange_shrunk"], atol=1e-4)


def test_spearman_and_its_bootstrap_interval():
    from scipy.stats import spearmanr

    from msc_response.markers.kinds import bootstrap_spearman_ci, spearman

    rng = np.random.default_rng(0)
    x = rng.normal(size=40)
    values = np.column_stack([x + rng.normal(0, s, 40) for s in (0.3, 1.0, 100.0)])
    rho = spearman(x, values)
    assert np.allclose(rho, [spearmanr(x, v)[0] for v in values.T])
    low, high = bootstrap_spearman_ci(x, values, 300, seed=1)
    assert (low <= rho).all() and (rho <= high).all()
    assert low[0] > 0.6 and low[2] < 0 < high[2]  # a close follower; noise spans zero
