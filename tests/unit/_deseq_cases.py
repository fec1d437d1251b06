"""Shared inputs for the DESeq2 engine tests: pasilla and small synthetic data sets."""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np
import pandas as pd


@lru_cache(maxsize=None)
def pasilla() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pasilla (Brooks et al. 2011) from inmoose: counts (7 x 14599), metadata."""
    from inmoose.data.pasilla import pasilla as load

    adata = load()
    counts = pd.DataFrame(np.asarray(adata.X), index=adata.obs_names, columns=adata.var_names)
    meta = adata.obs[["condition", "type"]].astype(str).copy()
    meta["type"] = meta["type"].str.replace("-", "_")
    return counts, meta


def synthetic(
    n_genes: int,
    metadata: pd.DataFrame,
    effects: dict[str, float],
    seed: int,
    de_fraction: float = 0.1,
) -> pd.DataFrame:
    """Negative-binomial counts (samples x genes) with a DESeq2-like dispersion trend.

    ``effects``: design column (0/1 indicator or numeric covariate) -> typical |log2FC|
    of the affected genes.
    """
    rng = np.random.default_rng(seed)
    n = len(metadata)
    base = np.exp(rng.normal(np.log(200), 1.6, n_genes))
    disp = (0.02 + 2.0 / base) * np.exp(rng.normal(0, 0.5, n_genes))
    log_mu = np.tile(np.log(base), (n, 1))
    for column, size in effects.items():
        x = metadata[column].to_numpy(dtype=float)[:, None]
        lfc = np.where(rng.random(n_genes) < de_fraction, rng.normal(0, size, n_genes), 0.0)
        log_mu = log_mu + x * lfc * np.log(2)
    sf = np.exp(rng.normal(0, 0.25, n))[:, None]
    mu = sf * np.exp(log_mu)
    size = 1 / disp
    counts = rng.negative_binomial(size, size / (size + mu))
    genes = [f"g{i:05d}" for i in range(n_genes)]
    return pd.DataFrame(counts, index=metadata.index, columns=genes)


@lru_cache(maxsize=None)
def case(name: str):
    """(counts, metadata, design, contrast) for a named test case."""
    if name == "pasilla_condition":
        counts, meta = pasilla()
        return counts, meta, "~condition", ["condition", "treated", "untreated"]
    if name == "pasilla_type_condition":
        counts, meta = pasilla()
        return counts, meta, "~type + condition", ["condition", "treated", "untreated"]
    if name == "pasilla_5":
        counts, meta = pasilla()
        keep = ["untreated1", "untreated2", "untreated3", "treated1", "treated2"]
        counts = counts.loc[keep]
        return counts.loc[:, counts.sum(0) > 0], meta.loc[keep], "~condition", [
            "condition",
            "treated",
            "untreated",
        ]
    samples = [f"s{i:02d}" for i in range(12)]
    if name == "syn_one_factor":
        meta = pd.DataFrame({"group": ["a"] * 6 + ["b"] * 6}, index=samples)
        ind = pd.DataFrame({"b": (meta["group"] == "b").astype(float)})
        counts = synthetic(1500, ind, {"b": 1.5}, seed=11)
        return counts, meta, "~group", ["group", "b", "a"]
    if name == "syn_two_factors":
        meta = pd.DataFrame(
            {"batch": (["x", "y", "z"] * 4), "group": ["a"] * 6 + ["b"] * 6}, index=samples
        )
        ind = pd.DataFrame(
            {
                "b": (meta["group"] == "b").astype(float),
                "y": (meta["batch"] == "y").astype(float),
                "z": (meta["batch"] == "z").astype(float),
            }
        )
        counts = synthetic(1500, ind, {"b": 1.5, "y": 0.8, "z": 0.5}, seed=12)
        return counts, meta, "~batch + group", ["group", "b", "a"]
    if name == "syn_continuous":
        rng = np.random.default_rng(13)
        meta = pd.DataFrame(
            {"age": np.round(rng.uniform(-1.5, 1.5, 12), 2), "group": ["a", "b"] * 6},
            index=samples,
        )
        ind = pd.DataFrame({"b": (meta["group"] == "b").astype(float), "age": meta["age"]})
        counts = synthetic(1500, ind, {"b": 1.5, "age": 0.6}, seed=13)
        return counts, meta, "~age + group", ["group", "b", "a"]
    raise KeyError(name)


def fit_pydeseq2(counts, meta, design, contrast, inference, dataset_class=None):
    """PyDESeq2 deseq2() + DeseqStats.summary() with the given inference engine."""
    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.ds import DeseqStats

    cls = dataset_class or DeseqDataSet
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dds = cls(counts=counts, metadata=meta, design=design, inference=inference, quiet=True)
        dds.deseq2()
        stats = DeseqStats(dds, contrast=contrast, inference=inference, quiet=True)
        stats.summary()
    return dds, stats.results_df.copy()


def relative_mismatches(a: pd.Series, b: pd.Series, tol: float) -> pd.Series:
    """Genes where |a - b| / |b| > tol (NaN in both counts as equal)."""
    a, b = a.astype(float), b.astype(float)
    both_nan = a.isna() & b.isna()
    rel = (a - b).abs() / b.abs().where(b != 0, 1.0)
    bad = (rel > tol) | (a.isna() != b.isna())
    return rel[bad & ~both_nan]
