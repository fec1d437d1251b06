"""The nested cross-validated signature: finds real signal, finds nothing in noise,
cannot score tissue source, skips small groups, and is reproducible."""

import numpy as np
import pandas as pd
import pytest

from msc_response.markers import signature as sig

FAST = dict(repeats=3, outer_folds=5, inner_folds=3, permutations=6, max_genes=20,
            candidate_genes=300, min_base_mean=0, seed=3)


def cohort(n=41, n_test=30, genes=300, informative=0, effect=1.2, source_genes=60,
           source_effect=3.0, source_link=0.0, seed=0):
    """VST-like values: noise, a tissue-source effect on `source_genes` genes, and a
    response effect on the first `informative` genes. `source_link` > 0 puts more
    responders in one source (association, not confounding)."""
    rng = np.random.default_rng(seed)
    y = np.r_[np.ones(n_test, int), np.zeros(n - n_test, int)]
    p_wj = np.where(y == 1, 0.33 + source_link, 0.33 - source_link)
    source = np.where(rng.random(n) < p_wj, "wj", np.where(rng.random(n) < 0.5, "bm", "adipose"))
    values = rng.normal(8, 0.5, (n, genes))
    values[:, genes - source_genes:] += source_effect * (source == "wj")[:, None]
    values[:, :informative] += effect * y[:, None]
    obs = pd.DataFrame(
        {"source": pd.Categorical(source),
         "response": pd.Categorical(np.where(y == 1, "responder", "non_responder"))},
        index=[f"S{i:02d}" for i in range(n)],
    )
    ids = [f"G{i:03d}" for i in range(genes)]
    return values, obs, y.astype(bool), ids


def run(values, obs, is_test, ids, design="~ source + response", **settings):
    return sig.run_signature(
        values, np.full_like(values, 100.0), obs, design, "response", is_test, ids, ids,
        sig.SignatureSettings(**{**FAST, **settings}),
    )


def test_signal_is_found_and_beats_the_null():
    values, obs, is_test, ids = cohort(informative=8)
    result = run(values, obs, is_test, ids)
    perf = result.performance.iloc[0]
    assert perf["status"] == "ok"
    assert perf["auroc_mean"] > 0.9
    assert perf["null_auroc_mean"] < 0.65 and perf["p_value"] <= 1 / 7 + 1e-9
    assert perf["cv_repeat_range_low"] <= perf["auroc_mean"] <= perf["cv_repeat_range_high"]
    # the interval is the sampling interval from the group sizes, never degenerate
    assert (perf["auroc_ci_low"], perf["auroc_ci_high"]) == sig.sampling_ci(perf["auroc_mean"], 30, 11)
    assert perf["auroc_ci_low"] < perf["auroc_mean"] <= perf["auroc_ci_high"]
    assert (perf["n_test"], perf["n_reference"]) == (30, 11)
    assert "11 reference" in perf["note"] and "independent cohort" in perf["note"]
    table = result.signature
    assert list(table.columns) == sig.SIGNATURE_COLUMNS
    # the planted genes are used in every fold and lead the table (frequency, then
    # |coefficient|); noise genes correlated with the labels by chance can follow
    top = table.head(8)
    assert set(top["gene_id"]) == {f"G{i:03d}" for i in range(8)}
    assert (top["selection_frequency"] == 1).all() and (top["direction"] == "up").all()


def test_no_signal_gives_chance_auroc():
    """No leakage: with labels unrelated to expression, held-out AUROCs average 0.5
    (5 cohorts, so one unlucky draw cannot decide)."""
    means = []
    for seed in range(5):
        values, obs, is_test, ids = cohort(seed=seed)
        result = run(values, obs, is_test, ids, permutations=0, repeats=2)
        means.append(result.performance.iloc[0]["auroc_mean"])
    assert abs(np.mean(means) - 0.5) < 0.1, means


def test_tissue_source_cannot_be_scored():
    """Responders are mostly from one source and source genes are strong, but no
    gene responds to treatment: with source in the design the classifier is at
    chance; leaving source out of the design lets it score source (the control
    that shows the test could fail). Eight cohorts: one cohort's held-out AUROC
    scatters by ~0.1 around its mean."""
    means, control = [], []
    for seed in range(8):
        values, obs, is_test, ids = cohort(source_link=0.3, source_genes=100, seed=seed)
        means.append(run(values, obs, is_test, ids, permutations=0, repeats=2)
                     .performance.iloc[0]["auroc_mean"])
        control.append(run(values, obs, is_test, ids, design="~ response", permutations=0,
                           repeats=2).performance.iloc[0]["auroc_mean"])
    assert abs(np.mean(means) - 0.5) < 0.1, means
    assert np.mean(control) > 0.65, control


