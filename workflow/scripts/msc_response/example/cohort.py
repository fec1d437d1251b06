"""Simulated MSC responder / non-responder RNA-seq cohort with a planted truth.

Modelled on Altaner et al. 2013 (PLoS ONE 8:e73722): 41 critical-limb-ischemia
patients, ~73% responders; MSCs of responders express more IL4, IL6, CCL4,
CDH1 and PDX1. Shaped like real cultured-MSC data: the tissue source
(bone marrow, adipose, Wharton's jelly) is the largest difference between
samples, donors vary as primary human cells do, and the response signal is
modest. Source is imbalanced between responders and non-responders (as if
Wharton's-jelly MSCs worked better; Liang et al. 2025), so a design without it
(``~ response``) mistakes source genes for response genes, and
``~ source + response`` (or ``~ batch + source + response``) is needed.
``resources/example/README.md`` gives every parameter with its reasoning.

Everything here is plain functions (no snakemake). The generator is seeded with
``numpy.random.default_rng(seed)``; the same arguments give identical output.

Model (genes g, samples j)::

    log2 mu[g, j] = log2(s_j q_g) + lfc_g resp_j + src[g, source_j] + bat[g, batch_j]
                    + sex[g] female_j + sum_k L[g, k] f[j, k] + deg[g, j]
    alpha_g       = (asympt_disp + extra_pois / q_g) * exp(N(0, disp_sd))
    count[g, j]   ~ NB(mean = mu[g, j], dispersion = alpha_g)   (var = mu + alpha mu^2)

``q_g`` is the mean of a male bone-marrow non-responder at size factor 1 (set
by hand for the curated MSC genes, heavy-tailed with a silent fraction for the
rest); ``s_j`` are size factors; ``lfc_g`` is the planted responder vs
non_responder log2 fold change (responder = test level), recorded in the truth
table; ``src`` is relative to bone marrow; ``L f`` are unmodelled donor / culture
factors (balanced within every source x response cell); ``deg`` is the extra noise
of one degraded sample (zero elsewhere).

A continuous clinical endpoint, ``abi_change`` (change of the ankle-brachial index,
the outcome Altaner et al. followed), measures donor factor 1: it is the part of
that factor's score not shared with the other factor, on a clinical scale (mean
0.08, sd 0.1, two decimals). The genes factor 1 moves follow it: ``log2 mu``
changes by ``abi_change_log2fc_per_unit`` (truth table; ``L[g, 1] * spread / 0.1``)
per unit of ``abi_change``, i.e. about ``L[g, 1]`` per 0.1. In the shipped cohort
3,548 genes follow it (|log2FC| per unit: median 2.5; 2,112 at >= 2, i.e. >= 0.2
per 0.1 of ABI) and no other gene does. Because the factor was already in the
counts, adding the endpoint changed no count, and the default analysis (which
leaves it out) gives the same tables. The endpoint has the same mean in every
source x response cell, so it is not correlated with response here (in a real
cohort it would be); adding it to a design leaves the response and source truth
as it is. ``example.recovery`` scores a contrast of it against this truth.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from msc_response.example.biology import (
    DEFAULT_PATHWAYS,
    DEFAULT_SOURCE_FRACTIONS,
    MSC_GENE_LEVELS,
    NAMED_SOURCE_EFFECTS,
    SEED_EFFECTS,
    SEED_MARKERS,
    SEX_X_GENES,
    SEX_Y_GENES,
    SILENT_FAMILIES,
    SOURCES,
    default_gmts,
    load_human_genes,
    msc_biology_genes,
    read_gmt,
)


@dataclass
class Cohort:
    """A simulated cohort.

    counts: genes x samples integer DataFrame, index ``gene_id`` (Ensembl ids).
    samples: one row per sample; columns sample, response, source, sex, age, batch,
        abi_change (the continuous clinical endpoint).
    annotation: gene_id, symbol.
    truth: one row per gene: gene, symbol, true_log2fc (responder vs
        non_responder), category, pathway_term, base_mean, dispersion,
        source/sex/batch effects, outlier_sample, outlier_factor,
        abi_change_log2fc_per_unit (log2 change per unit of abi_change; 0 for genes
        that do not follow it).
    planted_pathways: collection, term, direction, n_genes (in cohort), n_shifted.
    size_factors: the simulated size factors (sequencing depth), per sample.
    sample_truth: sample, size_factor, quality (``ok``, ``low_depth`` or
        ``degraded``), note.
    params: the arguments used.
    """

    counts: pd.DataFrame
    samples: pd.DataFrame
    annotation: pd.DataFrame
    truth: pd.DataFrame
    planted_pathways: pd.DataFrame
    size_factors: pd.Series
    sample_truth: pd.DataFrame = field(default_factory=pd.DataFrame)
    params: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- helpers
def _split_counts(n: int, fractions: Sequence[float]) -> list[int]:
    """Largest-remainder split of n into len(fractions) integer parts."""
    f = np.asarray(fractions, float)
    raw = n * f / f.sum()
    base = np.floor(raw).astype(int)
    order = np.argsort(-(raw - base), kind="stable")
    base[order[: n - base.sum()]] += 1
    return base.tolist()


def _stratified(rng, n: int, levels: Sequence[str], fractions: Sequence[float]) -> np.ndarray:
    """An array of n labels with the given proportions, in random order."""
    labels = np.repeat(np.asarray(levels, dtype=object), _split_counts(n, fractions))
    return rng.permutation(labels)


def _pick(rng, pool: np.ndarray, k: int) -> np.ndarray:
    k = min(k, len(pool))
    return np.sort(rng.choice(pool, size=k, replace=False)) if k else np.array([], dtype=int)


def make_samples(
    rng: np.random.Generator,
    n_samples: int = 41,
    responder_fraction: float = 30 / 41,
    source_fractions: Mapping[str, Sequence[float]] | None = None,
    female_fraction: float = 0.4,
    n_batches: int = 3,
) -> pd.DataFrame:
    """Sample sheet with response, source, sex, age and batch.

    Source is imbalanced between the response groups (``DEFAULT_SOURCE_FRACTIONS``:
    responders mostly Wharton's jelly, non-responders mostly bone marrow); sex and
    batch are stratified by response so that they are balanced across the contrast.
    """
    source_fractions = source_fractions or DEFAULT_SOURCE_FRACTIONS
    n_resp = int(round(n_samples * responder_fraction))
    n_resp = min(max(n_resp, 1), n_samples - 1)
    groups = {"responder": n_resp, "non_responder": n_samples - n_resp}
    rows = []
    for resp, n in groups.items():
        src = _stratified(rng, n, SOURCES, source_fractions[resp])
        sex = _stratified(rng, n, ("female", "male"), (female_fraction, 1 - female_fraction))
        bat = _stratified(rng, n, [f"batch{i + 1}" for i in range(n_batches)], [1] * n_batches)
        for k in range(n):
            rows.append((resp, src[k], sex[k], bat[k]))
    order = rng.permutation(len(rows))
    rows = [rows[i] for i in order]
    age = np.clip(np.round(rng.normal(68, 8, size=n_samples)), 50, 85).astype(int)
    width = max(2, len(str(n_samples)))
    return pd.DataFrame(
        {
            "sample": [f"MSC{i + 1:0{width}d}" for i in range(n_samples)],
            "response": [r[0] for r in rows],
            "source": [r[1] for r in rows],
            "sex": [r[2] for r in rows],
            "age": age,
            "batch": [r[3] for r in rows],
        }
    )


def base_means(
    rng: np.random.Generator,
    n: int,
    silent_fraction: float = 0.3,
    median: float = 300.0,
    sd: float = 1.6,
) -> np.ndarray:
    """Heavy-tailed base means: log-normal bulk plus a silent fraction (0.01-5) of
    genes a mesenchymal cell hardly transcribes."""
    bulk = np.exp(rng.normal(np.log(median), sd, size=n))
    silent = 10 ** rng.uniform(-2.0, np.log10(5.0), size=n)
    is_silent = rng.random(n) < silent_fraction
    return np.clip(np.where(is_silent, silent, bulk), 0.01, 3e5)


def dispersions(rng, q: np.ndarray, asympt_disp=0.12, extra_pois=1.5, disp_sd=0.5) -> np.ndarray:
    """DESeq2-like trend asympt + extra/mean with log-normal scatter."""
    trend = asympt_disp + extra_pois / q
    return trend * np.exp(rng.normal(0.0, disp_sd, size=q.shape))


def _magnitudes(rng, n: int, low: float, scale: float, cap: float) -> np.ndarray:
    """|log2FC| = low + exponential(scale), capped: many modest effects, a long tail."""
    return np.minimum(low + rng.exponential(scale, size=n), cap)


# --------------------------------------------------------------------------- the plan
class _Plan:
    """Per-gene parameters filled in step by step; `free` marks genes without a role."""

    def __init__(self, gene_ids, symbols, q, alpha, n_sources, n_batches):
        G = len(gene_ids)
        self.gene_ids, self.symbols = gene_ids, symbols
        self.index = {s: i for i, s in enumerate(symbols)}
        self.q, self.alpha = q, alpha
        self.lfc = np.zeros(G)
        self.category = np.array(["null"] * G, dtype=object)
        self.pathway_term = np.array([""] * G, dtype=object)
        self.src = np.zeros((G, n_sources))  # log2, relative to bone_marrow
        self.sex = np.zeros(G)  # log2, female vs male
        self.bat = np.zeros((G, n_batches))
        self.free = np.ones(G, bool)

    def rows(self, symbols) -> list[int]:
        return [self.index[s] for s in symbols if s in self.index]


def _curated_levels(plan: _Plan, asympt_disp: float, extra_pois: float) -> None:
    """Hand-set levels of the curated MSC genes, on the dispersion trend; no random role."""
    for s, level in MSC_GENE_LEVELS.items():
        if s in plan.index:
            i = plan.index[s]
            plan.q[i] = level
            plan.alpha[i] = asympt_disp + extra_pois / level
            plan.free[i] = False
    for s, (adipose, wharton) in NAMED_SOURCE_EFFECTS.items():
        if s in plan.index:
            plan.src[plan.index[s], 1:] = (adipose, wharton)
            plan.category[plan.index[s]] = "source"


def _silent_families(rng, plan: _Plan, asympt_disp: float, extra_pois: float) -> None:
    """Olfactory and taste receptors are not transcribed in MSCs (nor in most
    tissues): keep them near zero instead of at a random level."""
    silent = np.array([bool(SILENT_FAMILIES.match(s)) for s in plan.symbols]) & plan.free
    plan.q[silent] = 10 ** rng.uniform(-2.0, -0.5, size=int(silent.sum()))
    plan.alpha[silent] = asympt_disp + extra_pois / plan.q[silent]


def _seed_markers(plan: _Plan, effects: Mapping[str, float]) -> None:
    for s, lfc in effects.items():
        i = plan.index[s]
        plan.lfc[i] = lfc
        plan.category[i] = "seed_marker"
        plan.free[i] = False


def _sex_genes(rng, plan: _Plan, asympt_disp: float, extra_pois: float) -> None:
    for i in plan.rows(SEX_Y_GENES):
        plan.q[i] = max(plan.q[i], 50 * np.exp(rng.uniform(0, 2)))
        plan.alpha[i] = asympt_disp + extra_pois / plan.q[i]
        plan.sex[i] = -rng.uniform(7, 9)
        plan.category[i] = "sex"
        plan.free[i] = False
    for i in plan.rows(SEX_X_GENES):
        plan.q[i] = max(plan.q[i], 100.0)
        plan.sex[i] = rng.uniform(0.4, 0.8)
        plan.category[i] = "sex"
        plan.free[i] = False


def _pathways(rng, plan, pathways, members, shift, fraction) -> pd.DataFrame:
    """Most members of each planted set shifted a little, all in the set's direction
    (a gene in two planted sets keeps the shift of the first; curated genes keep
    their own role)."""
    rows = []
    for (collection, term, direction), ids in zip(pathways, members):
        sign = 1.0 if direction == "up" else -1.0
        ii = np.array([i for i in plan.rows(ids) if plan.free[i]], dtype=int)
        shifted = _pick(rng, ii, int(round(fraction * len(ii))))
        plan.lfc[shifted] = sign * rng.uniform(*shift, size=len(shifted))
        plan.category[shifted] = "pathway"
        plan.pathway_term[shifted] = term
        plan.free[ii] = False  # unshifted members stay null but get no other role
        rows.append((collection, term, direction, len(ids), len(shifted)))
    return pd.DataFrame(rows, columns=["collection", "term", "direction", "n_genes", "n_shifted"])


def _response_genes(rng, plan, n_de, de_lfc, min_base_mean) -> None:
    """Other response genes, both directions: |log2FC| mostly 0.3-1.5, a few larger."""
    de = _pick(rng, np.flatnonzero(plan.free & (plan.q >= min_base_mean)), n_de)
    low, scale, cap = de_lfc
    plan.lfc[de] = _magnitudes(rng, len(de), low, scale, cap) * rng.choice([-1.0, 1.0], len(de))
    plan.category[de] = "de"
    plan.free[de] = False


def _source_genes(rng, plan, n_wharton, n_adipose, wharton_lfc, adipose_lfc) -> None:
    """Random tissue-source genes: Wharton's jelly (perinatal) vs the two adult
    sources in many genes with large effects, adipose vs bone marrow in fewer."""
    pool = np.flatnonzero(plan.free & (plan.q >= 1.0))
    wharton = _pick(rng, pool, n_wharton)
    plan.src[wharton, 2] = _magnitudes(rng, len(wharton), *wharton_lfc) * rng.choice(
        [-1.0, 1.0], len(wharton)
    )
    adipose = _pick(rng, pool, n_adipose)
    plan.src[adipose, 1] = _magnitudes(rng, len(adipose), *adipose_lfc) * rng.choice(
        [-1.0, 1.0], len(adipose)
    )
    genes = np.union1d(wharton, adipose)
    plan.category[genes] = "source"
    plan.free[genes] = False


def _batch_effects(rng, plan, sd: float, fraction: float) -> None:
    hit = rng.random(len(plan.q)) < fraction
    plan.bat[hit] = rng.normal(0.0, sd, size=(int(hit.sum()), plan.bat.shape[1]))
    plan.bat -= plan.bat.mean(axis=1, keepdims=True)


def _donor_factors(rng, plan, samples, n_factors: int, sd: float, fraction: float) -> np.ndarray:
    """Unmodelled donor / culture variation shared by many genes (as surrogate-variable
    methods find in real cohorts): each factor moves a random `fraction` of the genes
    (not the hand-set MSC genes) by N(0, sd) log2 per unit of a per-sample score.
    Scores are centred and scaled within each source x response cell, so the factors
    spread the samples without leaning towards any level of the design.
    Returns (loadings, genes x factors; scores, samples x factors): the log2 effect
    is ``loadings @ scores.T``."""
    G, S = len(plan.q), len(samples)
    loadings = np.zeros((G, n_factors))
    movable = np.array([s not in MSC_GENE_LEVELS for s in plan.symbols])
    for k in range(n_factors):
        hit = movable & (rng.random(G) < fraction)
        loadings[hit, k] = rng.normal(0.0, sd, size=int(hit.sum()))
    scores = rng.normal(0.0, 1.0, size=(S, n_factors))
    cell = samples.groupby(["source", "response"]).ngroup().to_numpy()
    for c in np.unique(cell):
        rows = cell == c
        if rows.sum() > 1:
            centred = scores[rows] - scores[rows].mean(axis=0)
            scores[rows] = centred / np.maximum(centred.std(axis=0), 1e-12)
        else:
            scores[rows] = 0.0
    return loadings, scores


def _outcome(samples, loadings, scores, factor, mean, sd, seed):
    """The continuous clinical endpoint ``abi_change`` and its per-gene truth.

    The endpoint is what is particular to donor factor ``factor``: its score less
    the part shared with the other (unrecorded) factors, which would otherwise
    confound it (two random scores of 41 samples correlate by chance: 0.37 in the
    shipped cohort). Standardised, it is put on a clinical scale, ``mean + sd * z``,
    and rounded to 0.01 as a clinic records an ankle-brachial index: the genes that
    factor moves follow it by ``loading * spread / sd`` log2 per unit (``spread``:
    the sd of the unshared part). Reusing a factor that is already in the counts
    leaves every count (and every analysis that leaves the endpoint out) as it was.
    Scores are centred within each source x response cell, so the endpoint has the
    same mean in every cell: adding it to a design leaves the response and source
    effects unchanged.
    With no such factor (``factor`` None or beyond ``n_donor_factors``) it is drawn
    from its own seeded stream and no gene follows it.
    Returns (the endpoint per sample, log2FC per unit per gene)."""
    if factor is not None and factor < scores.shape[1]:
        own = scores[:, factor]
        others = np.delete(scores, factor, axis=1)
        if others.shape[1]:
            coef = np.linalg.lstsq(others, own, rcond=None)[0]
            own = own - others @ coef
        spread = own.std()
        value = mean + sd * own / spread
        per_unit = loadings[:, factor] * spread / sd
    else:
        value = np.random.default_rng([seed, 21]).normal(mean, sd, size=len(samples))
        per_unit = np.zeros(loadings.shape[0])
    return np.round(value, 2), per_unit


def _size_factors(rng, n: int, sd: float) -> np.ndarray:
    sf = np.exp(rng.normal(0.0, sd, size=n))
    return np.clip(sf / np.exp(np.mean(np.log(sf))), 0.4, 2.5)


def _cell_sizes(samples: pd.DataFrame, columns: list[str]) -> np.ndarray:
    return samples.groupby(columns)["sample"].transform("size").to_numpy()


def _low_quality(rng, samples, sf, n_genes, low_depth, degraded_sd):
    """One shallow library and one degraded sample, in the largest source x response
    cell (so that they cost the comparison little): the QC stage should notice them.
    Returns (size factors, per-gene log2 noise G x S, sample_truth)."""
    S = len(samples)
    noise = np.zeros((n_genes, S))
    quality = np.array(["ok"] * S, dtype=object)
    note = np.array([""] * S, dtype=object)
    sf = sf.copy()
    cell = _cell_sizes(samples, ["source", "response"])
    candidates = np.flatnonzero(cell == cell.max())
    if len(candidates) >= 6 and (low_depth or degraded_sd):
        shallow, degraded = rng.choice(candidates, size=2, replace=False)
        if low_depth:
            sf[shallow] = low_depth
            quality[shallow] = "low_depth"
            note[shallow] = f"shallow library: size factor {low_depth:g}"
        if degraded_sd:
            noise[:, degraded] = rng.normal(0.0, degraded_sd, size=n_genes)
            quality[degraded] = "degraded"
            note[degraded] = f"extra per-gene noise, sd {degraded_sd:g} log2 (RNA degradation)"
    sample_truth = pd.DataFrame(
        {"sample": samples["sample"], "size_factor": np.round(sf, 6), "quality": quality,
         "note": note}
    )
    return sf, noise, sample_truth


def _outliers(rng, plan, counts, samples, n_outliers, factor):
    """One sample's count of a few null genes multiplied 20-50x.

    The sample is drawn from those whose batch x source x response cell has >= 3
    members: DESeq2 (R and PyDESeq2) only uses Cook's distance for such samples, so
    the outlier is visible to its filter under both recommended designs (flagged
    with ~ batch + source + response; replaced and refitted with ~ source + response
    when that cell has >= 7 samples)."""
    G, S = counts.shape
    out_sample = np.array([""] * G, dtype=object)
    out_factor = np.full(G, np.nan)
    cell = _cell_sizes(samples, ["batch", "source", "response"])
    cell2 = _cell_sizes(samples, ["source", "response"])
    for eligible in (np.flatnonzero((cell >= 3) & (cell2 >= 7)), np.flatnonzero(cell >= 3),
                     np.arange(S)):
        if len(eligible):
            break
    pool = np.flatnonzero(plan.free & (plan.q >= 50))
    for i in _pick(rng, pool, n_outliers):
        j = int(rng.choice(eligible))
        f = float(np.round(rng.uniform(*factor), 1))
        counts[i, j] = int(round(max(counts[i, j], 1) * f))
        out_sample[i] = samples["sample"].iat[j]
        out_factor[i] = f
        plan.category[i] = "outlier"
        plan.free[i] = False
    return out_sample, out_factor


def _select_genes(rng, genes, forced_symbols, n_genes):
    """The gene subset (deterministic): every forced gene plus a random rest, sorted."""
    sym2id = dict(zip(genes["symbol"], genes["gene_id"]))
    forced = {sym2id[s] for s in forced_symbols if s in sym2id}
    if n_genes < len(forced):
        raise ValueError(
            f"n_genes={n_genes} is smaller than the {len(forced)} genes that must be kept"
        )
    all_ids = np.array(sorted(genes["gene_id"]))
    rest = np.array([g for g in all_ids if g not in forced])
    n_rest = min(n_genes - len(forced), len(rest))
    chosen = set(forced) | set(rng.choice(rest, size=n_rest, replace=False).tolist())
    gene_ids = np.array(sorted(chosen, key=lambda x: (len(x), x)))
    id2sym = dict(zip(genes["gene_id"], genes["symbol"]))
    return gene_ids, np.array([id2sym[g] for g in gene_ids])


def _pathway_members(pathways, gmts, symbols_known) -> list[list[str]]:
    gmt_paths = {**default_gmts(), **(gmts or {})}
    cache: dict[str, dict[str, list[str]]] = {}
    members = []
    for collection, term, direction in pathways:
        if direction not in ("up", "down"):
            raise ValueError(f"pathway direction must be 'up' or 'down', not {direction!r}")
        if collection not in cache:
            if collection not in gmt_paths:
                raise KeyError(f"no GMT for collection {collection!r}")
            cache[collection] = read_gmt(gmt_paths[collection])
        if term not in cache[collection]:
            raise KeyError(f"term {term!r} not in collection {collection!r}")
        members.append(sorted(s for s in set(cache[collection][term]) if s in symbols_known))
    return members


# --------------------------------------------------------------------------- main
def simulate_cohort(
    n_genes: int = 18000,
    n_samples: int = 41,
    responder_fraction: float = 30 / 41,
    seed: int = 20130924,
    source_fractions: Mapping[str, Sequence[float]] | None = None,
    seed_effects: Mapping[str, float] | None = None,
    n_de: int | None = None,
    n_source_wharton: int | None = None,
    n_source_adipose: int | None = None,
    n_outliers: int = 5,
    pathways: Sequence[tuple[str, str, str]] | None = DEFAULT_PATHWAYS,
    gmts: Mapping[str, str | Path] | None = None,
    pathway_shift: tuple[float, float] = (0.4, 0.9),
    pathway_fraction: float = 0.8,
    de_lfc: tuple[float, float, float] = (0.35, 0.6, 2.5),
    de_min_base_mean: float = 30.0,
    wharton_lfc: tuple[float, float, float] = (0.4, 0.8, 6.0),
    adipose_lfc: tuple[float, float, float] = (0.4, 0.6, 4.0),
    batch_sd: float = 0.25,
    batch_gene_fraction: float = 0.3,
    n_donor_factors: int = 2,
    donor_factor_sd: float = 0.4,
    donor_factor_fraction: float = 0.2,
    sex_effects: bool = True,
    silent_fraction: float = 0.3,
    asympt_disp: float = 0.12,
    extra_pois: float = 1.5,
    disp_sd: float = 0.5,
    size_factor_sd: float = 0.3,
    low_depth: float = 0.15,
    degraded_sd: float = 1.2,
    outlier_factor: tuple[float, float] = (20.0, 50.0),
    outcome_factor: int | None = 0,
    outcome_mean: float = 0.08,
    outcome_sd: float = 0.1,
    genes: pd.DataFrame | None = None,
) -> Cohort:
    """Simulate a cohort; see the module docstring for the model.

    Counts of planted genes scale with ``n_genes`` (at 18,000 genes: 110 response
    genes besides the seeds and pathways, 1,500 Wharton's-jelly and 600 adipose
    source genes). ``de_lfc``, ``wharton_lfc`` and ``adipose_lfc`` are (minimum,
    exponential scale, cap) of |log2FC|. ``pathways`` is a list of (collection,
    term, direction) with ``term`` the exact first field of a GMT in ``gmts``
    (default: the shipped go_bp); pass ``None`` or ``()`` for no pathway shift.
    Seed markers, the curated MSC genes (``MSC_GENE_LEVELS``), sex genes and the
    members of the planted pathways are always kept in the gene subset.
    ``low_depth`` (a size factor) / ``degraded_sd`` (0 for none) make one shallow and one degraded
    sample when the largest source x response cell has >= 6 samples.
    ``outcome_factor`` (0-based) is the donor factor that the continuous endpoint
    ``abi_change`` measures (``_outcome``): mean ``outcome_mean``, sd ``outcome_sd``;
    its truth is the ``abi_change_log2fc_per_unit`` column of the truth table.
    """
    params = {k: v for k, v in locals().items() if k not in ("genes",)}
    rng = np.random.default_rng(seed)
    genes = load_human_genes() if genes is None else genes
    genes = genes[["gene_id", "symbol"]].drop_duplicates("gene_id").reset_index(drop=True)
    scale = n_genes / 18000
    n_de = int(round(110 * scale)) if n_de is None else n_de
    n_wharton = int(round(1500 * scale)) if n_source_wharton is None else n_source_wharton
    n_adipose = int(round(600 * scale)) if n_source_adipose is None else n_source_adipose

    missing = [s for s in SEED_MARKERS if s not in set(genes["symbol"])]
    if missing:
        raise KeyError(f"seed markers missing from gene table: {missing}")
    pathways = list(pathways or ())
    members = _pathway_members(pathways, gmts, set(genes["symbol"]))
    forced = list(MSC_GENE_LEVELS) + msc_biology_genes() + list(NAMED_SOURCE_EFFECTS)
    forced += list(SEX_Y_GENES + SEX_X_GENES) if sex_effects else []
    forced += [s for m in members for s in m]
    gene_ids, symbols = _select_genes(rng, genes, forced, n_genes)
    G = len(gene_ids)

    samples = make_samples(rng, n_samples, responder_fraction, source_fractions)
    batches = sorted(samples["batch"].unique())
    q = base_means(rng, G, silent_fraction)
    alpha = dispersions(rng, q, asympt_disp, extra_pois, disp_sd)
    sf = _size_factors(rng, len(samples), size_factor_sd)

    plan = _Plan(gene_ids, symbols, q, alpha, len(SOURCES), len(batches))
    _curated_levels(plan, asympt_disp, extra_pois)
    _silent_families(rng, plan, asympt_disp, extra_pois)
    _seed_markers(plan, {**SEED_EFFECTS, **(seed_effects or {})})
    if sex_effects:
        _sex_genes(rng, plan, asympt_disp, extra_pois)
    planted = _pathways(rng, plan, pathways, members, pathway_shift, pathway_fraction)
    _response_genes(rng, plan, n_de, de_lfc, de_min_base_mean)
    _source_genes(rng, plan, n_wharton, n_adipose, wharton_lfc, adipose_lfc)
    _batch_effects(rng, plan, batch_sd, batch_gene_fraction)
    loadings, scores = _donor_factors(rng, plan, samples, n_donor_factors, donor_factor_sd,
                                      donor_factor_fraction)
    donor = loadings @ scores.T
    abi_change, abi_per_unit = _outcome(samples, loadings, scores, outcome_factor,
                                        outcome_mean, outcome_sd, seed)
    sf, degradation, sample_truth = _low_quality(rng, samples, sf, G, low_depth, degraded_sd)

    resp = (samples["response"].to_numpy() == "responder").astype(float)
    src_idx = samples["source"].map({s: k for k, s in enumerate(SOURCES)}).to_numpy()
    bat_idx = samples["batch"].map({b: k for k, b in enumerate(batches)}).to_numpy()
    fem = (samples["sex"].to_numpy() == "female").astype(float)
    log2mu = (
        np.log2(plan.q)[:, None]
        + plan.lfc[:, None] * resp[None, :]
        + plan.src[:, src_idx]
        + plan.bat[:, bat_idx]
        + plan.sex[:, None] * fem[None, :]
        + donor
        + degradation
    )
    mu = sf[None, :] * np.exp2(log2mu)
    r = 1.0 / plan.alpha[:, None]
    counts = rng.negative_binomial(r, r / (r + mu)).astype(np.int64)
    out_sample, out_factor = _outliers(rng, plan, counts, samples, n_outliers, outlier_factor)

    samples = samples.assign(abi_change=abi_change)
    sample_names = samples["sample"].to_list()
    counts_df = pd.DataFrame(counts, index=pd.Index(gene_ids, name="gene_id"), columns=sample_names)
    annotation = pd.DataFrame({"gene_id": gene_ids, "symbol": symbols})
    truth = pd.DataFrame(
        {
            "gene": gene_ids,
            "symbol": symbols,
            "true_log2fc": np.round(plan.lfc, 4),
            "category": plan.category,
            "pathway_term": plan.pathway_term,
            "base_mean": np.round(plan.q, 3),
            "dispersion": np.round(plan.alpha, 5),
            "source_log2fc_adipose": np.round(plan.src[:, 1], 4),
            "source_log2fc_wharton_jelly": np.round(plan.src[:, 2], 4),
            "sex_log2fc_female": np.round(plan.sex, 4),
            "batch_sd": np.round(plan.bat.std(axis=1), 4),
            "outlier_sample": out_sample,
            "outlier_factor": out_factor,
            "abi_change_log2fc_per_unit": np.round(abi_per_unit, 4),
        }
    )
    size_factors = pd.Series(np.round(sf, 6), index=sample_names, name="size_factor")
    return Cohort(counts_df, samples, annotation, truth, planted, size_factors, sample_truth,
                  params)


# --------------------------------------------------------------------------- writing
def _gzip_bytes(text: str) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(text.encode("utf-8"))
    return buf.getvalue()


def write_cohort(cohort: Cohort, outdir: str | Path) -> dict[str, Path]:
    """Write counts.tsv.gz, samples.tsv, annotation.tsv, truth.tsv,
    planted_pathways.tsv and sample_truth.tsv.

    Output bytes depend only on the cohort (gzip mtime 0, fixed float format).
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    kw = dict(sep="\t", index=False, lineterminator="\n")
    paths = {
        "counts": outdir / "counts.tsv.gz",
        "samples": outdir / "samples.tsv",
        "annotation": outdir / "annotation.tsv",
        "truth": outdir / "truth.tsv",
        "planted_pathways": outdir / "planted_pathways.tsv",
        "sample_truth": outdir / "sample_truth.tsv",
    }
    paths["counts"].write_bytes(_gzip_bytes(cohort.counts.reset_index().to_csv(**kw)))
    cohort.samples.to_csv(paths["samples"], **kw)
    cohort.annotation.to_csv(paths["annotation"], **kw)
    cohort.truth.to_csv(paths["truth"], float_format="%.6g", **kw)
    cohort.planted_pathways.to_csv(paths["planted_pathways"], **kw)
    cohort.sample_truth.to_csv(paths["sample_truth"], float_format="%.6g", **kw)
    return paths
