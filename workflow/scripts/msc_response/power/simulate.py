"""Cohorts simulated from a fitted design, for the power stage (rule power).

`source_cohort` takes from the fitted model (`de.fit.FittedModel`, as read from
results/de/fit.h5ad) what a simulated cohort copies, for one two-level contrast:

- **means**: each sample's fitted mean (its covariates' effects included) with the
  contrast's effect removed, so that no gene differs between the two groups unless
  an effect is planted in it;
- **dispersions**: each gene's final dispersion, redrawn for every simulated cohort
  on the log scale with sd tau, tau^2 = s^2 v / (s^2 + v), where s^2 is the fit's
  dispersion prior variance (the scatter of the true log dispersions about the
  trend) and v = trigamma(df / 2) the sampling variance of a log dispersion estimate
  with the cohort's residual df: a draw from each gene's posterior, so that the
  simulated dispersions scatter about the trend as much as DESeq2 says the true ones
  do (the final estimates, shrunk towards the trend, scatter less);
- **samples**: a simulated sample is a copy of a cohort sample of its group (its
  design row: covariates, and its size factor) with fresh counts; for a group of n
  from a group of m, each sample is copied n // m times and the remaining n % m
  copies are shared among the covariate combinations of the group in proportion
  (largest remainders), so the covariates keep their proportions. 'current' copies
  every sample once. Samples of other levels of the variable are copied once.

`simulate_cohort` then plants effects (|log2FC| from the effect sizes, in equal
shares, up or down at random) in a random `fraction` of the genes, in the test
group's means, and draws negative binomial counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import polygamma

from msc_response.common.errors import InputError
from msc_response.de.fit import FittedModel

LN2 = np.log(2.0)
STRATUM_BOUNDS = (10.0, 100.0, 1000.0)  # mean normalised count
ALL = "all"


def stratum_labels(bounds=STRATUM_BOUNDS) -> list[str]:
    """'0-10', '10-100', '100-1000', '1000+' for the default bounds."""
    edges = [0.0, *bounds]
    labels = [f"{_number(a)}-{_number(b)}" for a, b in zip(edges[:-1], edges[1:])]
    return labels + [f"{_number(edges[-1])}+"]


def _number(value: float) -> str:
    return f"{value:g}"


def mean_strata(base_mean: np.ndarray, bounds=STRATUM_BOUNDS) -> np.ndarray:
    """Index of each gene's stratum of `stratum_labels` (by its mean count)."""
    return np.searchsorted(np.asarray(bounds), np.asarray(base_mean), side="right")


@dataclass
class SourceCohort:
    """The fitted cohort as the simulation copies it, for one contrast."""

    contrast: tuple[str, str, str]  # variable, test, reference
    design_matrix: pd.DataFrame  # cohort samples x coefficients
    size_factors: np.ndarray
    level: np.ndarray  # each sample's level of the contrast variable
    covariates: np.ndarray  # each sample's covariate combination (an integer id)
    null_log_means: np.ndarray  # samples x genes, natural log, before size factors
    log_dispersions: np.ndarray  # per gene
    dispersion_sd: float  # of the log-dispersion draws
    base_mean: np.ndarray  # per gene: the cohort's mean normalised count
    genes: pd.Index

    @property
    def n_test(self) -> int:
        return int((self.level == self.contrast[1]).sum())

    @property
    def n_reference(self) -> int:
        return int((self.level == self.contrast[2]).sum())


def _variable_columns(columns: list[str], variable: str, level: str) -> list[str]:
    """The design columns that code `level` of `variable` (treatment coding
    'variable[T.level]', or 'variable[level]' without an intercept)."""
    return [c for c in columns if c in (f"{variable}[T.{level}]", f"{variable}[{level}]")]


def sample_levels(design: pd.DataFrame, variable: str, levels: list[str]) -> np.ndarray:
    """Each sample's level of `variable`, read from the design matrix: the level whose
    column holds 1, or the one level without a column (the fitted reference)."""
    columns = list(design.columns)
    coded = {level: _variable_columns(columns, variable, level) for level in levels}
    uncoded = [level for level, found in coded.items() if not found]
    if len(uncoded) > 1:
        raise ValueError(f"levels {uncoded} of {variable!r} have no design column")
    out = np.full(len(design), uncoded[0] if uncoded else "", dtype=object)
    for level, found in coded.items():
        if found:
            out[design[found[0]].to_numpy() == 1] = level
    if (out == "").any():
        raise ValueError(f"some samples have no level of {variable!r} in the design")
    return out


