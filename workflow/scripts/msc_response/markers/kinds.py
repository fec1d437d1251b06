"""Marker tables of the contrast kinds that compare no two groups (rule
markers_by_kind): a continuous variable and a likelihood-ratio test.

- continuous: the genes whose expression follows the variable, ranked by their
  per-unit log2 fold change (shrunk when the DE stage shrank it), with the Spearman
  correlation of the covariate-adjusted VST with the variable and its percentile
  bootstrap 95% interval (resampling samples) in place of the AUROC; a figure of
  expression against the variable for the top genes;
- LRT: its most significant genes with the mean normalised count in each level of
  the first categorical variable the reduced design drops (the per-level means in
  place of the AUROC), and a heatmap of their covariate-adjusted VST averaged per
  level.

The DE table decides which genes are significant; nothing is re-tested here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_response.design.covariates import remove_covariates
from msc_response.design.formula import design_variables
from msc_response.markers.tables import _gene_positions, effect_column

CONTINUOUS_COLUMNS = [
    "gene_id", "symbol", "direction", "rank", "baseMean", "log2FoldChange",
    "log2FoldChange_shrunk", "padj", "spearman", "spearman_ci_low", "spearman_ci_high",
]
LEVEL_COLUMNS = ["gene_id", "symbol", "rank", "baseMean", "stat", "padj", "log2FoldChange"]


def _ranks(values: np.ndarray) -> np.ndarray:
    """Ranks along axis 0 (ties averaged), as Spearman's correlation needs."""
    from scipy.stats import rankdata

    return rankdata(values, axis=0)


