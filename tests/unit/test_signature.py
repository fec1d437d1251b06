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
    assert perf["auroc_ci_low"] <= perf["auroc_mean"] <= perf["auroc_ci_high"]
    assert perf["auroc_sampling_ci_low"] < perf["auroc_mean"]  # never degenerate
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
    that shows the test could fail)."""
    means, control = [], []
    for seed in range(3):
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
