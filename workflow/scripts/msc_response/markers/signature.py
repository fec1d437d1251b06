"""A response signature and an honest estimate of how well it predicts.

Penalised logistic regression (scikit-learn) on VST expression, evaluated by a
repeated, stratified, nested cross-validation: everything that looks at the labels
(removing covariate effects, choosing genes, tuning the penalty) happens inside the
training part of each fold, so the held-out AUROC is not inflated by having chosen
genes on all samples. The permutation null is the same procedure, statistic and
folds' seeds on labels permuted within covariate strata: each permutation's null
value is its held-out AUROC averaged over the same number of repeats as the observed
one, and the default 99 permutations put the p-value's floor at 0.01
(`signature_cv` makes the ~1,000 nested cross-validations this takes fast).

Per outer training set: (1) covariate effects (tissue source, batch, ...) are
fitted on its samples and removed from training and held-out samples alike, with
the training fit, so the classifier cannot score a sample by its source; the fit
never sees a label, so the inner folds reuse it. The label is deliberately not in
that fit: with it, and a source that holds (almost)
only one group, the errors of the label's and the source's coefficients are tied,
gene selection picks genes whose source effect was misestimated in the direction of
the label, and held-out samples of that source shift accordingly (measured on
no-signal data with responders mostly from one source: held-out AUROC 0.73 with the
label in the fit, 0.5 without). Per training set (outer or inner): (2) the
`max_genes` genes with the largest |t| between the groups are kept; (3) they are standardised with training means/SDs; (4) a penalised
logistic regression with balanced class weights is fitted (L2 by default: on
null data it was the least biased, held-out AUROC 0.52 +- 0.12 against 0.46 +- 0.08
for L1, 30 simulated 41-sample cohorts), its penalty C chosen by an inner
cross-validation of the same steps (pooled inner held-out AUROC; ties: smaller C).

Reported: the mean held-out AUROC over repeats with a sampling interval from the
group sizes (`auroc_ci_low/high`, `sampling_ci`), the range of the repeats
(`cv_repeat_range_low/high`: fold-split noise only, not a confidence interval), the
null's mean and 95th percentile and the permutation p-value.

Before any of that, genes are narrowed to `candidate_genes` by a label-free rule
(mean normalised count, then variance after removing covariates without the label),
which keeps the run short and cannot leak the labels.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from msc_response.design.covariates import design_parts, fit_covariates
from msc_response.markers.signature_cv import CVResult, cross_validate

log = logging.getLogger(__name__)

PERFORMANCE_COLUMNS = [
    "status", "auroc_mean", "auroc_ci_low", "auroc_ci_high", "cv_repeat_range_low",
    "cv_repeat_range_high", "null_auroc_mean", "null_auroc_q95", "p_value",
    "n_test", "n_reference", "repeats", "outer_folds", "inner_folds", "permutations",
    "candidate_genes", "max_genes", "note",
]
SIGNATURE_COLUMNS = ["gene_id", "symbol", "selection_frequency", "mean_coefficient", "direction"]


@dataclass
class SignatureSettings:
    repeats: int = 10
    outer_folds: int = 5
    inner_folds: int = 3
    permutations: int = 99
    max_genes: int = 50
    candidate_genes: int = 2000
    min_base_mean: float = 10.0
    l1_ratio: float = 0.0
    c_grid: list[float] = field(default_factory=lambda: [0.01, 0.1, 1.0])
    min_per_group: int = 8
    seed: int = 1

    @classmethod
    def from_config(cls, config: dict) -> "SignatureSettings":
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in config.items() if k in known})


def permute_within(y: np.ndarray, strata: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Labels shuffled within each stratum (e.g. tissue source x batch), so the null
    keeps any association between the label and the covariates."""
    permuted = y.copy()
    for stratum in np.unique(strata):
        members = np.flatnonzero(strata == stratum)
        permuted[members] = y[rng.permutation(members)]
    return permuted


