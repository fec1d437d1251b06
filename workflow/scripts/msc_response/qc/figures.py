"""Figures of the QC stage (rule sample_qc): library sizes, PCA and sample distances.

Every function takes plain tables/arrays and a path, and writes one PNG with a fixed
size and DPI, so figures are reproducible and easy to test.
"""

from __future__ import annotations

import matplotlib.colors
import matplotlib.patches
import numpy as np
import pandas as pd
import seaborn as sns

from msc_response.common.figures import per_sample_inches, plt, save
from msc_response.qc.samples import FLAG_LEVELS

FLAG_COLOURS = {"ok": "#4c72b0", "note": "#ff7f0e", "outlier": "#d62728"}


def library_sizes(qc_table: pd.DataFrame, path) -> None:
    """Bar charts of library size and detected genes per sample, coloured by QC flag."""
    fig, axes = plt.subplots(
        2, 1, figsize=(max(6, per_sample_inches(len(qc_table), 0.25) + 2), 7), sharex=True
    )
    colours = qc_table["flag"].map(FLAG_COLOURS)
    axes[0].bar(qc_table["sample"], qc_table["library_size"] / 1e6, color=colours)
    axes[0].set_ylabel("library size (million reads)")
    axes[1].bar(qc_table["sample"], qc_table["detected_genes"], color=colours)
    axes[1].set_ylabel("genes with count > 0")
    axes[1].tick_params(axis="x", labelrotation=90, labelsize=7)
    axes[0].set_title("Library size and detected genes")
    axes[0].legend(
        handles=[
            matplotlib.patches.Patch(color=colour, label=f"QC flag: {flag}")
            for flag, colour in FLAG_COLOURS.items()
        ],
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        fontsize=8,
        frameon=False,
    )
    save(fig, path)


# Palettes for design variables in turn (one per variable in the distance heatmap).
DESIGN_PALETTES = ("tab10", "Set2", "Dark2", "Pastel1", "Accent", "tab20b", "tab20c")


def _design_palette(first: str, n: int) -> list:
    """n distinct colours, from palette `first` then the others of DESIGN_PALETTES,
    skipping those close to the QC flag colours (a design level never looks like a flag)."""
    flagged = [matplotlib.colors.to_rgb(FLAG_COLOURS[f]) for f in ("note", "outlier")]
    colours = []
    for name in (first, *DESIGN_PALETTES):
        for colour in sns.color_palette(name):
            far = min(np.linalg.norm(np.subtract(colour, f)) for f in flagged) > 0.35
            if far and colour not in colours:
                colours.append(colour)
        if len(colours) >= n:
            break
    return [colours[i % len(colours)] for i in range(n)]


def _flag_legend_handles(flags: pd.Series) -> list:
    """Legend entries for the QC marks drawn in a figure (none when every sample is ok)."""
    from matplotlib.lines import Line2D

    marks = {
        "outlier": ("o", "QC outlier (named): expression profile far from the others"),
        "note": ("s", "QC note: small library or fewer detected genes"),
    }
    return [
        Line2D([], [], ls="", marker=marker, ms=12, mfc="none", mec=FLAG_COLOURS[flag],
               mew=2.2, label=label)
        for flag, (marker, label) in marks.items()
        if (flags == flag).any()
    ]


def _mark_flagged(ax, scores: np.ndarray, flags: np.ndarray, names) -> None:
    """Rings around outliers (with their names) and squares around noted samples."""
    if not (flags != "ok").any():
        return
    # room for the marks at the edges of the panel
    for get, set_ in [(ax.get_xlim, ax.set_xlim), (ax.get_ylim, ax.set_ylim)]:
        low, high = get()
        pad = 0.06 * (high - low)
        set_(low - pad, high + pad)
    for flag, marker, size in [("note", "s", 300), ("outlier", "o", 380)]:
        chosen = flags == flag
        ax.scatter(scores[chosen, 0], scores[chosen, 1], s=size, marker=marker,
                   facecolors="none", edgecolors=FLAG_COLOURS[flag], linewidths=2.2,
                   zorder=5)
    (x_low, x_high), (y_low, y_high) = ax.get_xlim(), ax.get_ylim()
    for i in np.flatnonzero(flags == "outlier"):
        x, y = scores[i, 0], scores[i, 1]
        # name on the side of the mark that faces the middle of the panel
        right = (x - x_low) / (x_high - x_low) < 0.6
        above = (y - y_low) / (y_high - y_low) < 0.8
        ax.annotate(names[i], (x, y), xytext=(11 if right else -11, 9 if above else -9),
                    textcoords="offset points", ha="left" if right else "right",
                    va="bottom" if above else "top", fontsize=9, fontweight="bold",
                    color=FLAG_COLOURS["outlier"], zorder=6)


def pca(
    adata,
    variables: list[str],
    scores: np.ndarray,
    explained: np.ndarray,
    path,
    flags: pd.Series | None = None,
) -> None:
    """PCA of the VST, one panel per design variable, drawn with scanpy; samples with a
    QC flag (`flags`: ok/note/outlier by sample) are marked in every panel."""
    import scanpy as sc

    view = adata.copy()
    view.obsm["X_pca"] = scores
    view.uns["pca"] = {"variance_ratio": explained, "variance": explained}
    sc.settings.figdir = "."
    panels = sc.pl.embedding(
        view,
        basis="pca",
        color=variables,
        ncols=min(3, len(variables)),
        size=120,
        palette=[matplotlib.colors.to_hex(c) for c in _design_palette("tab10", 40)],
        wspace=0.4,  # room for each panel's legend
        show=False,
        return_fig=False,
    )
    axes = panels if isinstance(panels, list) else [panels]
    flags = (
        pd.Series("ok", index=adata.obs_names) if flags is None else flags
    ).reindex(adata.obs_names, fill_value="ok")
    for ax in axes:
        ax.set_xlabel(f"PC1 ({explained[0] * 100:.1f}%)")
        if len(explained) > 1:
            ax.set_ylabel(f"PC2 ({explained[1] * 100:.1f}%)")
        _mark_flagged(ax, scores, flags.to_numpy(), list(adata.obs_names))
    figure = axes[0].figure
    handles = _flag_legend_handles(flags)
    if handles:
        figure.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0),
                      ncols=len(handles), fontsize=9, frameon=False)
    save(figure, path)


