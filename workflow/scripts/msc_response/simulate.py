"""Simulated MSC responder / non-responder RNA-seq cohort with a planted truth.

Modelled on Altaner et al. 2013 (PLoS ONE 8:e73722): 41 critical-limb-ischemia
patients, ~73% responders; MSCs of responders express more IL4, IL6, CCL4,
CDH1 and PDX1. The MSC tissue source is a covariate partly associated with
response (Liang et al. 2025), so the design ``~ source + response`` (or
``~ batch + source + response``) is needed.

Everything here is plain functions (no snakemake). The generator is seeded with
``numpy.random.default_rng(seed)``; the same arguments give identical output.

Model (genes g, samples j)::

    mu[g, j]    = s_j * q_g * 2 ** (lfc_g * resp_j + src[g, source_j] + bat[g, batch_j] + sex[g, sex_j])
    alpha_g     = (asympt_disp + extra_pois / q_g) * exp(N(0, disp_sd))
    count[g, j] ~ NB(mean = mu[g, j], dispersion = alpha_g)   (var = mu + alpha mu^2)

``q_g`` (the non-responder base mean at size factor 1) is heavy-tailed
(log-normal, plus a low-expression component); ``s_j`` are size factors
spread ~0.5-2x. ``lfc_g`` is the planted responder-vs-non_responder log2 fold
change (responder = test level, non_responder = reference), recorded in the
truth table.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[3]
GENE_SETS_DIR = REPO_ROOT / "resources" / "gene_sets"

SEED_MARKERS = ("IL4", "IL6", "CCL4", "CDH1", "PDX1")
# Y-linked genes (absent in females) and X-inactivation escapees (higher in females)
SEX_Y_GENES = ("RPS4Y1", "DDX3Y", "KDM5D", "UTY", "EIF1AY", "ZFY", "USP9Y")
SEX_X_GENES = ("KDM5C", "KDM6A")
SOURCES = ("bone_marrow", "adipose", "wharton_jelly")
RESPONSE_LEVELS = ("responder", "non_responder")  # test, reference

# Default planted pathways: (collection, exact first GMT field, direction)
DEFAULT_PATHWAYS: tuple[tuple[str, str, str], ...] = (
    ("go_bp", "sprouting angiogenesis (GO:0002040)", "up"),
    ("go_bp", "cellular senescence (GO:0090398)", "down"),
)

CATEGORIES = ("seed_marker", "de", "pathway", "source", "sex", "outlier", "null")


@dataclass
class Cohort:
    """A simulated cohort.

    counts: genes x samples integer DataFrame, index ``gene_id`` (Ensembl ids).
    samples: one row per sample; columns sample, response, source, sex, age, batch.
    annotation: gene_id, symbol.
    truth: one row per gene: gene, symbol, true_log2fc (responder vs
        non_responder), category, base_mean, dispersion, source/sex/batch effects,
        outlier_sample, outlier_factor.
    planted_pathways: collection, term, direction, n_genes (in cohort), n_shifted.
    params: the arguments used.
    """

    counts: pd.DataFrame
    samples: pd.DataFrame
    annotation: pd.DataFrame
    truth: pd.DataFrame
    planted_pathways: pd.DataFrame
    size_factors: pd.Series
    params: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- resources
def read_gmt(path: str | Path) -> dict[str, list[str]]:
    """Read a GMT (optionally gzipped) into {name: genes}."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    sets: dict[str, list[str]] = {}
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            fields = line.rstrip("\n").split("\t")
            if len(fields) >= 3:
                sets[fields[0]] = [g for g in fields[2:] if g]
    return sets


def load_human_genes(path: str | Path | None = None) -> pd.DataFrame:
    """The shipped protein-coding gene table (gene_id, symbol, entrez_id, gene_type)."""
    path = Path(path) if path else GENE_SETS_DIR / "human_genes.tsv.gz"
    return pd.read_csv(path, sep="\t", dtype=str)


def default_gmts() -> dict[str, Path]:
    return {"go_bp": GENE_SETS_DIR / "go_bp.gmt.gz"}


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


def make_samples(
    rng: np.random.Generator,
    n_samples: int = 41,
    responder_fraction: float = 30 / 41,
    source_fractions: Mapping[str, Sequence[float]] | None = None,
    female_fraction: float = 0.4,
    n_batches: int = 3,
) -> pd.DataFrame:
    """Sample sheet with response, source, sex, age and batch.

    Source is partly associated with response (responders more often
    Wharton's jelly, non-responders more often bone marrow); sex and batch are
    stratified by response so that they are balanced across the contrast.
    """
    if source_fractions is None:
        source_fractions = {
            "responder": (0.40, 0.30, 0.30),  # bone_marrow, adipose, wharton_jelly
            "non_responder": (0.60, 0.25, 0.15),
        }
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
    samples = pd.DataFrame(
        {
            "sample": [f"MSC{i + 1:0{width}d}" for i in range(n_samples)],
            "response": [r[0] for r in rows],
            "source": [r[1] for r in rows],
            "sex": [r[2] for r in rows],
            "age": age,
            "batch": [r[3] for r in rows],
        }
    )
    return samples