def source_cohort(model: FittedModel, contrast: list[str], fit_path: str = "") -> SourceCohort:
    """What simulated cohorts copy from the fitted `model` for `contrast`
    ([variable, test, reference])."""
    variable, test, reference = contrast
    key = (variable, test, reference)
    if key not in model.contrast_vectors:
        raise InputError(
            f"Fit file '{fit_path}' has no contrast {list(key)}; rerun rule deseq2_fit "
            f"(`snakemake --forcerun deseq2_fit`)."
        )
    if not np.isfinite(model.prior_disp_var):
        raise InputError(
            f"Fit file '{fit_path}' does not hold the dispersion prior variance "
            f"(uns/prior_disp_var) that the power stage needs: it was written by an "
            f"earlier version of the workflow. Fix: `snakemake --forcerun deseq2_fit`."
        )
    design = model.design_matrix
    levels = sorted({k[1] for k in model.contrast_vectors if k[0] == variable})
    level = sample_levels(design, variable, levels)
    variable_columns = [c for lv in levels for c in _variable_columns(list(design.columns), variable, lv)]
    rest = design.drop(columns=variable_columns).to_numpy(dtype=float)
    _, covariates = np.unique(np.round(rest, 10), axis=0, return_inverse=True)

    lfc = model.lfc.to_numpy(dtype=float)  # genes x coefficients
    dispersions = np.asarray(model.dispersions, dtype=float)
    usable = (
        np.asarray(model.non_zero, dtype=bool)
        & np.isfinite(lfc).all(axis=1)
        & np.isfinite(dispersions)
        & (dispersions > 0)
    )
    lfc, dispersions = lfc[usable], dispersions[usable]
    effect = lfc @ model.contrast_vectors[key]  # the cohort's own contrast LFC
    is_test = (level == test).astype(float)
    null_log_means = design.to_numpy(dtype=float) @ lfc.T - is_test[:, None] * effect[None, :]

    n, p = design.shape
    prior_var = float(model.prior_disp_var)
    sampling_var = float(polygamma(1, (n - p) / 2.0))
    tau2 = prior_var * sampling_var / (prior_var + sampling_var)
    return SourceCohort(
        contrast=key,
        design_matrix=design,
        size_factors=model.size_factors.to_numpy(dtype=float),
        level=level,
        covariates=covariates.ravel(),
        null_log_means=null_log_means,
        log_dispersions=np.log(dispersions),
        dispersion_sd=float(np.sqrt(tau2)),
        base_mean=model.base_mean.to_numpy(dtype=float)[usable],
        genes=model.lfc.index[usable],
    )


def allocate(covariates: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Positions (into `covariates`, one group's samples) of `n` copies: every
    sample n // m times, the n % m others shared among the covariate combinations
    in proportion (largest remainders, ties at random), samples within a
    combination at random."""
    m = len(covariates)
    whole, extra = divmod(int(n), m)
    chosen = [np.repeat(np.arange(m), whole)]
    if extra:
        combos, inverse, counts = np.unique(covariates, return_inverse=True, return_counts=True)
        quota = extra * counts / m
        take = np.floor(quota).astype(int)
        order = np.lexsort((rng.random(len(combos)), -(quota - take)))
        take[order[: extra - take.sum()]] += 1
        for k, t in enumerate(take):
            if t:
                chosen.append(rng.choice(np.flatnonzero(inverse.ravel() == k), t, replace=False))
    return np.sort(np.concatenate(chosen))


@dataclass
class SimulatedCohort:
    counts: pd.DataFrame  # samples x genes (the source's genes)
    design_matrix: pd.DataFrame  # samples x coefficients (columns never drawn dropped)
    vector: np.ndarray  # the contrast vector over those columns
    min_group: int  # the smallest group of the contrast variable's levels
    planted: np.ndarray  # gene positions
    effect: np.ndarray  # per planted gene: index into the effect sizes
    sign: np.ndarray  # per planted gene: +1 (up in test) or -1


class InfeasibleSize(ValueError):
    """A group size whose simulated design cannot be fitted."""


def planted_per_effect(n_genes: int, fraction: float, n_effects: int) -> int:
    return int(round(fraction * n_genes)) // n_effects


def simulate_cohort(
    source: SourceCohort,
    vector: np.ndarray,
    sizes: tuple[int, int] | None,
    effect_sizes: tuple[float, ...],
    fraction: float,
    rng: np.random.Generator,
) -> SimulatedCohort:
    """One simulated cohort: `sizes` (test, reference) samples, or the cohort's own
    samples for None; effects in a random `fraction` of genes."""
    _, test, reference = source.contrast
    groups = []
    for level in dict.fromkeys([test, reference, *source.level]):
        members = np.flatnonzero(source.level == level)
        if sizes is not None and level in (test, reference):
            n = sizes[0] if level == test else sizes[1]
            members = members[allocate(source.covariates[members], n, rng)]
        groups.append(members)
    templates = np.concatenate(groups)
    names = [f"sim{i + 1:03d}" for i in range(len(templates))]

    design = source.design_matrix.iloc[templates].set_axis(names, axis=0)
    drawn = (design != 0).any(axis=0).to_numpy() | (np.asarray(vector) != 0)
    design, vector = design.loc[:, drawn], np.asarray(vector, dtype=float)[drawn]
    n, p = design.shape
    if np.linalg.matrix_rank(design.to_numpy()) < p or n <= p:
        raise InfeasibleSize(
            f"{sizes[0]} vs {sizes[1]} samples: the simulated design is not full rank "
            f"or leaves no residual degrees of freedom"
        )

    n_genes = len(source.genes)
    per_effect = planted_per_effect(n_genes, fraction, len(effect_sizes))
    planted = rng.choice(n_genes, per_effect * len(effect_sizes), replace=False)
    effect = np.repeat(np.arange(len(effect_sizes)), per_effect)
    sign = rng.choice(np.array([-1.0, 1.0]), len(planted))

    log_means = source.null_log_means[templates]
    is_test = source.level[templates] == test
    shift = sign * np.asarray(effect_sizes, dtype=float)[effect] * LN2
    log_means[np.ix_(is_test, planted)] += shift[None, :]
    means = source.size_factors[templates, None] * np.exp(log_means)
    dispersions = np.exp(
        source.log_dispersions + source.dispersion_sd * rng.standard_normal(n_genes)
    )
    counts = rng.negative_binomial(1.0 / dispersions, 1.0 / (1.0 + dispersions * means))
    level_sizes = pd.Series(source.level[templates]).value_counts()
    return SimulatedCohort(
        counts=pd.DataFrame(counts, index=names, columns=source.genes),
        design_matrix=design,
        vector=vector,
        min_group=int(level_sizes.min()),
        planted=planted,
        effect=effect,
        sign=sign,
    )