def sample_distance_heatmap(
    distances: pd.DataFrame, annotation: pd.DataFrame, path, flags: pd.Series | None = None
) -> None:
    """Clustered heatmap of sample-to-sample distances with design variables as colour
    bars (seaborn clustermap); a "QC flag" bar and coloured names mark flagged samples."""
    row_colours = {}
    legend_handles = []
    for i, column in enumerate(annotation.columns):
        values = annotation[column]
        if isinstance(values.dtype, pd.CategoricalDtype) or values.dtype == object:
            levels = list(pd.Categorical(values).categories)
            palette = DESIGN_PALETTES[i % len(DESIGN_PALETTES)]
            lut = dict(zip(levels, _design_palette(palette, len(levels))))
            row_colours[column] = values.astype(str).map(
                {str(k): v for k, v in lut.items()}
            )
            legend_handles += [
                matplotlib.patches.Patch(color=colour, label=f"{column}: {level}")
                for level, colour in lut.items()
            ]
        else:
            normed = (values - values.min()) / (values.max() - values.min() or 1)
            row_colours[column] = [plt.cm.viridis(v) for v in normed]
    flags = (
        pd.Series("ok", index=distances.index) if flags is None else flags
    ).reindex(distances.index, fill_value="ok")
    flag_bar = {"ok": "#f2f2f2", "note": FLAG_COLOURS["note"], "outlier": FLAG_COLOURS["outlier"]}
    row_colours["QC flag"] = flags.map(flag_bar).to_numpy()
    legend_handles += [
        matplotlib.patches.Patch(color=flag_bar[flag], label=f"QC flag: {flag}")
        for flag in FLAG_LEVELS
    ]
    colours = pd.DataFrame(row_colours, index=distances.index)
    size = max(6, per_sample_inches(len(distances), 0.22) + 3)
    # Scale colours to the off-diagonal range, so the zero diagonal does not wash out
    # the differences between samples.
    off_diagonal = distances.to_numpy()[~np.eye(len(distances), dtype=bool)]
    grid = sns.clustermap(
        distances,
        cmap="Blues_r",
        vmin=off_diagonal.min() if off_diagonal.size else None,
        row_colors=colours,
        col_colors=colours,
        figsize=(size, size),
        xticklabels=True,
        yticklabels=True,
        method="average",
        cbar_kws={"label": "Euclidean distance (VST)"},
    )
    grid.ax_heatmap.tick_params(labelsize=6)
    # Flagged samples' names in their flag's colour (bold for outliers).
    for label in grid.ax_heatmap.get_xticklabels() + grid.ax_heatmap.get_yticklabels():
        flag = flags.get(label.get_text(), "ok")
        if flag != "ok":
            label.set_color(FLAG_COLOURS[flag])
            label.set_fontweight("bold" if flag == "outlier" else "normal")
    grid.ax_heatmap.legend(
        handles=legend_handles,
        loc="upper left",
        bbox_to_anchor=(1.15, 1.0),
        fontsize=8,
        frameon=False,
    )
    grid.figure.suptitle("Sample-to-sample distances", y=1.02)
    save(grid.figure, path)




def composition_bars(share: pd.DataFrame, groups: pd.Series, variable: str, path) -> None:
    """Stacked bars of each population's share of every sample's cells, the samples
    grouped by `groups` (their level of `variable`, e.g. response), so a population
    that one group lacks is seen at a glance (rule composition)."""
    order = groups.astype(str).sort_values(kind="stable").index
    share = share.loc[order]
    colours = sns.color_palette("tab10" if share.shape[1] <= 10 else "husl", share.shape[1])
    fig, ax = plt.subplots(figsize=(max(5, per_sample_inches(len(share), 0.35) + 3), 4.2))
    x = np.arange(len(share))
    bottom = np.zeros(len(share))
    for colour, population in zip(colours, share.columns):
        values = share[population].to_numpy(dtype=float)
        ax.bar(x, values, bottom=bottom, color=colour, width=0.85, label=str(population))
        bottom += values
    ax.set_xticks(x, [str(s) for s in share.index], rotation=90, fontsize=7)
    ax.set_ylabel("share of the sample's cells")
    ax.set_ylim(0, 1)
    ax.set_xlim(-0.6, len(share) - 0.4)
    # the groups' names above their samples, and a line between groups
    levels = groups.loc[order].astype(str).to_numpy()
    for level in dict.fromkeys(levels):
        where = np.flatnonzero(levels == level)
        ax.text(where.mean(), 1.02, f"{variable}: {level}", ha="center", va="bottom", fontsize=8)
        if where[0] > 0:
            ax.axvline(where[0] - 0.5, color="black", linewidth=1)
    ax.set_title("Cell populations per sample", pad=18)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8,
              title="population", reverse=True)
    save(fig, path)