def base_means(rng: np.random.Generator, n: int, low_fraction: float = 0.15) -> np.ndarray:
    """Heavy-tailed base means: log-normal bulk (median ~250) plus a low-expression tail."""
    bulk = np.exp(rng.normal(np.log(250.0), 1.5, size=n))
    low = 10 ** rng.uniform(-1.0, 1.0, size=n)
    is_low = rng.random(n) < low_fraction
    q = np.where(is_low, low, bulk)
    return np.clip(q, 0.05, 3e5)


def dispersions(rng, q: np.ndarray, asympt_disp=0.08, extra_pois=1.5, disp_sd=0.5) -> np.ndarray:
    """DESeq2-like trend asympt + extra/mean with log-normal scatter."""
    trend = asympt_disp + extra_pois / q
    return trend * np.exp(rng.normal(0.0, disp_sd, size=q.shape))


def _pick(rng, pool: np.ndarray, k: int) -> np.ndarray:
    k = min(k, len(pool))
    return np.sort(rng.choice(pool, size=k, replace=False)) if k else np.array([], dtype=int)


# --------------------------------------------------------------------------- main
def simulate_cohort(
    n_genes: int = 18000,
    n_samples: int = 41,
    responder_fraction: float = 30 / 41,
    seed: int = 20130924,
    source_fractions: Mapping[str, Sequence[float]] | None = None,
    n_de: int | None = None,
    n_source: int | None = None,
    n_outliers: int = 5,
    pathways: Sequence[tuple[str, str, str]] | None = DEFAULT_PATHWAYS,
    gmts: Mapping[str, str | Path] | None = None,
    pathway_shift: tuple[float, float] = (0.5, 0.8),
    pathway_fraction: float = 0.8,
    seed_lfc: tuple[float, float] = (1.5, 2.5),
    seed_min_base_mean: float = 150.0,
    de_lfc: tuple[float, float] = (0.5, 3.0),
    de_min_base_mean: float = 40.0,
    source_lfc: tuple[float, float] = (0.8, 2.0),
    batch_sd: float = 0.25,
    batch_gene_fraction: float = 0.3,
    sex_effects: bool = True,
    asympt_disp: float = 0.08,
    extra_pois: float = 1.5,
    disp_sd: float = 0.5,
    size_factor_sd: float = 0.3,
    outlier_factor: tuple[float, float] = (20.0, 50.0),
    genes: pd.DataFrame | None = None,
) -> Cohort:
    """Simulate a cohort; see the module docstring for the model.

    n_de / n_source default to ~2.2% of n_genes each (400 at 18,000 genes).
    ``pathways`` is a list of (collection, term, direction) with ``term`` the
    exact first field of a GMT in ``gmts`` (default: the shipped go_bp); pass
    ``None`` or ``()`` for no pathway shift. Seed markers, sex genes and the
    members of the planted pathways are always kept in the gene subset.
    """
    params = {k: v for k, v in locals().items() if k not in ("genes",)}
    rng = np.random.default_rng(seed)
    if genes is None:
        genes = load_human_genes()
    genes = genes[["gene_id", "symbol"]].drop_duplicates("gene_id").reset_index(drop=True)
    sym2id = dict(zip(genes["symbol"], genes["gene_id"]))
    if n_de is None:
        n_de = int(round(n_genes * 400 / 18000))
    if n_source is None:
        n_source = int(round(n_genes * 400 / 18000))

    # ---- planted pathways: members that are in the gene table
    pathways = list(pathways or ())
    gmt_paths = {**default_gmts(), **(gmts or {})}
    gmt_cache: dict[str, dict[str, list[str]]] = {}
    pw_members: list[list[str]] = []
    for collection, term, direction in pathways:
        if direction not in ("up", "down"):
            raise ValueError(f"pathway direction must be 'up' or 'down', not {direction!r}")
        if collection not in gmt_cache:
            if collection not in gmt_paths:
                raise KeyError(f"no GMT for collection {collection!r}")
            gmt_cache[collection] = read_gmt(gmt_paths[collection])
        sets = gmt_cache[collection]
        if term not in sets:
            raise KeyError(f"term {term!r} not in collection {collection!r}")
        pw_members.append(sorted(sym2id[s] for s in set(sets[term]) if s in sym2id))

    # ---- gene subset (deterministic): forced genes + random rest, sorted by id
    forced_syms = list(SEED_MARKERS) + (list(SEX_Y_GENES + SEX_X_GENES) if sex_effects else [])
    forced = {sym2id[s] for s in forced_syms if s in sym2id}
    for m in pw_members:
        forced.update(m)
    missing = [s for s in SEED_MARKERS if s not in sym2id]
    if missing:
        raise KeyError(f"seed markers missing from gene table: {missing}")
    if n_genes < len(forced):
        raise ValueError(f"n_genes={n_genes} is smaller than the {len(forced)} genes that must be kept")
    all_ids = np.array(sorted(genes["gene_id"]))
    rest = np.array([g for g in all_ids if g not in forced])
    n_rest = min(n_genes - len(forced), len(rest))
    chosen = set(forced) | set(rng.choice(rest, size=n_rest, replace=False).tolist())
    gene_ids = np.array(sorted(chosen, key=lambda x: (len(x), x)))
    G = len(gene_ids)
    id2sym = dict(zip(genes["gene_id"], genes["symbol"]))
    symbols = np.array([id2sym[g] for g in gene_ids])
    idx = {g: i for i, g in enumerate(gene_ids)}

    # ---- samples and expression parameters
    samples = make_samples(rng, n_samples, responder_fraction, source_fractions)
    S = len(samples)
    q = base_means(rng, G)
    alpha = dispersions(rng, q, asympt_disp, extra_pois, disp_sd)
    sf = np.exp(rng.normal(0.0, size_factor_sd, size=S))
    sf = np.clip(sf / np.exp(np.mean(np.log(sf))), 0.45, 2.2)

    category = np.array(["null"] * G, dtype=object)
    lfc = np.zeros(G)
    free = np.ones(G, bool)  # genes not yet given a planted role

    # seed markers: up in responders, base mean high enough to detect
    for s in SEED_MARKERS:
        i = idx[sym2id[s]]
        q[i] = seed_min_base_mean * np.exp(rng.uniform(0, 1.5))  # ~150-670 in non-responders
        alpha[i] = asympt_disp + extra_pois / q[i]
        lfc[i] = rng.uniform(*seed_lfc)
        category[i] = "seed_marker"
        free[i] = False

    # sex genes (kept out of every other role)
    sex_eff = np.zeros(G)  # log2 effect in females relative to males
    if sex_effects:
        for s in SEX_Y_GENES:
            if s in sym2id and sym2id[s] in idx:
                i = idx[sym2id[s]]
                q[i] = max(q[i], 50 * np.exp(rng.uniform(0, 2)))
                alpha[i] = asympt_disp + extra_pois / q[i]
                sex_eff[i] = -rng.uniform(7, 9)
                category[i] = "sex"
                free[i] = False
        for s in SEX_X_GENES:
            if s in sym2id and sym2id[s] in idx:
                i = idx[sym2id[s]]
                sex_eff[i] = rng.uniform(0.4, 0.8)
                category[i] = "sex"
                free[i] = False

    # planted pathways: most members shifted modestly in one direction
    # (a gene in two planted sets keeps the shift of the first)
    pw_rows = []
    pw_term = np.array([""] * G, dtype=object)
    for (collection, term, direction), members in zip(pathways, pw_members):
        sign = 1.0 if direction == "up" else -1.0
        ii = np.array([idx[g] for g in members if free[idx[g]]], dtype=int)
        n_shift = int(round(pathway_fraction * len(ii)))
        shifted = _pick(rng, ii, n_shift)
        lfc[shifted] = sign * rng.uniform(*pathway_shift, size=len(shifted))
        category[shifted] = "pathway"
        pw_term[shifted] = term
        free[ii] = False  # unshifted members stay null but get no other role
        pw_rows.append((collection, term, direction, len(members), len(shifted)))
    planted = pd.DataFrame(pw_rows, columns=["collection", "term", "direction", "n_genes", "n_shifted"])

    # other DE genes, both directions, among reasonably expressed genes
    pool = np.flatnonzero(free & (q >= de_min_base_mean))
    de = _pick(rng, pool, n_de)
    mags = np.where(
        rng.random(len(de)) < 0.3,
        rng.uniform(de_lfc[0], 1.0, len(de)),
        rng.uniform(1.0, de_lfc[1], len(de)),
    )
    lfc[de] = mags * rng.choice([-1.0, 1.0], size=len(de))
    category[de] = "de"
    free[de] = False

    # tissue-source effects (not related to response)
    src_eff = np.zeros((G, len(SOURCES)))  # log2, relative to bone_marrow
    pool = np.flatnonzero(free & (q >= 5))
    src_genes = _pick(rng, pool, n_source)
    for i in src_genes:
        k = rng.integers(1, len(SOURCES))  # which non-reference source differs
        src_eff[i, k] = rng.uniform(*source_lfc) * rng.choice([-1.0, 1.0])
        if rng.random() < 0.3:  # some genes differ in both
            src_eff[i, 3 - k] = rng.uniform(*source_lfc) * rng.choice([-1.0, 1.0])
    category[src_genes] = "source"
    free[src_genes] = False

    # batch effect on a fraction of all genes (any category)
    batches = sorted(samples["batch"].unique())
    bat_eff = np.zeros((G, len(batches)))
    hit = rng.random(G) < batch_gene_fraction
    bat_eff[hit] = rng.normal(0.0, batch_sd, size=(int(hit.sum()), len(batches)))
    bat_eff -= bat_eff.mean(axis=1, keepdims=True)

    # ---- means and counts
    resp = (samples["response"].to_numpy() == "responder").astype(float)
    src_idx = samples["source"].map({s: k for k, s in enumerate(SOURCES)}).to_numpy()
    bat_idx = samples["batch"].map({b: k for k, b in enumerate(batches)}).to_numpy()
    fem = (samples["sex"].to_numpy() == "female").astype(float)
    log2mu = (
        np.log2(q)[:, None]
        + lfc[:, None] * resp[None, :]
        + src_eff[:, src_idx]
        + bat_eff[:, bat_idx]
        + sex_eff[:, None] * fem[None, :]
    )
    mu = sf[None, :] * np.exp2(log2mu)
    r = 1.0 / alpha[:, None]
    counts = rng.negative_binomial(r, r / (r + mu)).astype(np.int64)

    # ---- outliers on null genes: one sample's count multiplied 20-50x
    out_sample = np.array([""] * G, dtype=object)
    out_factor = np.full(G, np.nan)
    # The outlier sample is drawn from samples whose batch x source x response
    # cell has >= 3 members: DESeq2 (R and PyDESeq2) only uses Cook's distance
    # for such samples, so the outlier is visible to its filter under both
    # recommended designs (flagged with ~ batch + source + response; replaced
    # and refitted with ~ source + response when that cell has >= 7 samples).
    cell = samples.groupby(["batch", "source", "response"])["sample"].transform("size").to_numpy()
    cell2 = samples.groupby(["source", "response"])["sample"].transform("size").to_numpy()
    eligible = np.flatnonzero((cell >= 3) & (cell2 >= 7))
    if len(eligible) == 0:
        eligible = np.flatnonzero(cell >= 3)
    if len(eligible) == 0:
        eligible = np.arange(S)
    pool = np.flatnonzero(free & (q >= 50))
    for i in _pick(rng, pool, n_outliers):
        j = int(rng.choice(eligible))
        f = float(np.round(rng.uniform(*outlier_factor), 1))
        counts[i, j] = int(round(max(counts[i, j], 1) * f))
        out_sample[i] = samples["sample"].iat[j]
        out_factor[i] = f
        category[i] = "outlier"
        free[i] = False

    sample_names = samples["sample"].to_list()
    counts_df = pd.DataFrame(counts, index=pd.Index(gene_ids, name="gene_id"), columns=sample_names)
    annotation = pd.DataFrame({"gene_id": gene_ids, "symbol": symbols})
    truth = pd.DataFrame(
        {
            "gene": gene_ids,
            "symbol": symbols,
            "true_log2fc": np.round(lfc, 4),
            "category": category,
            "pathway_term": pw_term,
            "base_mean": np.round(q, 3),
            "dispersion": np.round(alpha, 5),
            "source_log2fc_adipose": np.round(src_eff[:, 1], 4),
            "source_log2fc_wharton_jelly": np.round(src_eff[:, 2], 4),
            "sex_log2fc_female": np.round(sex_eff, 4),
            "batch_sd": np.round(bat_eff.std(axis=1), 4),
            "outlier_sample": out_sample,
            "outlier_factor": out_factor,
        }
    )
    size_factors = pd.Series(np.round(sf, 6), index=sample_names, name="size_factor")
    return Cohort(counts_df, samples, annotation, truth, planted, size_factors, params)


# --------------------------------------------------------------------------- writing
def _gzip_bytes(text: str) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(text.encode("utf-8"))
    return buf.getvalue()


def write_cohort(cohort: Cohort, outdir: str | Path) -> dict[str, Path]:
    """Write counts.tsv.gz, samples.tsv, annotation.tsv, truth.tsv, planted_pathways.tsv.

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
    }
    paths["counts"].write_bytes(_gzip_bytes(cohort.counts.reset_index().to_csv(**kw)))
    cohort.samples.to_csv(paths["samples"], **kw)
    cohort.annotation.to_csv(paths["annotation"], **kw)
    cohort.truth.to_csv(paths["truth"], float_format="%.6g", **kw)
    cohort.planted_pathways.to_csv(paths["planted_pathways"], **kw)
    return paths