def candidate_genes(
    vst: np.ndarray, normalised: np.ndarray, covariates: np.ndarray, settings: SignatureSettings
) -> np.ndarray:
    """Label-free gene filter: mean normalised count >= min_base_mean, then the
    `candidate_genes` largest variances after removing the covariates (no label)."""
    expressed = np.flatnonzero(normalised.mean(axis=0) >= settings.min_base_mean)
    fit = fit_covariates(vst[:, expressed], np.ones((len(vst), 1)), covariates)
    variance = fit.remove(vst[:, expressed], covariates).var(axis=0)
    order = np.lexsort((expressed, -variance))[: settings.candidate_genes]
    return np.sort(expressed[order])


def sampling_ci(auc: float, n1: int, n0: int, level: float = 0.95) -> tuple[float, float]:
    """A conservative interval for an AUROC from the group sizes alone: the Wilson
    score interval of a proportion observed on min(n1, n0) trials. The variance of
    an AUROC estimate is at most AUC(1 - AUC) / min(n1, n0) (Birnbaum & Klose 1957),
    the variance of such a proportion; unlike Hanley-McNeil's formula this does not
    shrink to nothing when the groups happen to separate perfectly."""
    from statistics import NormalDist  # not scipy.stats: its import costs ~1 s

    if not np.isfinite(auc):
        return np.nan, np.nan
    n = min(n1, n0)
    z = NormalDist().inv_cdf(0.5 + level / 2)
    centre = (auc + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * np.sqrt(auc * (1 - auc) / n + z**2 / (4 * n**2))
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class SignatureResult:
    performance: pd.DataFrame  # one row
    signature: pd.DataFrame
    repeats: list[CVResult] = field(default_factory=list)
    # (labels, result): per permutation, the first repeat's scores and the mean AUROC
    null: list[tuple[np.ndarray, CVResult]] = field(default_factory=list)
    y: np.ndarray | None = None


def too_few_samples(n_test: int, n_reference: int, settings: SignatureSettings) -> str | None:
    """Why the groups are too small for the nested CV, or None."""
    smallest = min(n_test, n_reference)
    # The inner split of an outer training part must still hold inner_folds samples
    # of the smaller group.
    inner_ok = smallest * (settings.outer_folds - 1) // settings.outer_folds >= settings.inner_folds
    if smallest < max(settings.min_per_group, settings.outer_folds) or not inner_ok:
        return (
            f"the smaller group has {smallest} samples ({n_test} test, "
            f"{n_reference} reference); the nested cross-validation needs at least "
            f"{max(settings.min_per_group, settings.outer_folds)} per group "
            f"(markers.signature.min_per_group, outer_folds)"
        )
    return None


def uncertainty_note(perf: dict) -> str:
    n1, n0 = perf["n_test"], perf["n_reference"]
    return (
        f"{n1 + n0} samples ({n1} test, {n0} reference). With {min(n1, n0)} samples in "
        f"the smaller group the 95% interval of the AUROC is wide "
        f"({perf['auroc_ci_low']:.2f}-{perf['auroc_ci_high']:.2f}, conservative, from the "
        f"group sizes); the {perf['repeats']} cross-validation repeats span only "
        f"{perf['cv_repeat_range_low']:.2f}-{perf['cv_repeat_range_high']:.2f}, which is "
        f"fold-split noise, not sampling uncertainty. Null: mean held-out AUROC "
        f"{perf['null_auroc_mean']:.2f} over {perf['permutations']} label permutations "
        f"within covariate strata, each through the same {perf['repeats']} repeats. A "
        f"signature from one small cohort must be validated in an independent cohort "
        f"before it guides any treatment decision."
    )


def run_signature(
    vst: np.ndarray,
    normalised: np.ndarray,
    obs: pd.DataFrame,
    design: str,
    variable: str,
    is_test: np.ndarray,
    gene_ids,
    symbols,
    settings: SignatureSettings,
) -> SignatureResult:
    """The whole signature analysis on the contrast's samples (rows of `vst`)."""
    y = np.asarray(is_test, dtype=int)
    n_test, n_reference = int(y.sum()), int(len(y) - y.sum())
    base = {
        "n_test": n_test, "n_reference": n_reference, "repeats": settings.repeats,
        "outer_folds": settings.outer_folds, "inner_folds": settings.inner_folds,
        "permutations": settings.permutations, "candidate_genes": settings.candidate_genes,
        "max_genes": settings.max_genes,
    }
    skip = too_few_samples(n_test, n_reference, settings)
    if skip:
        log.warning("signature %s", skip)
        row = {c: np.nan for c in PERFORMANCE_COLUMNS} | base | {"status": "skipped", "note": skip}
        return SignatureResult(pd.DataFrame([row], columns=PERFORMANCE_COLUMNS),
                               pd.DataFrame(columns=SIGNATURE_COLUMNS), y=y)

    parts = design_parts(obs, design, variable)
    covariates = parts.covariates
    candidates = candidate_genes(vst, normalised, covariates, settings)
    values = np.ascontiguousarray(vst[:, candidates])
    log.info("signature: %d candidate genes, %d x %d-fold nested CV, %d permutations",
             len(candidates), settings.repeats, settings.outer_folds, settings.permutations)

    repeats = cross_validate(values, y, covariates, settings)
    strata = _strata(obs, design, variable)
    rng = np.random.default_rng(settings.seed)
    null = []
    for _ in range(settings.permutations):
        labels = permute_within(y, strata, rng)
        runs = cross_validate(values, labels, covariates, settings, keep_coefficients=False)
        # the null statistic is the observed one's: the mean over the same repeats
        null.append((labels, CVResult(runs[0].scores, float(np.mean([r.auroc for r in runs])), [])))

    aucs = np.array([r.auroc for r in repeats])
    null_aucs = np.array([r.auroc for _, r in null])
    mean = float(aucs.mean())
    low, high = sampling_ci(mean, n_test, n_reference)
    perf = base | {
        "status": "ok",
        "auroc_mean": mean,
        "auroc_ci_low": low,
        "auroc_ci_high": high,
        "cv_repeat_range_low": float(np.percentile(aucs, 2.5)),
        "cv_repeat_range_high": float(np.percentile(aucs, 97.5)),
        "null_auroc_mean": float(null_aucs.mean()) if len(null_aucs) else np.nan,
        "null_auroc_q95": float(np.percentile(null_aucs, 95)) if len(null_aucs) else np.nan,
        "p_value": float((1 + (null_aucs >= mean).sum()) / (1 + len(null_aucs)))
        if len(null_aucs) else np.nan,
    }
    perf["note"] = uncertainty_note(perf)
    signature = _signature_table(repeats, candidates, gene_ids, symbols)
    return SignatureResult(pd.DataFrame([perf], columns=PERFORMANCE_COLUMNS), signature,
                           repeats, null, y)


def _strata(obs: pd.DataFrame, design: str, variable: str) -> np.ndarray:
    """Combination of the design's categorical covariates, per sample."""
    from msc_response.design.formula import design_variables

    covariates = [
        v for v in design_variables(design)
        if v != variable and v in obs and not pd.api.types.is_numeric_dtype(obs[v])
    ]
    if not covariates:
        return np.zeros(len(obs), dtype=int)
    return obs[covariates].astype(str).agg("|".join, axis=1).to_numpy()


def _signature_table(repeats: list[CVResult], candidates, gene_ids, symbols) -> pd.DataFrame:
    """Genes with a non-zero coefficient in any outer-fold model: how often (over all
    outer folds of all repeats) and their mean standardised coefficient when chosen."""
    fits = [c for r in repeats for c in r.coefficients]
    if not fits:
        return pd.DataFrame(columns=SIGNATURE_COLUMNS)
    chosen = pd.concat(fits)
    if chosen.empty:
        return pd.DataFrame(columns=SIGNATURE_COLUMNS)
    stats = chosen.groupby(level=0).agg(["size", "mean"])
    index = candidates[stats.index.to_numpy()]
    table = pd.DataFrame(
        {
            "gene_id": np.asarray(gene_ids)[index],
            "symbol": np.asarray(symbols)[index],
            "selection_frequency": stats["size"].to_numpy() / len(fits),
            "mean_coefficient": stats["mean"].to_numpy(),
        }
    )
    table["direction"] = np.where(table["mean_coefficient"] > 0, "up", "down")
    table["_abs"] = -table["mean_coefficient"].abs()
    table = table.sort_values(["selection_frequency", "_abs", "gene_id"],
                              ascending=[False, True, True], kind="mergesort")
    return table.drop(columns="_abs").reset_index(drop=True)
