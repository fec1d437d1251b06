"""Per-sample quality metrics, PCA and sample distances on the VST, and QC flags.

Flags come in two levels (see `FlagRules`):

* ``outlier``: the sample's expression profile is far from every other sample's. Such a
  sample can move DE results, so it deserves a look before the results are trusted.
* ``note``: a small library or fewer detected genes. Worth knowing, but DESeq2's size
  factors and count model handle it.

Every rule needs both a large robust z-score (the deviation is unusual for this cohort)
and a relative deviation that matters (e.g. a library under half the median), and every
spread is floored, so a metric that hardly varies (detected genes on a filtered matrix)
cannot flag a sample on noise.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import anndata as ad
import numpy as np
import pandas as pd

FLAG_LEVELS = ("ok", "note", "outlier")
MAD_TO_SD = 1.4826  # MAD of a normal distribution times this is its SD


@dataclass(frozen=True)
class FlagRules:
    """Thresholds of the QC flags (config section `qc`, documented in config/README.md)."""

    # outlier: mean VST distance to the nearest samples, both z and ratio above these
    outlier_z: float = 3.5
    distance_ratio: float = 1.5
    neighbours: int = 3  # at most; see neighbour_count
    # note: z below -note_z and library under library_fraction of the others' median,
    # or detected genes more than detected_shortfall under it
    note_z: float = 2.5
    library_fraction: float = 0.5
    detected_shortfall: float = 0.1
    # floor of every metric's robust spread, as a fraction of its median
    min_spread: float = 0.05

    @classmethod
    def from_config(cls, qc: dict) -> "FlagRules":
        """The rules from the config's `qc` section (other keys there are ignored)."""
        return cls(**{f.name: qc[f.name] for f in fields(cls) if f.name in qc})


def compare_with_others(values, min_spread: float) -> tuple[np.ndarray, np.ndarray]:
    """For each sample, its value relative to the other samples: (ratio, z).

    ratio: value / median of the other samples. z: robust z of log2(value) against the
    other samples' log2 median and MAD (leave-one-out, so a sample far out does not
    widen the spread it is measured against). The spread is floored at
    log2(1 + min_spread), i.e. `min_spread` of the median: when a metric barely varies
    (detected genes saturate on a filtered matrix, MAD of a few genes) a tiny
    difference gets a small z, not a huge one.
    """
    with np.errstate(divide="ignore"):  # a distance of 0 (duplicated sample): -inf
        log_values = np.log2(np.asarray(values, dtype=float))
    floor = np.log2(1 + min_spread)
    ratio = np.full(len(log_values), np.nan)
    z = np.full(len(log_values), np.nan)
    for i in range(len(log_values)):
        others = np.delete(log_values, i)
        if others.size == 0:
            continue
        centre = np.median(others)
        spread = max(MAD_TO_SD * np.median(np.abs(others - centre)), floor)
        ratio[i] = np.exp2(log_values[i] - centre)
        z[i] = (log_values[i] - centre) / spread
    return ratio, z


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
    """Euclidean distances between samples on the VST of all expressed genes.

    From the Gram matrix of the gene-centred values (one matrix product, ~30x faster
    than pairwise loops on 60,000 genes; agrees with them to ~1e-13 relative). BLAS
    runs on one thread so the sums are taken in the same order on every run.
    """
    from threadpoolctl import threadpool_limits

    centred = np.asarray(vst, dtype=float)
    centred = centred - centred.mean(axis=0)
    with threadpool_limits(limits=1, user_api="blas"):
        gram = centred @ centred.T
    norms = np.diag(gram)
    distances = np.sqrt(np.maximum(norms[:, None] + norms[None, :] - 2 * gram, 0.0))
    distances = (distances + distances.T) / 2  # exactly symmetric
    np.fill_diagonal(distances, 0.0)
    return pd.DataFrame(distances, index=sample_names, columns=sample_names)


def neighbour_count(obs: pd.DataFrame, variables: list[str], wanted: int) -> int:
    """How many nearest neighbours the outlier rule averages over.

    At most one less than the smallest group of any categorical design variable: every
    member of a group then finds all its neighbours inside the group, so a group that
    is legitimately far from the rest (e.g. one tissue source) cannot be flagged as a
    whole. At least 1; at most the number of other samples.
    """
    k = min(wanted, len(obs) - 1)
    for variable in variables:
        values = obs[variable]
        if pd.api.types.is_numeric_dtype(values) and not isinstance(
            values.dtype, pd.CategoricalDtype
        ):
            continue  # a continuous covariate forms no groups
        k = min(k, int(values.astype(str).value_counts().min()) - 1)
    return max(k, 1)


def neighbour_distance(distances: np.ndarray, k: int) -> np.ndarray:
    """Mean distance of each sample to its k nearest other samples."""
    off_diagonal = np.asarray(distances, dtype=float).copy()
    np.fill_diagonal(off_diagonal, np.inf)
    return np.sort(off_diagonal, axis=1)[:, :k].mean(axis=1)