def test_permutations_stay_within_strata():
    rng = np.random.default_rng(0)
    y = np.tile([1, 1, 0], 10)
    strata = np.repeat(["a", "b", "c"], 10)
    permuted = sig.permute_within(y, strata, rng)
    for s in "abc":
        assert permuted[strata == s].sum() == y[strata == s].sum()
    assert not np.array_equal(permuted, y)


def test_small_group_is_skipped_with_a_note():
    values, obs, is_test, ids = cohort(n=30, n_test=25, informative=5)
    result = run(values, obs, is_test, ids, min_per_group=8)
    perf = result.performance.iloc[0]
    assert perf["status"] == "skipped" and "5 samples" in perf["note"]
    assert np.isnan(perf["auroc_mean"]) and result.signature.empty
    assert list(result.signature.columns) == sig.SIGNATURE_COLUMNS
    assert list(result.performance.columns) == sig.PERFORMANCE_COLUMNS


def test_seeded_runs_are_identical():
    values, obs, is_test, ids = cohort(informative=8)
    first, second = (run(values, obs, is_test, ids, repeats=2, permutations=2) for _ in "ab")
    pd.testing.assert_frame_equal(first.performance, second.performance)
    pd.testing.assert_frame_equal(first.signature, second.signature)


def test_sampling_interval_is_conservative_at_perfect_separation():
    low, high = sig.sampling_ci(1.0, 30, 11)
    assert high == 1.0 and 0.7 < low < 0.8  # 11 non-responders cannot prove AUROC 1
    low, high = sig.sampling_ci(0.75, 300, 300)
    assert high - low < 0.1


@pytest.mark.parametrize("l1_ratio", [0.0, 1.0])
def test_both_penalties_run(l1_ratio):
    values, obs, is_test, ids = cohort(informative=8)
    perf = run(values, obs, is_test, ids, l1_ratio=l1_ratio, repeats=1, permutations=0)
    assert perf.performance.iloc[0]["auroc_mean"] > 0.85


def test_null_statistic_is_the_observed_statistic_on_permuted_labels():
    """Like for like: each permutation's null value is the mean held-out AUROC over the
    same repeats (same fold seeds) that the observed value averages, recomputed here
    with the cross-validation alone; p = (1 + null >= observed) / (1 + permutations)."""
    from msc_response.design.covariates import design_parts
    from msc_response.markers.signature_cv import cross_validate

    values, obs, is_test, ids = cohort(informative=2, effect=0.8, genes=120)
    settings = sig.SignatureSettings(**{**FAST, "candidate_genes": 120, "permutations": 4})
    result = run(values, obs, is_test, ids, candidate_genes=120, permutations=4)
    covariates = design_parts(obs, "~ source + response", "response").covariates
    y = is_test.astype(int)

    def statistic(labels):
        return np.mean([r.auroc for r in cross_validate(values, labels, covariates, settings)])

    perf = result.performance.iloc[0]
    assert perf["auroc_mean"] == pytest.approx(statistic(y), abs=1e-12)
    null = np.array([statistic(labels) for labels, _ in result.null])
    np.testing.assert_allclose([cv.auroc for _, cv in result.null], null, atol=1e-12)
    assert perf["null_auroc_mean"] == pytest.approx(null.mean(), abs=1e-12)
    assert perf["p_value"] == pytest.approx((1 + (null >= perf["auroc_mean"]).sum()) / 5)
    assert len(result.null) == 4 and all(len(labels) == len(y) for labels, _ in result.null)


def test_default_permutations_put_the_p_value_floor_at_most_001():
    import yaml

    from tests.unit.test_markers import ROOT

    for permutations in (sig.SignatureSettings().permutations,
                         yaml.safe_load((ROOT / "config/config.yaml").read_text())
                         ["markers"]["signature"]["permutations"]):
        assert 1 / (1 + permutations) <= 0.01


