"""Figures of the marker stage: strip plots, heatmap, panel dot plot, labelled
volcano and the signature's ROC curves.

Each function takes plain tables/arrays and writes one PNG; an empty input gives a
figure that says so (an empty result is a normal result).
"""

from __future__ import annotations

import textwrap

import matplotlib.patches
import numpy as np
import pandas as pd

# seaborn (it imports scipy.stats: ~0.7 s) is imported by the figures that use it: the
# signature job draws only its ROC curves.
from msc_response.common.figures import plt, save
from msc_response.common.labels import repel_labels

GROUP_COLOURS = {"test": "#c44e52", "reference": "#4c72b0"}
PALETTES = ["Set2", "tab10", "Dark2", "Pastel1", "Accent"]


def message_figure(path, title: str, message: str) -> None:
    """A small figure that states why there is nothing to draw."""
    fig, ax = plt.subplots(figsize=(6, 2.2))
    ax.axis("off")
    ax.set_title(title, fontsize=11)
    ax.text(0.5, 0.45, textwrap.fill(message, 70), ha="center", va="center", fontsize=9,
            transform=ax.transAxes)
    save(fig, path)


# ---------------------------------------------------------------- strip plots


def _wrap_level(level: str) -> str:
    """'non_responder' -> 'non_\nresponder': two group names fit under a small panel."""
    return level if len(level) <= 10 else level.replace("_", "_\n", 1)


def _log_axis(ax, values: np.ndarray) -> None:
    """y on log10(count + 1), ticked at whole powers of ten (and at 0 when a value is
    below 1), so every panel has at least two labelled ticks. Cheaper to draw than a
    symlog scale, which matters for dozens of panels."""
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    top = max(1, int(np.ceil(np.log10(max(high, 1) * 1.05))))
    if low < 1:
        # 1 gets its own tick only where it does not crowd the 0 below it
        powers = range(0 if top <= 2 else 1, top + 1)
        positions, labels = [0.0], ["0"]
    else:
        powers = range(int(np.floor(np.log10(low))), top + 1)
        positions, labels = [], []
    positions += [np.log10(10.0**k + 1) for k in powers]
    labels += [f"$10^{{{k}}}$" for k in powers]
    ax.set_yticks(positions, labels)
    ax.set_ylim(positions[0] - 0.05 * (positions[-1] - positions[0]), positions[-1])
    ax.minorticks_off()


