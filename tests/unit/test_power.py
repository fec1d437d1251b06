"""The power stage (msc_response.power): its pieces, and its calibration.

Calibration: cohort A is drawn from a known generating model (NB counts, a
mean-dispersion trend with log-normal scatter, a covariate, size factors, effects in
a share of genes) and the power stage predicts, from A's fit alone, the power at
A's own size for two effect sizes. Cohort B is an independent draw of the same model
with effects of those two sizes planted; the workflow's own DE path is run on it.
The recall B realises must lie within 0.1 of A's prediction wherever the prediction
lies in 0.2-0.9; with A's dispersions halved (a mis-specified simulation) the same
check must fail, so the test can tell a calibrated prediction from a wrong one.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from msc_response.common.errors import InputError
from msc_response.de.fit import DESettings, fit_for_contrasts
from msc_response.de.contrast import run_contrast
from msc_response.design.contrasts import Contrast
from msc_response.design.plan import fit_plan
from msc_response.power.analysis import COLUMNS, clopper_pearson, power_table
from msc_response.power.config import (
    PowerSettings,
    current_sizes,
    is_two_level,
    power_contrasts,
)
from msc_response.power.simulate import (
    allocate,
    mean_strata,
    sample_levels,
    source_cohort,
    stratum_labels,
)
from msc_response.power.summary import (
    detectable_effect,
    equivalent_size,
    size_needed,
    summarise_power,
)

DESIGN = "~ source + response"
CONTRAST = Contrast("r_vs_n", "response", "responder", "non_responder")
EFFECTS = (0.45, 0.75)  # |log2FC| planted in cohort B, and simulated from cohort A
FRACTION = 0.1
N_GENES = 5000
TOLERANCE = 0.1


# ----------------------------------------------------------------- generating model
def generating_model(seed: int = 7, n_genes: int = N_GENES) -> dict:
    """Gene means (log-uniform 15-5000), dispersions about the trend 0.06 + 1.5/mean
    with log-normal scatter (sd 0.5), a source effect per gene (sd 0.4)."""
    rng = np.random.default_rng(seed)
    mean = np.exp(rng.uniform(np.log(15), np.log(5000), n_genes))
    dispersion = (0.06 + 1.5 / mean) * np.exp(rng.normal(0, 0.5, n_genes))
    source_effect = rng.normal(0, 0.4, n_genes)
    return {"mean": mean, "dispersion": dispersion, "source": source_effect}


def draw_cohort(model: dict, seed: int, effects=EFFECTS, fraction=FRACTION):
    """12 responders (8 bone marrow, 4 Wharton's jelly) and 10 non-responders (5, 5);
    a random `fraction` of genes gets an effect (sizes in equal shares, random sign)
    in the responders. Returns counts, typed sheet, symbols, planted genes, their
    effect sizes and signs."""
    rng = np.random.default_rng(seed)
    response = ["responder"] * 12 + ["non_responder"] * 10
    source = ["bone_marrow"] * 8 + ["wharton_jelly"] * 4 + ["bone_marrow"] * 5 + ["wharton_jelly"] * 5
    samples = [f"S{i:02d}" for i in range(len(response))]
    sheet = pd.DataFrame({"source": source, "response": response}, index=samples)
    n_genes = len(model["mean"])
    per_effect = int(round(fraction * n_genes)) // len(effects)
    planted = rng.choice(n_genes, per_effect * len(effects), replace=False)
    size = np.repeat(np.asarray(effects, dtype=float), per_effect)
    sign = rng.choice([-1.0, 1.0], len(planted))
    log_mean = np.log(model["mean"])[None, :] + np.outer(
        (sheet["source"] == "wharton_jelly").to_numpy(float), model["source"]
    )
    is_test = (sheet["response"] == "responder").to_numpy()
    log_mean[np.ix_(is_test, planted)] += (sign * size * np.log(2))[None, :]
    size_factors = np.exp(rng.normal(0, 0.25, len(samples)))
    mu = size_factors[:, None] * np.exp(log_mean)
    alpha = model["dispersion"]
    counts = rng.negative_binomial(1 / alpha, 1 / (1 + alpha * mu))
    genes = [f"G{i:05d}" for i in range(n_genes)]
    counts = pd.DataFrame(counts, index=samples, columns=genes)
    for column in sheet:
        sheet[column] = pd.Categorical(sheet[column])
    symbols = pd.Series(genes, index=genes)
    return counts, sheet, symbols, planted, size, sign


@pytest.fixture(scope="module")
def cohort_a():
    """Cohort A and its fit, through the workflow's fit path."""
    counts, sheet, symbols, *_ = draw_cohort(generating_model(), seed=101)
    settings = DESettings()
    plan = fit_plan(sheet, [CONTRAST], settings.min_samples)
    return fit_for_contrasts(counts, sheet, DESIGN, plan, symbols, settings)


SETTINGS = PowerSettings(
    effect_sizes=EFFECTS, group_sizes=("current",), fraction=FRACTION, replicates=4, seed=3
)


@pytest.fixture(scope="module")
def predicted(cohort_a):
    return power_table(cohort_a, CONTRAST.as_list(), DESettings(), SETTINGS)


@pytest.fixture(scope="module")
def realised():
    """Recall per effect size in cohort B, from the workflow's DE table (and, under
    key 'fdp', the false discovery proportion of its calls)."""
    counts, sheet, symbols, planted, size, sign = draw_cohort(generating_model(), seed=202)
    table = run_contrast(counts, sheet, DESIGN, CONTRAST, symbols, DESettings()).table
    table = table.set_index("gene_id").reindex(counts.columns)
    called = (table["padj"] < 0.05).to_numpy()
    found = called[planted] & (np.sign(table["log2FoldChange"].to_numpy()[planted]) == sign)
    recall = {effect: float(found[size == effect].mean()) for effect in EFFECTS}
    null = np.ones(len(called), dtype=bool)
    null[planted] = False
    return {**recall, "fdp": float((called & null).sum() / max(called.sum(), 1))}


def _predicted_all(table: pd.DataFrame) -> dict:
    rows = table[table["mean_stratum"] == "all"]
    return dict(zip(rows["effect_size"], rows["power"]))


def calibration_errors(table: pd.DataFrame, realised: dict) -> dict:
    """|predicted - realised| per effect size where the prediction is in 0.2-0.9."""
    predicted = _predicted_all(table)
    return {
        effect: abs(predicted[effect] - realised[effect])
        for effect in EFFECTS
        if 0.2 <= predicted[effect] <= 0.9
    }


def test_calibrated_against_an_independent_cohort(predicted, realised):
    assert list(predicted.columns) == COLUMNS
    errors = calibration_errors(predicted, realised)
    # both sizes were chosen to land in the checked range: the test is not vacuous
    assert sorted(errors) == list(EFFECTS), (_predicted_all(predicted), realised)
    assert all(error <= TOLERANCE for error in errors.values()), (
        _predicted_all(predicted),
        realised,
    )
    # the false discovery proportion too (DESeq2's, above the nominal 0.05 * share
    # of null genes with dispersions scattered about their trend: 0.07 predicted,
    # 0.056-0.086 realised in four independent cohorts)
    fdp = predicted.loc[predicted["mean_stratum"] == "all", "fdp"].iloc[0]
    assert abs(fdp - realised["fdp"]) <= 0.03, (fdp, realised["fdp"])


def test_calibration_check_fails_for_a_wrong_model(cohort_a, realised):
    """Halved dispersions (a simulation that ignores half the biological variance)
    predict more power than an independent cohort gives: the check catches it."""
    model = dataclasses.replace(cohort_a.model, dispersions=cohort_a.model.dispersions / 2)
    wrong = power_table(
        dataclasses.replace(cohort_a, model=model), CONTRAST.as_list(), DESettings(), SETTINGS
    )
    errors = calibration_errors(wrong, realised)
    assert any(error > TOLERANCE for error in errors.values()) or len(errors) < len(EFFECTS), (
        _predicted_all(wrong),
        realised,
    )


# ----------------------------------------------------------------- the table
def test_table_layout_and_determinism(cohort_a, predicted):
    again = power_table(cohort_a, CONTRAST.as_list(), DESettings(), SETTINGS)
    pd.testing.assert_frame_equal(predicted, again)
    assert (predicted["n_test"] == 12).all() and (predicted["n_reference"] == 10).all()
    assert (predicted["replicates"] == 4).all()
    assert set(predicted["mean_stratum"]) <= set(stratum_labels()) | {"all"}
    ok = predicted["power"].notna()
    assert (predicted.loc[ok, "power_ci_low"] <= predicted.loc[ok, "power"]).all()
    assert (predicted.loc[ok, "power"] <= predicted.loc[ok, "power_ci_high"]).all()
    assert predicted["fdp"].between(0, 1).all()
    # larger effects, more power
    power = _predicted_all(predicted)
    assert power[EFFECTS[1]] > power[EFFECTS[0]]


def test_more_samples_more_power(cohort_a):
    settings = dataclasses.replace(SETTINGS, group_sizes=(5, 20), replicates=1)
    table = power_table(cohort_a, CONTRAST.as_list(), DESettings(), settings)
    rows = table[table["mean_stratum"] == "all"]
    for effect in EFFECTS:
        small, large = rows[rows["effect_size"] == effect].sort_values("n_test")["power"]
        assert large > small + 0.2


def test_fraction_too_small_is_a_user_error(cohort_a):
    settings = dataclasses.replace(SETTINGS, fraction=1e-6)
    with pytest.raises(InputError, match="power.fraction"):
        power_table(cohort_a, CONTRAST.as_list(), DESettings(), settings)


def test_fit_without_prior_variance_is_a_user_error(cohort_a):
    model = dataclasses.replace(cohort_a.model, prior_disp_var=float("nan"))
    with pytest.raises(InputError, match="forcerun deseq2_fit"):
        source_cohort(model, CONTRAST.as_list(), "results/de/fit.h5ad")


# ----------------------------------------------------------------- simulation pieces
def test_source_cohort_removes_the_contrast_effect(cohort_a):
    source = source_cohort(cohort_a.model, CONTRAST.as_list())
    assert (source.n_test, source.n_reference) == (12, 10)
    # same covariates, other group: the null log means agree
    levels = source.level
    bm_test = np.flatnonzero((levels == "responder") & (source.covariates == source.covariates[0]))
    bm_ref = np.flatnonzero((levels == "non_responder") & (source.covariates == source.covariates[0]))
    np.testing.assert_allclose(
        source.null_log_means[bm_test[0]], source.null_log_means[bm_ref[0]], atol=1e-12
    )
    assert 0 < source.dispersion_sd < np.sqrt(cohort_a.model.prior_disp_var)


def test_sample_levels_from_the_design():
    design = pd.DataFrame(
        {"Intercept": 1.0, "g[T.b]": [0, 1, 0, 0], "g[T.c]": [0, 0, 1, 1]},
        index=list("wxyz"),
    )
    assert list(sample_levels(design, "g", ["a", "b", "c"])) == ["a", "b", "c", "c"]


def test_allocate_keeps_covariates_in_proportion():
    rng = np.random.default_rng(0)
    covariates = np.array([0] * 6 + [1] * 3 + [2] * 1)  # 60%, 30%, 10%
    for n in (4, 10, 17, 40):
        chosen = allocate(covariates, n, rng)
        assert len(chosen) == n
        share = np.bincount(covariates[chosen], minlength=3) / n
        assert np.abs(share - [0.6, 0.3, 0.1]).max() <= 1 / n + 1e-12
    # the whole group at least once when n >= its size
    assert set(allocate(covariates, 13, rng)) == set(range(10))


def test_strata():
    assert stratum_labels() == ["0-10", "10-100", "100-1000", "1000+"]
    assert list(mean_strata(np.array([3, 10, 99.9, 500, 1e5]))) == [0, 1, 1, 2, 3]


def test_clopper_pearson():
    low, high = clopper_pearson(5, 10)  # R: binom.test(5, 10)$conf.int
    assert low == pytest.approx(0.187086, abs=1e-6)
    assert high == pytest.approx(0.812914, abs=1e-6)
    assert clopper_pearson(0, 10)[0] == 0 and clopper_pearson(10, 10)[1] == 1


# ----------------------------------------------------------------- config and summary
def test_two_level_contrasts_are_selected():
    config = {
        "power": {"enabled": True},
        "contrasts": {
            "a": {"variable": "g", "test": "b", "reference": "a"},
            "trend": {"variable": "age"},  # not two levels (a later kind of contrast)
        },
    }
    assert is_two_level(config["contrasts"]["a"])
    assert power_contrasts(config) == ["a"]
    assert power_contrasts({**config, "power": {"enabled": False}}) == []
    settings = PowerSettings.from_config({"group_sizes": ["current", 10], "effect_sizes": [1]})
    assert settings.group_sizes == ("current", 10) and settings.effect_sizes == (1.0,)


def test_current_sizes():
    sheet = pd.DataFrame({"g": ["x", "y", "y", "x", "y"]})
    assert current_sizes(sheet, {"variable": "g", "test": "y", "reference": "x"}) == [3, 2]


def _table(rows):
    frame = pd.DataFrame(rows, columns=["effect_size", "n_test", "n_reference", "power"])
    return frame.assign(mean_stratum="all", power_ci_low=0.0, power_ci_high=1.0, fdp=0.0,
                        replicates=1)


def test_summary_interpolates():
    table = _table(
        [
            # current: 30 vs 11
            (0.5, 30, 11, 0.2), (1.0, 30, 11, 0.6), (1.5, 30, 11, 0.9),
            (0.5, 10, 10, 0.1), (1.0, 10, 10, 0.5), (1.5, 10, 10, 0.7),
            (0.5, 40, 40, 0.5), (1.0, 40, 40, 0.95), (1.5, 40, 40, 1.0),
        ]
    )
    kind, effect = detectable_effect(table, (30, 11))
    assert kind == "between" and effect == pytest.approx(1.0 + 0.5 * 0.2 / 0.3)
    # 1.5-fold: log2 1.5 = 0.585; power 0.168 at 10, 0.5765 at 40 -> never 80%
    assert size_needed(table)[0] == "above"
    kind, n = size_needed(table, fold=2.0)  # log2FC 1: 0.5 at 10, 0.95 at 40
    assert kind == "between" and n == pytest.approx(10 + 30 * 0.3 / 0.45)
    sentence = summarise_power(table, (30, 11)).sentence("responder", "non-responder")
    assert sentence.startswith("With 30 responder against 11 non-responder samples, a change")
    assert "1.33" in sentence and "more than 40 samples per group" in sentence
    assert equivalent_size(30, 11) == pytest.approx(2 / (1 / 30 + 1 / 11))


# ----------------------------------------------------------------- the report
def test_report_states_power_with_figure_and_table(tmp_path):
    from msc_response.common.tables import write_table
    from msc_response.inputs.readers import read_sample_sheet
    from msc_response.report.files import ResultFiles, Stages

    from ._report_fixture import COLLECTIONS, CONTRASTS, png_bytes, render, write_results

    config = write_results(tmp_path)
    config["power"] = {"group_sizes": ["current", 10, 40], "replicates": 3, "fraction": 0.05,
                       "effect_sizes": [0.5, 1.0, 1.5], "seed": 1}
    name = "responder_vs_non_responder"
    sheet = read_sample_sheet(tmp_path / "config" / "samples.tsv")
    n_test, n_reference = current_sizes(sheet, CONTRASTS[name])
    table = _table(
        [
            (0.5, n_test, n_reference, 0.2), (1.0, n_test, n_reference, 0.6),
            (1.5, n_test, n_reference, 0.9),
            (0.5, 10, 10, 0.1), (1.0, 10, 10, 0.5), (1.5, 10, 10, 0.7),
            (0.5, 40, 40, 0.5), (1.0, 40, 40, 0.95), (1.5, 40, 40, 1.0),
        ]
    )[COLUMNS]
    paths = ResultFiles(str(tmp_path / "results")).power(name)
    (tmp_path / "results" / "power").mkdir()
    write_table(table, paths["table"])
    with open(paths["figure"], "wb") as handle:
        handle.write(png_bytes())
    html = render(tmp_path, config, Stages(tuple(COLLECTIONS), signature=True, power=(name,)))
    text = " ".join(html.split())
    expected = summarise_power(table, (n_test, n_reference)).sentence("responder", "non responder")
    assert expected in text
    assert f"With {n_test} responder against {n_reference} non responder samples" in text
    assert "a 1.5-fold change needs more than 40 samples per group" in text
    assert 'id="contrast-responder_vs_non_responder-power"' in html
    assert "Statistical power was estimated by simulation" in text
    # the other contrast had no power stage: no section
    assert 'id="contrast-bone_marrow_vs_adipose-power"' not in html


def test_a_contrast_between_two_non_reference_levels():
    """A three-level variable, contrast c vs b (neither the fitted reference): the
    other level's samples stay as they are, the two compared groups are resized."""
    from ._deseq_cases import synthetic

    samples = [f"s{i:02d}" for i in range(15)]
    sheet = pd.DataFrame(
        {"batch": ["x", "y", "z"] * 5, "group": ["a"] * 5 + ["b"] * 5 + ["c"] * 5},
        index=samples,
    )
    indicators = pd.DataFrame(
        {"b": (sheet["group"] == "b").astype(float), "c": (sheet["group"] == "c").astype(float)}
    )
    counts = synthetic(1500, indicators, {"b": 1.0, "c": 1.0}, seed=5, de_fraction=0.1)
    for column in sheet:
        sheet[column] = pd.Categorical(sheet[column])
    symbols = pd.Series(counts.columns, index=counts.columns)
    contrasts = [Contrast("b_vs_a", "group", "b", "a"), Contrast("c_vs_b", "group", "c", "b")]
    fit = fit_for_contrasts(counts, sheet, "~ batch + group", fit_plan(sheet, contrasts, None),
                            symbols, DESettings())
    source = source_cohort(fit.model, contrasts[1].as_list())
    assert (source.n_test, source.n_reference) == (5, 5)
    assert list(source.level[:5]) == ["a"] * 5
    settings = PowerSettings(effect_sizes=(1.0, 2.0), group_sizes=("current", 10),
                             fraction=0.1, replicates=1, seed=1)
    table = power_table(fit, contrasts[1].as_list(), DESettings(inference="default"), settings)
    assert set(zip(table["n_test"], table["n_reference"])) == {(5, 5), (10, 10)}
    every = table[table["mean_stratum"] == "all"].set_index(["effect_size", "n_test"])["power"]
    assert every[(2.0, 10)] > every[(1.0, 5)]
