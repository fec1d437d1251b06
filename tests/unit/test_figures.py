"""What the DE, QC and enrichment figures draw, read from the figures' artists (not
only that a PNG was written): which genes are red, which are named, which terms
are shown, one bar per sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from msc_response.de import figures as de_figures
from msc_response.enrichment import figures as enrichment_figures
from msc_response.qc import figures as qc_figures

from ..figure_checks import assert_drawn_png, drawn_figures, scatter_points


@pytest.fixture
def de_table():
    rng = np.random.default_rng(8)
    n = 400
    lfc = rng.normal(0, 1, n)
    pvalue = np.exp(-np.abs(lfc) * rng.uniform(1, 12, n))
    padj = np.minimum(1, pvalue * 20)
    padj[:15] = np.nan  # filtered out: no p-value adjustment
    return pd.DataFrame({
        "gene_id": [f"G{i:03d}" for i in range(n)],
        "symbol": [f"S{i:03d}" for i in range(n)],
        "baseMean": np.exp(rng.normal(5, 2, n)),
        "log2FoldChange": lfc,
        "log2FoldChange_shrunk": lfc * 0.7,
        "pvalue": pvalue,
        "padj": padj,
    })


@pytest.mark.parametrize("plot", ["volcano_plot", "ma_plot"])
def test_de_figures_colour_the_significant_genes_and_name_the_top(monkeypatch, de_table, plot):
    figures = drawn_figures(monkeypatch, de_figures)
    getattr(de_figures, plot)(de_table, 0.05, "unused.png", n_labels=6, title="t")
    (ax,) = [a for a in figures[0].axes if a.collections]
    grey, red = scatter_points(ax)
    significant = de_table["padj"] < 0.05
    assert 10 < significant.sum() < len(de_table) - 10
    assert len(red) == significant.sum() and len(grey) + len(red) == len(de_table)
    if plot == "volcano_plot":
        expected = np.c_[de_table.loc[significant, "log2FoldChange"],
                         -np.log10(de_table.loc[significant, "pvalue"])]
    else:  # the MA plot shows the shrunk LFC when there is one
        expected = np.c_[np.log10(de_table.loc[significant, "baseMean"] + 0.5),
                         de_table.loc[significant, "log2FoldChange_shrunk"]]
    np.testing.assert_allclose(red, expected)
    top = de_table.sort_values("padj").head(6)["symbol"]
    assert sorted(t.get_text() for t in ax.texts) == sorted(top)


def _gsea_table(n_terms: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(2)
    nes = rng.normal(0, 1.5, n_terms)
    fdr = np.where(np.abs(nes) > 1.5, 0.001, 0.4)
    table = pd.DataFrame({
        "term": [f"term {i}" for i in range(n_terms)],
        "nes": nes, "fdr": fdr,
        "leading_edge_size": rng.integers(5, 40, n_terms),
        "group": [f"g{i // 2}" for i in range(n_terms)],  # pairs of similar terms
        "representative": [i % 2 == 0 for i in range(n_terms)],
    })
    return table.sort_values("fdr", kind="stable").reset_index(drop=True)


def test_enrichment_dotplot_shows_the_significant_representative_terms(monkeypatch):
    gsea = _gsea_table()
    figures = drawn_figures(monkeypatch, enrichment_figures)
    enrichment_figures.dotplot(gsea, "unused.png", "t", fdr=0.05, top=4)
    ax = figures[0].axes[0]
    shown = [t.get_text().split("  (+")[0] for t in ax.get_yticklabels()]
    wanted = gsea[gsea["representative"] & (gsea["fdr"] < 0.05)]
    up = wanted[wanted["nes"] > 0].head(4)
    down = wanted[wanted["nes"] < 0].head(4)
    assert sorted(shown) == sorted(pd.concat([up, down])["term"])
    (dots,) = scatter_points(ax)
    # NES on x, down-regulated terms below the up-regulated ones
    assert (np.sign(dots[:, 0]) == np.r_[-np.ones(len(down)), np.ones(len(up))]).all()
    assert all("(+1 similar)" in t.get_text() for t in ax.get_yticklabels())


def test_enrichment_dotplot_says_when_nothing_is_significant(monkeypatch):
    gsea = _gsea_table().assign(fdr=0.5)
    figures = drawn_figures(monkeypatch, enrichment_figures)
    enrichment_figures.dotplot(gsea, "unused.png", "t", fdr=0.05)
    text = " ".join(t.get_text() for t in figures[0].axes[0].texts)
    assert "No term reaches FDR < 0.05" in text and "30 sets tested" in text


def test_library_sizes_one_bar_per_sample_coloured_by_flag(monkeypatch, tmp_path):
    table = pd.DataFrame({
        "sample": [f"s{i}" for i in range(8)],
        "library_size": np.arange(1, 9) * 1e6,
        "detected_genes": np.arange(8) * 100 + 9000,
        "flag": ["ok"] * 6 + ["note", "outlier"],
    })
    figures = drawn_figures(monkeypatch, qc_figures)
    qc_figures.library_sizes(table, "unused.png")
    top, bottom = figures[0].axes
    heights = [p.get_height() for p in top.patches]
    np.testing.assert_allclose(heights, table["library_size"] / 1e6)
    np.testing.assert_allclose([p.get_height() for p in bottom.patches], table["detected_genes"])
    colours = {tuple(p.get_facecolor()) for p in top.patches}
    assert len(colours) == 3  # ok, note, outlier
    # written for real, the PNG is a picture with the bars on it
    monkeypatch.undo()
    qc_figures.library_sizes(table, tmp_path / "sizes.png")
    assert_drawn_png(tmp_path / "sizes.png", min_ink=0.05)