def strip_plots(
    values: pd.DataFrame,
    groups: pd.Series,
    order: list[str],
    colour: pd.Series | None,
    titles: dict[str, str],
    path,
    title: str,
    ylabel: str = "normalised count",
    ncols: int = 6,
) -> None:
    """One small strip plot per column of `values` (samples x genes): x = group (in
    `order`), y = count on a log10(count + 1) axis, points coloured by `colour` (e.g. tissue source),
    a black bar at each group's median. Plain matplotlib scatter with a fixed
    jitter: as seaborn's stripplot, several times faster for dozens of panels."""
    import seaborn as sns

    genes = list(values.columns)
    if not genes:
        message_figure(path, title, "No genes to show.")
        return
    ncols = min(ncols, len(genes))
    nrows = int(np.ceil(len(genes) / ncols))
    # room above the first row for panel titles of more than one line
    extra = 0.14 * max([title.count("\n") for title in titles.values()] + [0])
    width, height = 2.2 * ncols + 1.8, 2.15 * nrows + 0.8 + extra
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False)
    fig.subplots_adjust(left=0.9 / width, right=1 - 1.6 / width, bottom=0.6 / height,
                        top=1 - (0.6 + extra) / height, wspace=0.45, hspace=0.6)
    position = pd.Categorical(groups.astype(str), categories=order).codes.astype(float)
    jitter = np.random.default_rng(0).uniform(-0.22, 0.22, len(position))
    if colour is not None:
        levels = list(pd.Categorical(colour.astype(str)).categories)
        palette = dict(zip(levels, sns.color_palette("Set2", len(levels))))
        point_colours = [palette[c] for c in colour.astype(str)]
    else:
        point_colours = "#4c72b0"
    for ax, gene in zip(axes.flat, genes):
        raw = values[gene].to_numpy(dtype=float)
        y = np.log10(raw + 1)
        ax.scatter(position + jitter, y, s=9, c=point_colours, linewidths=0)
        for i in range(len(order)):
            members = y[position == i]
            if len(members):
                ax.hlines(np.median(members), i - 0.3, i + 0.3, color="black", lw=1.5)
        _log_axis(ax, raw)
        ax.set_xlim(-0.6, len(order) - 0.4)
        ax.set_xticks(range(len(order)), [_wrap_level(level) for level in order])
        ax.set_title(titles.get(gene, gene), fontsize=8)
        ax.set_ylabel(ylabel if ax in axes[:, 0] else "", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes.flat[len(genes):]:
        ax.axis("off")
    if colour is not None:
        handles = [matplotlib.patches.Patch(color=palette[h], label=h) for h in levels]
        fig.legend(handles=handles, title=colour.name, loc="upper left",
                   bbox_to_anchor=(1 - 1.5 / width, 1 - (0.6 + extra) / height), fontsize=8,
                   title_fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=11)
    save(fig, path, tight=False)


# ---------------------------------------------------------------- heatmap


def _annotation_colours(annotation: pd.DataFrame):
    """Colour bars for design variables: a palette per categorical variable,
    viridis for continuous ones; legend handles for the categories."""
    import seaborn as sns

    colours, handles = {}, []
    for i, column in enumerate(annotation.columns):
        values = annotation[column]
        if pd.api.types.is_numeric_dtype(values) and not isinstance(values.dtype, pd.CategoricalDtype):
            span = (values.max() - values.min()) or 1
            colours[column] = [plt.cm.viridis((v - values.min()) / span) for v in values]
            handles.append(matplotlib.patches.Patch(
                color="white", label=f"{column}: {values.min():g}-{values.max():g} (viridis)"))
            continue
        levels = list(pd.Categorical(values.astype(str)).categories)
        lut = dict(zip(levels, sns.color_palette(PALETTES[i % len(PALETTES)], len(levels))))
        colours[column] = values.astype(str).map(lut).to_list()
        handles += [matplotlib.patches.Patch(color=c, label=f"{column}: {level}")
                    for level, c in lut.items()]
    return pd.DataFrame(colours, index=annotation.index), handles


def marker_heatmap(
    values: pd.DataFrame, annotation: pd.DataFrame, row_colours: pd.Series | None, path, title: str
) -> None:
    """Clustered heatmap of genes (rows; z-scored per gene) x samples (columns) with
    design variables as column colour bars and up/down as a row colour bar."""
    import seaborn as sns

    if values.shape[0] < 2 or values.shape[1] < 2:
        message_figure(path, title, "Fewer than two marker genes: no heatmap to draw.")
        return
    z = values.sub(values.mean(axis=1), axis=0)
    z = z.div(values.std(axis=1, ddof=1).replace(0, 1), axis=0)
    col_colours, handles = _annotation_colours(annotation.loc[values.columns])
    rows = None
    if row_colours is not None:
        rows = row_colours.map({"up": GROUP_COLOURS["test"], "down": GROUP_COLOURS["reference"]})
        rows.name = "direction"
        handles += [matplotlib.patches.Patch(color=GROUP_COLOURS["test"], label="marker: up"),
                    matplotlib.patches.Patch(color=GROUP_COLOURS["reference"], label="marker: down")]
    height = max(5, 0.16 * len(z) + 3)
    width = max(7, 0.2 * z.shape[1] + 4)
    grid = sns.clustermap(
        z, cmap="RdBu_r", center=0, vmin=-3, vmax=3, col_colors=col_colours, row_colors=rows,
        method="average", metric="correlation", figsize=(width, height),
        xticklabels=True, yticklabels=True, cbar_kws={"label": "z-score"},
        dendrogram_ratio=(0.08, 0.1), cbar_pos=(0.01, 0.82, 0.02, 0.12),
    )
    grid.ax_heatmap.tick_params(labelsize=6)
    grid.ax_heatmap.set_xlabel("")
    grid.ax_heatmap.set_ylabel("")
    # Right of the gene names, outside the heatmap.
    grid.figure.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 0.9),
                       fontsize=7, frameon=False)
    grid.figure.suptitle(title, y=1.01, fontsize=11)
    save(grid.figure, path)


