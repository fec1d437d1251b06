"""Power of a contrast, by simulation from its fitted design (rule power).

For every group size and replicate, `power_table` simulates a cohort
(`simulate.simulate_cohort`), fits it with the workflow's own DE path and settings
(`de.fit.prefilter_mask`, `de.fit.fit_design` with the fast engine, gene-vectorised,
whichever engine the config names for the cohort's own fit; `de.results.wald_results` for the Wald test, Cook's filter,
independent filtering and BH at alpha) and scores it: a planted gene is found when
its padj < alpha and its log2FC has the planted sign (pre-filtered genes are not
found); any other gene called is a false discovery. All effect sizes are planted in
the same cohorts, so each cohort is fitted once.

Table (`COLUMNS`, results/power/{contrast}.tsv): per effect size, group size and
mean-count stratum of the gene (the cohort's mean normalised count; plus 'all'):
power pooled over the replicates with a Clopper-Pearson 95% interval, and the false
discovery proportion (false calls over all calls in that stratum, pooled over the
replicates; the same for every effect size, as they share their cohorts).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import beta

from msc_response.common.errors import InputError
from msc_response.de.fit import DesignFit, DESettings, FittedModel, fit_design, prefilter_mask
from msc_response.de.results import wald_results
from msc_response.power.config import COLUMNS, CURRENT, PowerSettings
from msc_response.power.simulate import (
    ALL,
    InfeasibleSize,
    SimulatedCohort,
    mean_strata,
    planted_per_effect,
    simulate_cohort,
    source_cohort,
    stratum_labels,
)

log = logging.getLogger(__name__)

CONFIDENCE = 0.95


def called_genes(
    cohort: SimulatedCohort, contrast: tuple, settings: DESettings
) -> tuple[np.ndarray, np.ndarray]:
    """Fit one simulated cohort as the workflow fits a cohort; returns, per gene of
    the cohort, whether it is called (padj < alpha) and its log2FC sign (0 where not
    tested)."""
    min_samples = settings.min_samples if settings.min_samples is not None else cohort.min_group
    keep = prefilter_mask(cohort.counts, settings.min_count, min_samples)
    counts = cohort.counts.loc[:, keep]
    design = cohort.design_matrix
    dds = fit_design(counts, pd.DataFrame(index=counts.index), design, settings)
    model = _model(dds, contrast, cohort.vector)
    table, _ = wald_results(model, list(contrast), settings, dds.inference)
    called = np.zeros(len(keep), dtype=bool)
    sign = np.zeros(len(keep))
    called[keep] = (table["padj"] < settings.alpha).to_numpy()
    sign[keep] = np.sign(np.nan_to_num(table["log2FoldChange"].to_numpy()))
    return called, sign


def _model(dds, contrast: tuple, vector: np.ndarray) -> FittedModel:
    """The arrays `wald_results` reads, from a dataset fitted on a design matrix."""
    genes = dds.var_names
    refit = np.zeros(len(genes), dtype=bool)
    if dds.refit_cooks and dds.var["replaced"].sum() > 0:
        refit = np.asarray(genes.isin(dds.new_all_zeroes_genes), dtype=bool)
    design = dds.obsm["design_matrix"]
    return FittedModel(
        design="",
        design_matrix=pd.DataFrame(
            np.asarray(design, dtype=float), index=design.index, columns=list(design.columns)
        ),
        lfc=dds.varm["LFC"].astype(float),
        dispersions=dds.var["dispersions"].to_numpy(dtype=float),
        size_factors=pd.Series(np.asarray(dds.obs["size_factors"], dtype=float), index=dds.obs_names),
        base_mean=dds.var["_normed_means"].astype(float).rename(None),
        counts=np.asarray(dds.X),
        non_zero=dds.var["non_zero"].to_numpy(dtype=bool),
        cooks_outlier=np.asarray(dds.cooks_outlier(), dtype=bool),
        all_zero_after_refit=refit,
        contrast_vectors={tuple(contrast): np.asarray(vector, dtype=float)},
        releveled={},
    )


@dataclass
class Tally:
    """Counts of one group size, summed over its replicates, per effect x stratum."""

    found: np.ndarray  # effects x strata
    planted: np.ndarray  # effects x strata
    false_calls: np.ndarray  # strata
    calls: np.ndarray  # strata
    replicates: int = 0

    @classmethod
    def empty(cls, n_effects: int, n_strata: int) -> "Tally":
        zeros = np.zeros((n_effects, n_strata), dtype=int)
        return cls(zeros.copy(), zeros.copy(), np.zeros(n_strata, int), np.zeros(n_strata, int))

    def add(self, cohort: SimulatedCohort, called: np.ndarray, sign: np.ndarray, strata: np.ndarray):
        found = called[cohort.planted] & (sign[cohort.planted] == cohort.sign)
        where = (cohort.effect, strata[cohort.planted])
        np.add.at(self.planted, where, 1)
        np.add.at(self.found, where, found.astype(int))
        null = np.ones(len(called), dtype=bool)
        null[cohort.planted] = False
        np.add.at(self.calls, strata[called], 1)
        np.add.at(self.false_calls, strata[called & null], 1)
        self.replicates += 1


def clopper_pearson(found: int, total: int, confidence: float = CONFIDENCE):
    """The exact binomial interval of found / total (NaN, NaN for total 0)."""
    if total == 0:
        return np.nan, np.nan
    a = (1 - confidence) / 2
    low = beta.ppf(a, found, total - found + 1) if found > 0 else 0.0
    high = beta.ppf(1 - a, found + 1, total - found) if found < total else 1.0
    return float(low), float(high)


def power_table(
    fit: DesignFit,
    contrast: list[str],
    de_settings: DESettings,
    settings: PowerSettings,
    fit_path: str = "",
) -> pd.DataFrame:
    """The power of `contrast` ([variable, test, reference]) of the fitted design,
    by effect size, group size and mean-count stratum (`COLUMNS`)."""
    if de_settings.inference != "fast":
        # the same answers (tests/unit/test_fast_inference.py), some 20x faster
        log.info("power: simulated cohorts are fitted with the fast engine")
        de_settings = dataclasses.replace(de_settings, inference="fast")
    source = source_cohort(fit.model, contrast, fit_path)
    key = source.contrast
    vector = fit.model.contrast_vectors[key]
    n_effects = len(settings.effect_sizes)
    if planted_per_effect(len(source.genes), settings.fraction, n_effects) < 1:
        raise InputError(
            f"config 'power.fraction: {settings.fraction}' plants no gene per effect size "
            f"({len(source.genes)} genes, {n_effects} effect sizes); raise it."
        )
    labels = stratum_labels()
    strata = mean_strata(source.base_mean)
    rows, done = [], set()
    for i, size in enumerate(settings.group_sizes):
        sizes = None if size == CURRENT else (int(size), int(size))
        n_test, n_reference = sizes or (source.n_test, source.n_reference)
        if (n_test, n_reference) in done:  # 'current' and a balanced size alike
            continue
        done.add((n_test, n_reference))
        tally = Tally.empty(n_effects, len(labels))
        for replicate in range(settings.replicates):
            rng = np.random.default_rng([settings.seed, i, replicate])
            try:
                cohort = simulate_cohort(
                    source, vector, sizes, settings.effect_sizes, settings.fraction, rng
                )
            except InfeasibleSize as problem:
                log.warning("power: group size %s skipped: %s", size, problem)
                break
            called, sign = called_genes(cohort, key, de_settings)
            tally.add(cohort, called, sign, strata)
            log.info(
                "%s vs %s, replicate %d: %d of %d planted genes found, %d false of %d calls",
                n_test, n_reference, replicate + 1, tally_found(cohort, called, sign),
                len(cohort.planted), int((called.sum() - called[cohort.planted].sum())),
                int(called.sum()),
            )
        if tally.replicates:
            rows += _rows(tally, settings.effect_sizes, labels, n_test, n_reference)
    table = pd.DataFrame(rows, columns=COLUMNS).sort_values("effect_size", kind="mergesort")
    present = set(labels[s] for s in np.unique(strata)) | {ALL}
    return table[table["mean_stratum"].isin(present)].reset_index(drop=True)


def tally_found(cohort: SimulatedCohort, called: np.ndarray, sign: np.ndarray) -> int:
    return int((called[cohort.planted] & (sign[cohort.planted] == cohort.sign)).sum())


def _rows(tally: Tally, effect_sizes, labels, n_test: int, n_reference: int) -> list[dict]:
    rows = []
    strata = [(label, [j]) for j, label in enumerate(labels)] + [(ALL, list(range(len(labels))))]
    for e, effect_size in enumerate(effect_sizes):
        for label, columns in strata:
            found = int(tally.found[e, columns].sum())
            planted = int(tally.planted[e, columns].sum())
            calls = int(tally.calls[columns].sum())
            low, high = clopper_pearson(found, planted)
            rows.append(
                {
                    "effect_size": float(effect_size),
                    "n_test": int(n_test),
                    "n_reference": int(n_reference),
                    "mean_stratum": label,
                    "power": found / planted if planted else np.nan,
                    "power_ci_low": low,
                    "power_ci_high": high,
                    "fdp": int(tally.false_calls[columns].sum()) / max(calls, 1),
                    "replicates": tally.replicates,
                }
            )
    return rows