def test_l2_solver_matches_liblinear_at_tight_tolerance():
    """The batched Newton solver minimises liblinear's objective (intercept a penalised
    feature, balanced sample weights): scikit-learn at tol 1e-12 gives the same weights."""
    from sklearn.linear_model import LogisticRegression

    from msc_response.markers.signature_cv import balanced_weights, l2_logistic

    rng = np.random.default_rng(5)
    problems, expected = [], []
    for b in range(6):
        n = 20 + b
        x = rng.normal(size=(n, 30))
        y = (rng.random(n) < 0.3 + 0.05 * b).astype(int)
        y[:2] = [0, 1]
        x[y == 1, :3] += 1.0
        problems.append((x, y))
    n = max(len(y) for _, y in problems)
    design = np.zeros((6, n, 31))
    signs, weights = np.zeros((6, n)), np.zeros((6, n))
    for b, (x, y) in enumerate(problems):
        design[b, : len(y), :30], design[b, : len(y), 30] = x, 1
        signs[b, : len(y)], weights[b, : len(y)] = 2 * y - 1, balanced_weights(y)
    kernel = design @ np.swapaxes(design, 1, 2)
    alpha = None
    for c in (0.01, 0.1, 1.0):  # the warm-started path
        alpha = l2_logistic(kernel, signs, c * weights, alpha)
        w = np.einsum("bnp,bn->bp", design, alpha)
        for b, (x, y) in enumerate(problems):
            reference = LogisticRegression(C=c, solver="liblinear", tol=1e-12, max_iter=100_000)
            reference.fit(x, y, sample_weight=balanced_weights(y))
            np.testing.assert_allclose(w[b, :30], reference.coef_[0], atol=1e-6)
            assert w[b, 30] == pytest.approx(reference.intercept_[0], abs=1e-6)


def test_stratified_folds_spread_each_class():
    from msc_response.markers.signature_cv import stratified_folds

    y = np.r_[np.ones(30, int), np.zeros(11, int)]
    folds = stratified_folds(y, 5, np.random.default_rng(0))
    assert sorted(np.bincount(folds[y == 1])) == [6] * 5
    assert sorted(np.bincount(folds[y == 0])) == [2, 2, 2, 2, 3]
    again = stratified_folds(y, 5, np.random.default_rng(0))
    np.testing.assert_array_equal(folds, again)


def test_gene_selection_from_group_sums_equals_the_direct_computation():
    """select_genes (covariates fitted on the outer training set without the label;
    Welch t from group sums, inner sets by subtraction) picks the genes and features
    that the plain per-set computation gives."""
    from msc_response.markers.signature_cv import select_genes, stratified_folds

    rng = np.random.default_rng(0)
    n = 41
    values = rng.normal(8, 1, (n, 600))
    covariates = np.zeros((n, 3))
    covariates[np.arange(n), rng.integers(0, 3, n)] = 1
    y = (np.arange(n) % 4 != 0).astype(int)
    values[:, :10] += 0.8 * y[:, None]
    values -= values.mean(axis=0)
    training = stratified_folds(y, 5, np.random.default_rng(1)) != 0
    rows = np.flatnonzero(training)
    inner = stratified_folds(y[rows], 3, np.random.default_rng(2))
    outer, inner_sets = select_genes(values, covariates, y, training, inner, 3, 25)
    centre = covariates[rows].mean(axis=0)
    design = np.hstack([np.ones((len(rows), 1)), covariates[rows] - centre])
    adjusted = values - (covariates - centre) @ (np.linalg.pinv(design)[1:] @ values[rows])

    def direct(members):
        a, labels = adjusted[members], y[members]
        g1, g0 = a[labels == 1], a[labels == 0]
        t = (g1.mean(0) - g0.mean(0)) / np.sqrt(g1.var(0, ddof=1) / len(g1) + g0.var(0, ddof=1) / len(g0))
        genes = np.sort(np.lexsort((np.arange(len(t)), -np.abs(t)))[:25])
        chosen = adjusted[:, genes]
        return genes, (chosen - chosen[members].mean(0)) / chosen[members].std(0, ddof=1)

    sets = [(training, outer)]
    for j in range(3):
        members = np.zeros(n, dtype=bool)
        members[rows[inner != j]] = True
        sets.append((members, inner_sets[j]))
    for members, selected in sets:
        genes, features = direct(members)
        np.testing.assert_array_equal(selected.genes, genes)
        np.testing.assert_allclose(selected.features, features, atol=1e-10)
    assert len({tuple(s.genes) for _, s in sets}) > 1  # the inner sets choose differently