def spearman(x: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Spearman correlation of `x` (samples) with each column of `values`."""
    rx = _ranks(x[:, None])
    ry = _ranks(values)
    rx = rx - rx.mean(axis=0)
    ry = ry - ry.mean(axis=0)
    denominator = np.sqrt((rx**2).sum(axis=0) * (ry**2).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rx * ry).sum(axis=0) / denominator


def bootstrap_spearman_ci(
    x: np.ndarray, values: np.ndarray, n_boot: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile 95% interval of each gene's Spearman correlation over `n_boot`
    resamplings of the samples (seeded; resamples where x is constant are skipped)."""
    rng = np.random.default_rng(seed)
    n = len(x)
    draws = []
    for _ in range(n_boot):
        rows = rng.integers(0, n, n)
        if np.ptp(x[rows]) == 0:
            continue
        draws.append(spearman(x[rows], values[rows]))
    if not draws:
        nan = np.full(values.shape[1], np.nan)
        return nan, nan
    stacked = np.vstack(draws)
    return np.nanquantile(stacked, 0.025, axis=0), np.nanquantile(stacked, 0.975, axis=0)


def adjusted_vst(adata, variable: str) -> np.ndarray:
    """VST with the design's covariate terms removed, the terms of `variable` kept."""
    return remove_covariates(
        np.asarray(adata.layers["vst"], dtype=float), adata.obs, adata.uns["design"], variable
    )


def continuous_markers(
    de: pd.DataFrame, adata, variable: str, *, n_top: int, alpha: float,
    min_base_mean: float, n_boot: int, seed: int,
) -> pd.DataFrame:
    """Top `n_top` genes rising and falling with `variable` (padj < alpha, baseMean >=
    min_base_mean), ranked by |per-unit log2FC|; Spearman with its interval."""
    lfc = effect_column(de)
    candidates = de[(de["padj"] < alpha) & (de["baseMean"] >= min_base_mean)].copy()
    if candidates.empty:
        return pd.DataFrame(columns=CONTINUOUS_COLUMNS)
    candidates["direction"] = np.where(candidates[lfc] > 0, "up", "down")
    chosen = []
    for direction in ("up", "down"):
        group = candidates[candidates["direction"] == direction].copy()
        group["_key"] = -group[lfc].abs()
        group = group.sort_values(["_key", "padj", "gene_id"], kind="mergesort").head(n_top)
        group["rank"] = np.arange(1, len(group) + 1)
        chosen.append(group)
    table = pd.concat(chosen, ignore_index=True)
    x = adata.obs[variable].to_numpy(dtype=float)
    values = adjusted_vst(adata, variable)[:, _gene_positions(adata, table["gene_id"])]
    table["spearman"] = spearman(x, values)
    table["spearman_ci_low"], table["spearman_ci_high"] = bootstrap_spearman_ci(
        x, values, n_boot, seed
    )
    return table.reindex(columns=CONTINUOUS_COLUMNS).reset_index(drop=True)


def levels_variable(design: str, reduced: str, obs: pd.DataFrame) -> str | None:
    """The first categorical variable the reduced design drops (None if only
    continuous ones are dropped)."""
    kept = set(design_variables(reduced))
    for variable in design_variables(design):
        if variable not in kept and isinstance(obs[variable].dtype, pd.CategoricalDtype):
            return variable
    return None


def level_markers(
    de: pd.DataFrame, adata, variable: str | None, *, n_top: int, alpha: float,
    min_base_mean: float,
) -> pd.DataFrame:
    """The `2 * n_top` most significant genes of an LRT (padj, then statistic) with
    their mean normalised count per level of `variable` (`mean_<level>`)."""
    table = de[(de["padj"] < alpha) & (de["baseMean"] >= min_base_mean)]
    table = table.sort_values(["padj", "stat", "gene_id"], ascending=[True, False, True],
                              kind="mergesort").head(2 * n_top).copy()
    table["rank"] = np.arange(1, len(table) + 1)
    columns = list(LEVEL_COLUMNS)
    if variable is not None:
        levels = adata.obs[variable].astype(str)
        normalised = np.asarray(adata.layers["normalised"], dtype=float)
        positions = _gene_positions(adata, table["gene_id"])
        for level in adata.obs[variable].cat.categories:
            rows = (levels == str(level)).to_numpy()
            name = f"mean_{level}"
            table[name] = normalised[rows][:, positions].mean(axis=0) if len(table) else []
            columns.append(name)
    return table.reindex(columns=columns).reset_index(drop=True)


# ---------------------------------------------------------------- figures


def scatter_figure(markers: pd.DataFrame, adata, variable: str, path, title: str,
                   n_genes: int) -> None:
    """Covariate-adjusted VST of the top genes against the variable, with a
    least-squares line; Spearman and its interval in each panel's title."""
    import matplotlib.pyplot as plt

    from msc_response.common.figures import save
    from msc_response.markers.figures import message_figure

    top = pd.concat([markers[markers["direction"] == d].head((n_genes + 1) // 2)
                     for d in ("up", "down")]).head(n_genes)
    if top.empty:
        message_figure(path, title, f"No gene follows {variable} at the marker thresholds.")
        return
    x = adata.obs[variable].to_numpy(dtype=float)
    values = adjusted_vst(adata, variable)[:, _gene_positions(adata, top["gene_id"])]
    columns = min(4, len(top))
    rows = int(np.ceil(len(top) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.8 * rows), squeeze=False)
    for ax, (i, row) in zip(axes.flat, enumerate(top.itertuples())):
        y = values[:, i]
        ax.scatter(x, y, s=14, color="#3b6ea8" if row.direction == "up" else "#c0504d",
                   linewidths=0)
        slope, intercept = np.polyfit(x, y, 1)
        grid = np.linspace(x.min(), x.max(), 2)
        ax.plot(grid, intercept + slope * grid, color="black", lw=0.8)
        ax.set_title(f"{row.symbol}: rho {row.spearman:.2f} "
                     f"({row.spearman_ci_low:.2f} to {row.spearman_ci_high:.2f})", fontsize=8)
        ax.set_xlabel(variable, fontsize=8)
        ax.set_ylabel("adjusted VST", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(top):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    save(fig, path)


def level_heatmap(markers: pd.DataFrame, adata, variable: str | None, path, title: str,
                  n_genes: int) -> None:
    """Per-level mean of the covariate-adjusted VST of an LRT's top genes, z-scored
    per gene (rows: genes, columns: levels of `variable`)."""
    import matplotlib.pyplot as plt

    from msc_response.common.figures import save
    from msc_response.markers.figures import message_figure

    top = markers.head(n_genes)
    if top.empty or variable is None:
        message_figure(path, title, "No significant gene to show." if variable else
                       "The reduced design drops no categorical variable: no levels to show.")
        return
    values = adjusted_vst(adata, variable)[:, _gene_positions(adata, top["gene_id"])]
    levels = adata.obs[variable].astype(str)
    names = [str(c) for c in adata.obs[variable].cat.categories]
    means = np.vstack([values[(levels == name).to_numpy()].mean(axis=0) for name in names]).T
    z = (means - means.mean(axis=1, keepdims=True)) / np.where(
        means.std(axis=1, keepdims=True) > 0, means.std(axis=1, keepdims=True), 1.0)
    fig, ax = plt.subplots(figsize=(1.2 * len(names) + 2.5, 0.18 * len(top) + 1.6))
    image = ax.imshow(z, aspect="auto", cmap="RdBu_r", vmin=-2, vmax=2)
    ax.set_xticks(range(len(names)), [n.replace("_", " ") for n in names], fontsize=8)
    ax.set_yticks(range(len(top)), top["symbol"].astype(str).tolist(), fontsize=6)
    ax.set_xlabel(variable)
    fig.colorbar(image, ax=ax, label="z-score of the level mean (adjusted VST)", shrink=0.6)
    ax.set_title(title, fontsize=10)
    save(fig, path)
