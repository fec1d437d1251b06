"""Per-sample quality metrics, PCA and sample distances on the VST, and outlier flags."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
from scipy.spatial.distance import pdist, squareform


def robust_z(values: np.ndarray) -> np.ndarray:
    """(x - median) / (1.4826 * MAD): a z-score that a few outliers cannot mask."""
    values = np.asarray(values, dtype=float)
    median = np.median(values)
    mad = 1.4826 * np.median(np.abs(values - median))
    if mad == 0:
        return np.zeros_like(values)
    return (values - median) / mad


def top_variable_genes(vst: np.ndarray, n: int) -> np.ndarray:
    """Indices of the n genes with the highest VST variance (as R's plotPCA), stable order."""
    variance = vst.var(axis=0)
    order = np.argsort(-variance, kind="stable")
    return np.sort(order[: min(n, vst.shape[1])])


def pca(vst: np.ndarray, n_top: int = 500, n_components: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Scores and explained-variance fractions of a PCA on the top-variance genes.

    Signs are fixed so that each component's largest loading is positive: reruns and
    other platforms draw the same picture.
    """
    genes = top_variable_genes(vst, n_top)
    centred = vst[:, genes] - vst[:, genes].mean(axis=0)
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    k = min(n_components, len(s))
    signs = np.sign(vt[np.arange(k), np.abs(vt[:k]).argmax(axis=1)])
    scores = u[:, :k] * s[:k] * signs
    explained = s**2 / np.sum(s**2)
    return scores, explained[:k]


def sample_distances(vst: np.ndarray, sample_names) -> pd.DataFrame:
    """Euclidean distances between samples on the VST of all expressed genes."""
    distances = squareform(pdist(vst, metric="euclidean"))
    return pd.DataFrame(distances, index=sample_names, columns=sample_names)


def sample_qc_table(
    adata: ad.AnnData, *, outlier_z: float = 3.5, n_top: int = 500
) -> tuple[pd.DataFrame, np.ndarray]:
    """One row per sample: library size, detected genes, size factor, PC1/PC2, median
    distance to the other samples, and an outlier flag with its reasons.

    Also returns the PCA's explained-variance fractions.
    A sample is flagged when a robust z-score exceeds `outlier_z` for a small library,
    few detected genes, or a large median distance to the other samples.
    """
    counts = np.asarray(adata.layers["counts"])
    vst = np.asarray(adata.layers["vst"])[:, np.asarray(adata.var["expressed"])]
    library_size = counts.sum(axis=1)
    detected = (counts > 0).sum(axis=1)
    scores, explained = pca(vst, n_top=n_top)
    distances = sample_distances(vst, adata.obs_names).to_numpy()
    np.fill_diagonal(distances, np.nan)
    median_distance = np.nanmedian(distances, axis=1)

    checks = {
        "small library": -robust_z(np.log2(library_size)),
        "few detected genes": -robust_z(detected),
        "far from other samples": robust_z(median_distance),
    }
    reasons = [
        "; ".join(name for name, z in checks.items() if z[i] > outlier_z)
        for i in range(len(library_size))
    ]
    table = pd.DataFrame(
        {
            "sample": adata.obs_names,
            "library_size": library_size,
            "detected_genes": detected,
            "size_factor": adata.obs["size_factor"].to_numpy(),
            "PC1": scores[:, 0],
            "PC2": scores[:, 1] if scores.shape[1] > 1 else np.nan,
            "median_distance": median_distance,
            "z_library_size": -checks["small library"],
            "z_detected_genes": -checks["few detected genes"],
            "z_median_distance": checks["far from other samples"],
            "outlier": [bool(r) for r in reasons],
            "outlier_reason": reasons,
        }
    )
    return table, explained