# ---------------------------------------------------------------- panel dot plot


def panel_dotplot(
    log_values: pd.DataFrame,
    groups: pd.Series,
    panel: dict[str, list[str]],
    expressed_cutoff: float,
    path,
    title: str,
) -> None:
    """scanpy dot plot: panel genes (columns, bracketed by panel) x groups (rows);
    colour = mean log2 expression scaled 0-1 per gene, size = fraction of samples
    expressing (log value above `expressed_cutoff`)."""
    import anndata as ad
    import scanpy as sc

    # Bracket labels: panel names wrapped to about the width of their genes' columns.
    present = {}
    for name, symbols in panel.items():
        found = [s for s in symbols if s in log_values.columns]
        if found:
            present[textwrap.fill(name.replace("_", " "), max(8, int(4.5 * len(found))))] = found
    if not present:
        message_figure(path, title, "No panel gene is in the data.")
        return
    adata = ad.AnnData(
        X=log_values.to_numpy(dtype=float),
        obs=pd.DataFrame({"group": pd.Categorical(groups.astype(str))}, index=log_values.index),
        var=pd.DataFrame(index=log_values.columns),
    )
    n_genes = sum(len(v) for v in present.values())
    dot = sc.pl.dotplot(
        adata, var_names=present, groupby="group", standard_scale="var",
        expression_cutoff=expressed_cutoff, var_group_rotation=0,
        colorbar_title="mean log2 expression\n(scaled per gene)",
        size_title="fraction of samples\nexpressing",
        figsize=(max(6, 0.5 * n_genes + 3), 2.6 + 0.3 * adata.obs["group"].nunique()),
        show=False, return_fig=True,
    )
    dot.make_figure()
    dot.fig.suptitle(title, y=1.12, fontsize=11)
    save(dot.fig, path)


# ---------------------------------------------------------------- volcano


def volcano_panel(de: pd.DataFrame, panel_rows: pd.DataFrame, alpha: float, path, title: str) -> None:
    """Volcano (log2FC vs -log10 p) with every panel gene in the data marked in its
    panel's colour and labelled; labels are moved apart so none overlap."""
    import seaborn as sns

    data = de.dropna(subset=["pvalue", "log2FoldChange"]).copy()
    if data.empty:
        message_figure(path, title, "No gene was tested: nothing to draw.")
        return
    positive = data.loc[data["pvalue"] > 0, "pvalue"]
    floor = positive.min() if len(positive) else 1e-300
    data["y"] = -np.log10(data["pvalue"].clip(lower=floor))
    significant = data["padj"] < alpha
    fig, ax = plt.subplots(figsize=(8, 6))
    ax.scatter(data.loc[~significant, "log2FoldChange"], data.loc[~significant, "y"], s=4,
               c="#bbbbbb", alpha=0.5, rasterized=True, label="not significant")
    ax.scatter(data.loc[significant, "log2FoldChange"], data.loc[significant, "y"], s=5,
               c="#e8a0a0", alpha=0.7, rasterized=True, label=f"padj < {alpha}")
    marked = panel_rows.dropna(subset=["gene_id"]).drop_duplicates("gene_id")
    marked = marked.merge(data[["gene_id", "log2FoldChange", "y"]], on="gene_id", how="inner",
                          suffixes=("_panel", ""))
    names = list(dict.fromkeys(panel_rows["panel"]))
    colours = dict(zip(names, sns.color_palette("tab10", len(names))))
    texts = []
    for name in names:
        rows = marked[marked["panel"] == name]
        if rows.empty:
            continue
        ax.scatter(rows["log2FoldChange"], rows["y"], s=28, color=colours[name],
                   edgecolor="black", linewidth=0.5, zorder=3, label=name)
        for _, row in rows.iterrows():
            texts.append(ax.text(row["log2FoldChange"], row["y"], row["symbol"], fontsize=7.5,
                                 zorder=4))
    ax.set_xlabel("log2 fold change")
    ax.set_ylabel("-log10 p-value")
    ax.set_title(title, fontsize=11)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7.5, frameon=False)
    if texts:
        fig.canvas.draw()  # text extents are known only after a draw
        repel_labels(texts, ax, marked["log2FoldChange"], marked["y"])
    save(fig, path)


