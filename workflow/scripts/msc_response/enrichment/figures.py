"""Figures of the enrichment stage: a dot plot of the representative GSEA terms and
running-score plots of the top terms.

Each function takes tables and writes one PNG (fixed size per content, fixed DPI and
metadata, see `common.figures`). When no term is significant the figure says so.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd

from msc_response.common.figures import plt, save
from msc_response.enrichment.analysis import running_score_vertices

UP, DOWN = "#b2182b", "#2166ac"
LABEL_WIDTH = 48


def _wrap(text: str, width: int = LABEL_WIDTH) -> str:
    return "\n".join(textwrap.wrap(str(text), width)) or str(text)


def _significant_representatives(gsea: pd.DataFrame, fdr: float) -> pd.DataFrame:
    representative = gsea["representative"].astype(str).str.lower() == "true"
    return gsea.loc[representative & (gsea["fdr"] < fdr)]


def _nothing_significant(path, title: str, gsea: pd.DataFrame, fdr: float) -> None:
    fig, ax = plt.subplots(figsize=(7, 2.2))
    ax.axis("off")
    if len(gsea):
        best = gsea.iloc[0]
        detail = (
            f"{len(gsea):,} sets tested; the most significant, '{_wrap(best['term'], 60)}',\n"
            f"has FDR {best['fdr']:.2g} (NES {best['nes']:.2f})."
        )
    else:
        detail = "No set was tested."
    ax.text(
        0.5, 0.5, f"No term reaches FDR < {fdr:g}.\n{detail}", ha="center", va="center",
        fontsize=10, wrap=True,
    )
    ax.set_title(title, fontsize=11)
    save(fig, path)


def dotplot(
    gsea: pd.DataFrame, path, title: str, fdr: float, top: int = 10,
    groups: tuple[str, str] = ("the test group", "the reference group"),
) -> None:
    """NES of the `top` most significant representative terms per direction;
    colour -log10 FDR, dot size the leading-edge size; '+k similar' counts the other
    terms of the term's redundancy group. `groups`: the contrast's test and
    reference levels, for the axis label."""
    representatives = _significant_representatives(gsea, fdr)
    if representatives.empty:
        _nothing_significant(path, title, gsea, fdr)
        return
    up = representatives[representatives["nes"] > 0].head(top).sort_values("nes")
    down = representatives[representatives["nes"] < 0].head(top).sort_values("nes")
    shown = pd.concat([down, up])
    members = gsea["group"].value_counts()
    labels = [
        _wrap(term) + (f"  (+{members[group] - 1} similar)" if members[group] > 1 else "")
        for term, group in zip(shown["term"], shown["group"])
    ]
    height = max(2.8, 0.42 * sum(label.count("\n") + 1 for label in labels) + 1.6)
    fig, ax = plt.subplots(figsize=(9, height))
    y = np.arange(len(shown))
    strength = -np.log10(np.clip(shown["fdr"].to_numpy(float), 1e-300, None))
    dots = ax.scatter(
        shown["nes"], y, c=strength, s=25 + 3 * shown["leading_edge_size"].to_numpy(float),
        cmap="viridis", edgecolors="black", linewidths=0.4, zorder=3,
        vmin=0, vmax=max(strength.max(), -np.log10(fdr)),
    )
    ax.axvline(0, color="grey", linewidth=0.8)
    if len(up) and len(down):
        ax.axhline(len(down) - 0.5, color="grey", linewidth=0.5, linestyle=":")
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_ylim(-0.7, len(shown) - 0.3)
    limit = max(1.0, np.abs(shown["nes"]).max() * 1.15)
    ax.set_xlim(-limit, limit)
    ax.set_xlabel(
        f"normalised enrichment score (NES): > 0 higher in {groups[0]}, < 0 higher in {groups[1]}"
    )
    ax.grid(axis="x", alpha=0.3)
    colourbar = fig.colorbar(dots, ax=ax, pad=0.02, fraction=0.05)
    colourbar.set_label("-log10 FDR")
    edge_sizes = shown["leading_edge_size"].to_numpy(int)
    for size in sorted({edge_sizes.min(), int(np.median(edge_sizes)), edge_sizes.max()}):
        ax.scatter([], [], s=25 + 3 * size, color="lightgrey", edgecolors="black",
                   linewidths=0.4, label=f"{size}")
    ax.legend(title="leading edge", loc="upper left", bbox_to_anchor=(1.12, 1), fontsize=8,
              title_fontsize=8, frameon=False, labelspacing=1.2)
    ax.set_title(title, fontsize=11)
    save(fig, path)


def running_scores(
    gsea: pd.DataFrame, ranking: pd.Series, sets: dict[str, list[str]], path, title: str,
    fdr: float, per_direction: int = 3,
) -> None:
    """GSEA running score of the top representative terms (up to `per_direction`
    each way) along the ranking, with the positions of the set's genes below."""
    representatives = _significant_representatives(gsea, fdr)
    if representatives.empty:
        _nothing_significant(path, title, gsea, fdr)
        return
    chosen = pd.concat([
        representatives[representatives["nes"] > 0].head(per_direction),
        representatives[representatives["nes"] < 0].head(per_direction),
    ])
    position = pd.Series(np.arange(len(ranking)), index=ranking.index)
    weights = np.abs(ranking.to_numpy(float))
    n = len(ranking)
    columns = 2 if len(chosen) > 1 else 1
    rows = int(np.ceil(len(chosen) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(5.2 * columns, 3.1 * rows), squeeze=False)
    for ax in axes.flat[len(chosen):]:
        ax.axis("off")
    for ax, (_, term) in zip(axes.flat, chosen.iterrows()):
        hits = np.sort(position[sets[term["term"]]].to_numpy())
        before, after = running_score_vertices(hits, weights, n)
        x = np.concatenate([[0], np.column_stack([hits, hits + 1]).ravel(), [n]])
        y = np.concatenate([[0], np.column_stack([before, after]).ravel(), [0]])
        colour = UP if term["nes"] > 0 else DOWN
        ax.plot(x, y, color=colour, linewidth=1.3)
        ax.axhline(0, color="grey", linewidth=0.6)
        low, high = min(y.min(), 0), max(y.max(), 0)
        span = high - low or 1
        ax.vlines(hits, low - 0.22 * span, low - 0.08 * span, color="black", linewidth=0.5)
        ax.set_ylim(low - 0.25 * span, high + 0.1 * span)
        ax.set_xlim(0, n)
        ax.set_title(
            _wrap(term["term"], 52)
            + f"\nNES {term['nes']:.2f}, FDR {term['fdr']:.2g}, {int(term['size'])} genes",
            fontsize=9,
        )
        ax.set_xlabel(f"gene rank (1 = highest of {n:,})", fontsize=8)
        ax.set_ylabel("running enrichment score", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    save(fig, path)
