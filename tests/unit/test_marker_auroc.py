"""The marker AUROC's interval (msc_response.markers.auroc): calibrated on null genes
with the example cohort's design, never a point at complete separation."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from msc_response.design.covariates import design_parts, fit_covariates
from msc_response.markers.auroc import (
    auroc,
    auroc_interval,
    bootstrap_interval,
    newcombe_interval,
)

ROOT = Path(__file__).resolve().parents[2]
DESIGN = "~ batch + source + response"


@pytest.fixture(scope="module")
def example_design():
    """The example cohort's sample sheet and default design (30 responders, 11
    non-responders; source unevenly spread over response)."""
    obs = pd.read_csv(ROOT / "config" / "samples.tsv", sep="\t", index_col=0)
    for column in ("response", "source", "batch"):
        obs[column] = obs[column].astype("category")
    parts = design_parts(obs, DESIGN, "response")
    is_test = (obs["response"] == "responder").to_numpy()
    return obs, parts, is_test


def _null_genes(obs, n_genes, seed):
    """Expression with tissue-source and batch effects and no response effect."""
    rng = np.random.default_rng(seed)
    source = pd.Categorical(obs["source"]).codes
    batch = pd.Categorical(obs["batch"]).codes
    return (
        rng.normal(0, 1.5, (3, n_genes))[source]
        + rng.normal(0, 0.5, (batch.max() + 1, n_genes))[batch]
        + rng.normal(size=(len(obs), n_genes))
    )


def test_null_genes_intervals_exclude_one_half_at_the_nominal_rate(example_design):
    """On 2,000 null genes with the example's design about 5% of the 95% intervals
    exclude 0.5 (binomial sd 0.5%; the percentile bootstrap of fixed adjusted values,
    the interval before, excluded it for ~10%)."""
    obs, parts, is_test = example_design
    values = _null_genes(obs, 2000, seed=11)
    fit = fit_covariates(values, parts.kept, parts.covariates)
    point = auroc(fit.remove(values, parts.covariates), is_test)
    low, high = auroc_interval(values, is_test, parts.kept, parts.covariates, point, 400, seed=3)
    excluded = np.mean((low > 0.5) | (high < 0.5))
    assert 0.03 <= excluded <= 0.07, excluded
    assert ((low <= point) & (point <= high)).all()


def test_complete_separation_gives_an_interval_not_a_point(example_design):
    obs, parts, is_test = example_design
    values = _null_genes(obs, 3, seed=2)
    values[:, 0] += 100 * is_test  # responders far above: AUROC 1
    values[:, 1] -= 100 * is_test  # far below: AUROC 0
    fit = fit_covariates(values, parts.kept, parts.covariates)
    point = auroc(fit.remove(values, parts.covariates), is_test)
    assert point[:2].tolist() == [1.0, 0.0]
    boot_low, boot_high = bootstrap_interval(values, is_test, parts.kept, parts.covariates, 200, 1)
    assert (boot_low[:2] == boot_high[:2]).all()  # the bootstrap alone collapses ...
    low, high = auroc_interval(values, is_test, parts.kept, parts.covariates, point, 200, seed=1)
    # ... the reported interval does not: Newcombe's score interval for 30 vs 11
    assert high[0] == 1 and 0.8 < low[0] < 0.95
    assert low[1] == 0 and 0.05 < high[1] < 0.2
    assert low[0] == pytest.approx(1 - high[1], abs=1e-12)  # symmetric


def test_newcombe_interval_matches_its_defining_equation():
    from scipy.stats import norm

    m, n = 30, 11
    estimate = np.array([0.0, 0.3, 0.5, 0.82, 1.0, np.nan])
    low, high = newcombe_interval(estimate, m, n)
    assert np.isnan(low[-1]) and np.isnan(high[-1])

    def gap(theta, value):  # zero at both ends of the interval
        half = (m + n) / 2 - 1
        var = theta * (1 - theta) / (m * n) * (
            1 + half * (1 - theta) / (2 - theta) + half * theta / (1 + theta))
        return (value - theta) ** 2 - norm.ppf(0.975) ** 2 * var

    for i in range(1, 4):
        assert low[i] < estimate[i] < high[i]
        assert gap(low[i], estimate[i]) == pytest.approx(0, abs=1e-12)
        assert gap(high[i], estimate[i]) == pytest.approx(0, abs=1e-12)
    assert low[0] == 0 and high[-2] == 1  # estimates at the bounds keep them


def test_bootstrap_refits_the_adjustment_and_is_seeded(example_design):
    """Seeded; a gene's interval does not depend on the other genes asked for; and
    the resamples refit the covariates: with a fixed adjustment the same resamples
    give a narrower interval on a gene with strong source effects."""
    obs, parts, is_test = example_design
    values = _null_genes(obs, 40, seed=5)
    one = bootstrap_interval(values, is_test, parts.kept, parts.covariates, 300, seed=9)
    again = bootstrap_interval(values, is_test, parts.kept, parts.covariates, 300, seed=9)
    np.testing.assert_array_equal(one[0], again[0])
    alone = bootstrap_interval(values[:, [7]], is_test, parts.kept, parts.covariates, 300, seed=9)
    assert alone[0][0] == one[0][7] and alone[1][0] == one[1][7]
    fixed = fit_covariates(values, parts.kept, parts.covariates).remove(values, parts.covariates)
    no_covariates = np.zeros((len(obs), 0))
    frozen = bootstrap_interval(fixed, is_test, parts.kept, no_covariates, 300, seed=9)
    assert np.median(one[1] - one[0]) > 1.1 * np.median(frozen[1] - frozen[0])