# ---------------------------------------------------------------- signature ROC


def signature_roc(result, path, title: str) -> None:
    """Left: held-out ROC curves of every repeat (blue) and of the first repeat of
    every label permutation (grey). Right: the AUROC of each repeat and the null
    statistic of each permutation (its AUROC averaged over the same repeats, what
    the p-value compares the observed mean with); the black diamond is the observed
    mean with its 95% interval (`auroc_ci_low/high`)."""
    from sklearn.metrics import roc_curve

    perf = result.performance.iloc[0]
    if perf["status"] != "ok":
        message_figure(path, title, f"Signature not estimated: {perf['note']}")
        return
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.6),
                                      gridspec_kw={"width_ratios": [1.3, 1]})
    for labels, cv in result.null:
        fpr, tpr, _ = roc_curve(labels, cv.scores)
        left.plot(fpr, tpr, color="#999999", lw=0.6, alpha=0.5)
    for cv in result.repeats:
        fpr, tpr, _ = roc_curve(result.y, cv.scores)
        left.plot(fpr, tpr, color="#1f5fa8", lw=1.0, alpha=0.7)
    left.plot([0, 1], [0, 1], ls="--", color="black", lw=0.8)
    left.plot([], [], color="#1f5fa8", label=f"repeats (n={len(result.repeats)})")
    left.plot([], [], color="#999999",
              label=f"permuted labels (n={len(result.null)}, first repeat each)")
    left.set_xlabel("false positive rate (1 - specificity)")
    left.set_ylabel("true positive rate (sensitivity)")
    left.set_title("Held-out ROC curves (nested CV)", fontsize=10)
    left.legend(loc="lower right", fontsize=8, frameon=False)
    left.set_aspect("equal")
    # Seeded jitter (seaborn's stripplot draws from the global random state), so that a
    # rerun redraws the same picture.
    jitter = np.random.default_rng(0)
    for position, (aurocs, colour) in enumerate([
        ([cv.auroc for cv in result.repeats], "#1f5fa8"),
        ([cv.auroc for _, cv in result.null], "#999999"),
    ]):
        right.scatter(position + jitter.uniform(-0.2, 0.2, len(aurocs)), aurocs, s=25,
                      color=colour, linewidths=0)
    right.set_xticks([0, 1], ["observed\n(each repeat)", "permuted\n(mean over repeats)"])
    right.set_xlim(-0.5, 1.5)
    right.set_ylabel("AUROC")
    right.axhline(0.5, ls="--", color="black", lw=0.8)
    right.errorbar([0], [perf["auroc_mean"]],
                   yerr=[[perf["auroc_mean"] - perf["auroc_ci_low"]],
                         [perf["auroc_ci_high"] - perf["auroc_mean"]]],
                   fmt="D", color="black", capsize=4, markersize=5, zorder=5)
    right.set_ylim(-0.02, 1.02)
    right.set_xlabel("")
    right.set_title(
        f"AUROC {perf['auroc_mean']:.2f} (null {perf['null_auroc_mean']:.2f}, p {perf['p_value']:.2g})\n"
        f"black: mean over repeats, 95% interval (conservative, from the group sizes)",
        fontsize=9)
    fig.suptitle(title, fontsize=11)
    fig.text(0.5, -0.06, textwrap.fill(perf["note"], 150), ha="center", va="top", fontsize=7.5)
    fig.tight_layout()
    save(fig, path)


