"""Figures of the DE stage (rule de_plots): MA and volcano plots of one contrast.

Each function takes the contrast's table and a path and writes one PNG (see
`common.figures`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_response.common.figures import legend_outside, plt, save
from msc_response.common.labels import repel_labels


def _label_top(ax, table: pd.DataFrame, x: str, y: str, n: int) -> None:
    """Name the `n` most significant genes, labels pushed apart so none hides another."""
    top = table.dropna(subset=["padj"]).head(n)
    texts = [ax.text(row[x], row[y], row["symbol"], fontsize=7) for _, row in top.iterrows()]
    if texts:
        # keep clear of the most significant points (where the labels sit), not of all
        near = table.dropna(subset=["padj"]).head(200)
        repel_labels(texts, ax, near[x], near[y])


def ma_plot(table: pd.DataFrame, alpha: float, path, n_labels: int = 10, title: str = "") -> None:
    """log2 fold change against mean normalised count; significant genes in red."""
    lfc = "log2FoldChange_shrunk" if "log2FoldChange_shrunk" in table else "log2FoldChange"
    data = table.dropna(subset=[lfc]).copy()
    data["log10_baseMean"] = np.log10(data["baseMean"] + 0.5)
    significant = data["padj"] < alpha
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.scatter(data.loc[~significant, "log10_baseMean"], data.loc[~significant, lfc],
               s=4, c="#999999", alpha=0.5, rasterized=True, label="not significant")
    ax.scatter(data.loc[significant, "log10_baseMean"], data.loc[significant, lfc],
               s=6, c="#d62728", alpha=0.8, rasterized=True, label=f"padj < {alpha}")
    ax.axhline(0, color="black", lw=0.8)
    _label_top(ax, data.sort_values("padj", na_position="last"), "log10_baseMean", lfc, n_labels)
    ax.set_xlabel("log10 mean of normalised counts")
    ax.set_ylabel("log2 fold change" + (" (shrunk)" if lfc.endswith("shrunk") else ""))
    ax.set_title(title or "MA plot")
    legend_outside(ax, fontsize=8)
    save(fig, path)


def volcano_plot(table: pd.DataFrame, alpha: float, path, n_labels: int = 10, title: str = "") -> None:
    """log2 fold change against -log10 p-value; significant genes in red."""
    data = table.dropna(subset=["pvalue"]).copy()
    smallest = data.loc[data["pvalue"] > 0, "pvalue"].min() if (data["pvalue"] > 0).any() else 1e-300
    data["neg_log10_p"] = -np.log10(data["pvalue"].clip(lower=smallest))
    significant = data["padj"] < alpha
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.scatter(data.loc[~significant, "log2FoldChange"], data.loc[~significant, "neg_log10_p"],
               s=4, c="#999999", alpha=0.5, rasterized=True, label="not significant")
    ax.scatter(data.loc[significant, "log2FoldChange"], data.loc[significant, "neg_log10_p"],
               s=6, c="#d62728", alpha=0.8, rasterized=True, label=f"padj < {alpha}")
    _label_top(ax, data.sort_values("padj", na_position="last"), "log2FoldChange", "neg_log10_p", n_labels)
    ax.set_xlabel("log2 fold change")
    ax.set_ylabel("-log10 p-value")
    ax.set_title(title or "Volcano plot")
    legend_outside(ax, fontsize=8)
    save(fig, path)