def _reads(n: float) -> str:
    return f"{n / 1e6:.1f} M" if n >= 1e5 else f"{n:,.0f}"


def flag_samples(metrics: pd.DataFrame, rules: FlagRules, k: int) -> pd.DataFrame:
    """`flag` (ok/note/outlier) and `flag_reason` (plain words) from the metric table.

    `metrics` holds library_size, detected_genes, neighbour_distance and their
    `*_ratio` (to the other samples' median) and `z_*` columns.
    """
    flags, reasons = [], []
    for _, row in metrics.iterrows():
        level, words = "ok", []
        typical_distance = row["neighbour_distance"] / row["neighbour_distance_ratio"]
        if (
            row["z_neighbour_distance"] > rules.outlier_z
            and row["neighbour_distance_ratio"] > rules.distance_ratio
        ):
            level = "outlier"
            nearest = "its nearest sample" if k == 1 else f"its {k} nearest samples"
            words.append(
                f"expression profile far from the other samples: distance to {nearest} "
                f"{row['neighbour_distance_ratio']:.1f}x the typical "
                f"({row['neighbour_distance']:.0f} vs {typical_distance:.0f} on the VST, "
                f"robust z {row['z_neighbour_distance']:.1f}); this can change DE results: "
                "check it (failed library, sample swap, contamination) and remove it from "
                "the sample sheet if it is one"
            )
        if (
            row["z_library_size"] < -rules.note_z
            and row["library_size_ratio"] < rules.library_fraction
        ):
            level = "note" if level == "ok" else level
            typical = row["library_size"] / row["library_size_ratio"]
            words.append(
                f"library {1 / row['library_size_ratio']:.1f}x smaller than the other "
                f"samples' median ({_reads(row['library_size'])} vs {_reads(typical)} "
                "reads); size factors correct for this"
            )
        if (
            row["z_detected_genes"] < -rules.note_z
            and row["detected_genes_ratio"] < 1 - rules.detected_shortfall
        ):
            level = "note" if level == "ok" else level
            typical = row["detected_genes"] / row["detected_genes_ratio"]
            words.append(
                f"{1 - row['detected_genes_ratio']:.0%} fewer genes detected than the other "
                f"samples' median ({row['detected_genes']:,.0f} vs {typical:,.0f}); often a "
                "smaller or less complex library, which the model handles"
            )
        flags.append(level)
        reasons.append("; ".join(words))
    return pd.DataFrame({"flag": flags, "flag_reason": reasons}, index=metrics.index)


def sample_qc_table(
    adata: ad.AnnData,
    *,
    rules: FlagRules = FlagRules(),
    n_top: int = 500,
    variables: list[str] | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """One row per sample: library size, detected genes, size factor, PC1/PC2, distances
    to the other samples, their ratios and robust z-scores, and the QC flag with its
    reason in words.

    `variables`: the design's variables (their groups bound the neighbour count; see
    `neighbour_count`). Also returns the PCA's explained-variance fractions.
    """
    counts = np.asarray(adata.layers["counts"])
    vst = np.asarray(adata.layers["vst"])[:, np.asarray(adata.var["expressed"])]
    library_size = counts.sum(axis=1)
    detected = (counts > 0).sum(axis=1)
    scores, explained = pca(vst, n_top=n_top)
    distances = sample_distances(vst, adata.obs_names).to_numpy()
    k = neighbour_count(adata.obs, list(variables or []), rules.neighbours)
    nearest = neighbour_distance(distances, k)
    off_diagonal = distances.copy()
    np.fill_diagonal(off_diagonal, np.nan)

    table = pd.DataFrame(
        {
            "sample": adata.obs_names,
            "library_size": library_size,
            "detected_genes": detected,
            "size_factor": adata.obs["size_factor"].to_numpy(),
            "PC1": scores[:, 0],
            "PC2": scores[:, 1] if scores.shape[1] > 1 else np.nan,
            "median_distance": np.nanmedian(off_diagonal, axis=1) if len(vst) > 1 else np.nan,
            "neighbour_distance": nearest,
        }
    )
    if "single_cell" in adata.uns:
        # pseudobulk: the cells summed into each profile
        table.insert(3, "n_cells", np.asarray(adata.uns["single_cell"]["n_cells"], dtype=int))
    for metric in ["library_size", "detected_genes", "neighbour_distance"]:
        ratio, z = compare_with_others(table[metric].to_numpy(), rules.min_spread)
        table[f"{metric}_ratio"] = ratio
        table[f"z_{metric}"] = z
    flags = flag_samples(table, rules, k)
    table.insert(1, "flag", flags["flag"])
    table["outlier"] = table["flag"] == "outlier"
    # reads the counting left out of the genes (HTSeq's __no_feature..., STAR's N_...
    # rows of per-sample count files), when the counts came from such files
    for column in (c for c in adata.obs.columns if c.startswith("unassigned_")):
        table[column] = adata.obs[column].to_numpy()
    table["flag_reason"] = flags["flag_reason"]  # last: long words read best at the end
    return table, explained