# ---------------------------------------------------------------- all figures of a contrast


def _top_genes(markers: pd.DataFrame, n: int) -> pd.DataFrame:
    """Up to n markers, half up and half down (the other direction fills any gap)."""
    up = markers[markers["direction"] == "up"]
    down = markers[markers["direction"] == "down"]
    n_up = min(len(up), max(n - len(down), (n + 1) // 2))
    return pd.concat([up.head(n_up), down.head(n - n_up)])


def contrast_figures(
    de: pd.DataFrame,
    markers: pd.DataFrame,
    panel_rows: pd.DataFrame,
    panel: dict[str, list[str]],
    samples,
    *,
    name: str,
    alpha: float,
    n_strip: int,
    heatmap_genes: int,
    colour_by: str | None,
    expressed_min_count: float,
    paths: dict,
) -> None:
    """The five marker figures of one contrast (`samples`: markers.ContrastSamples)."""
    from msc_response.design.formula import design_variables

    adata = samples.adata
    obs = adata.obs
    groups = pd.Series(np.where(samples.is_test, samples.test, samples.reference),
                       index=adata.obs_names)
    order = [samples.reference, samples.test]
    colour = obs[colour_by] if colour_by and colour_by in obs else None
    normalised = pd.DataFrame(np.asarray(adata.layers["normalised"]), index=adata.obs_names,
                              columns=adata.var_names)

    top = _top_genes(markers, n_strip)
    if top.empty:
        message_figure(paths["strip_top"], f"Top markers: {name}",
                       "No gene passed the marker thresholds (padj, |log2FC|, baseMean).")
    else:
        values = normalised[top["gene_id"]]
        values.columns = top["symbol"].to_list()
        titles = {s: f"{s} ({d}, rank {r})" for s, d, r in zip(top["symbol"], top["direction"], top["rank"])}
        strip_plots(values.loc[:, ~values.columns.duplicated()], groups, order, colour, titles,
                    paths["strip_top"], f"Top markers: {name} (normalised counts)")

    found = panel_rows.dropna(subset=["gene_id"]).drop_duplicates("gene_id")
    if found.empty:
        message_figure(paths["strip_panel"], f"Panel genes: {name}", "No panel gene is in the data.")
    else:
        values = normalised[found["gene_id"]]
        values.columns = found["symbol"].to_list()
        titles = {
            s: f"{s}: {st}\nAUROC " + ("NA (not tested)" if pd.isna(a) else f"{a:.2f}")
            for s, st, a in zip(found["symbol"], found["status"], found["auroc"])
        }
        strip_plots(values, groups, order, colour, titles, paths["strip_panel"],
                    f"Panel genes: {name} (normalised counts)")

    heat = _top_genes(markers, heatmap_genes)
    adjusted = pd.DataFrame(samples.adjusted_vst(), index=adata.obs_names, columns=adata.var_names)
    if len(heat) < 2:
        message_figure(paths["heatmap"], f"Top markers: {name}",
                       "Fewer than two genes passed the marker thresholds: no heatmap to draw.")
    else:
        values = adjusted[heat["gene_id"]].T
        values.index = heat["symbol"].to_list()
        directions = pd.Series(heat["direction"].to_numpy(), index=values.index)
        variables = [v for v in design_variables(adata.uns["design"]) if v in obs]
        marker_heatmap(values, obs[variables], directions, paths["heatmap"],
                       f"Top markers: {name} (covariate-adjusted VST, z-scored)")

    log_panel = np.log2(normalised[found["gene_id"]] + 1) if not found.empty else pd.DataFrame()
    if not found.empty:
        log_panel.columns = found["symbol"].to_list()
    dot_groups = groups if colour is None else groups + " | " + colour.astype(str)
    panel_dotplot(log_panel, dot_groups, panel, np.log2(expressed_min_count + 1),
                  paths["panel_dotplot"], f"Panel genes by group: {name}")
    volcano_panel(de, panel_rows, alpha, paths["volcano_panel"], f"Volcano with panel genes: {name}")
