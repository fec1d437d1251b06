"""Marker tables, panel verdicts, the identity check, covariate removal and the panel GMT."""

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from msc_response.common.errors import InputError
from msc_response.design.covariates import design_parts, fit_covariates, remove_covariates
from msc_response.markers import tables as markers
from msc_response.markers.config import check_marker_config, panel_sets, resolve_panel

ROOT = Path(__file__).resolve().parents[2]
GMT = ROOT / "resources" / "gene_sets" / "msc_biology.gmt"
CONTRAST = {"variable": "response", "test": "responder", "reference": "non_responder"}
POSITIVE = ["NT5E", "THY1", "ENG"]
NEGATIVE = ["PTPRC", "CD34", "CD14", "ITGAM", "CD79A", "CD19", "HLA-DRA"]


# ---------------------------------------------------------------- panel GMT


def test_panel_sets_reads_the_shipped_sets():
    sets = panel_sets(GMT)
    assert sets["ALTANER2013_CLI_RESPONDER_UP"] == ["IL4", "IL6", "CCL4", "CDH1", "PDX1"]
    assert list(sets)[0] == "ISCT_MSC_POSITIVE_MARKERS"  # file order kept


def test_missing_panel_gmt_points_to_its_config_key(tmp_path):
    with pytest.raises(InputError, match="markers.panel_gmt"):
        panel_sets(tmp_path / "nope.gmt")


# ---------------------------------------------------------------- covariates


def _obs(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "source": pd.Categorical(rng.choice(["bm", "adipose", "wj"], n)),
            "batch": pd.Categorical(rng.choice(["b1", "b2"], n)),
            "response": pd.Categorical(np.where(np.arange(n) % 3 == 0, "non_responder", "responder")),
        },
        index=[f"S{i:02d}" for i in range(n)],
    )


def test_remove_covariates_keeps_the_variable_of_interest():
    obs = _obs()
    rng = np.random.default_rng(1)
    source_shift = obs["source"].map({"bm": 0.0, "adipose": 3.0, "wj": -2.0}).to_numpy(float)
    response = (obs["response"] == "responder").to_numpy(float)
    values = np.column_stack([5 + source_shift + 1.5 * response, 8 + source_shift]) + rng.normal(
        0, 0.1, (len(obs), 2)
    )
    adjusted = remove_covariates(values, obs, "~ batch + source + response", "response")
    # source is gone: per-source means agree within each response group
    for group in (0, 1):
        means = pd.Series(adjusted[response == group, 1]).groupby(
            obs["source"].to_numpy()[response == group]
        ).mean()
        assert means.max() - means.min() < 0.25
    # the response effect stays, and so do the genes' means
    assert adjusted[response == 1, 0].mean() - adjusted[response == 0, 0].mean() == pytest.approx(1.5, abs=0.1)
    np.testing.assert_allclose(adjusted.mean(axis=0), values.mean(axis=0), atol=1e-10)


def test_covariate_fit_applies_to_new_samples():
    obs = _obs()
    parts = design_parts(obs, "~ source + response", "response")
    assert parts.covariate_names == ["source[T.bm]", "source[T.wj]"]
    rng = np.random.default_rng(2)
    shift = obs["source"].map({"bm": 0.0, "adipose": 2.0, "wj": 4.0}).to_numpy(float)[:, None]
    values = shift + rng.normal(0, 0.05, (len(obs), 3))
    train = np.arange(len(obs)) < 30
    fit = fit_covariates(values[train], parts.kept[train], parts.covariates[train])
    held = fit.remove(values[~train], parts.covariates[~train])
    assert np.ptp(held, axis=0).max() < 0.5  # the training fit removes source in held-out samples


# ---------------------------------------------------------------- AUROC


def test_auroc_matches_scikit_learn_with_ties():
    rng = np.random.default_rng(3)
    values = rng.integers(0, 5, (30, 6)).astype(float)  # many ties
    is_test = np.arange(30) % 3 != 0
    expected = [roc_auc_score(is_test, values[:, j]) for j in range(6)]
    np.testing.assert_allclose(markers.auroc(values, is_test), expected)


# ---------------------------------------------------------------- marker table and panel


def _dataset(n_genes=60, n=30, seed=5):
    """Samples x genes with genes G00.. ; G00-G04 up in responders, G05-G09 down."""
    rng = np.random.default_rng(seed)
    obs = _obs(n, seed)
    obs["sample"] = obs.index
    response = (obs["response"] == "responder").to_numpy()
    effect = np.zeros(n_genes)
    effect[:5], effect[5:10] = [3, 2.5, 2, 1.5, 1], [-3, -2.5, -2, -1.5, -1]
    log_mean = 7 + np.outer(response, effect)
    counts = rng.poisson(2.0 ** log_mean).astype(float)
    counts[:, 59] = 0  # one all-zero gene
    adata = ad.AnnData(
        X=np.log2(counts + 1),
        obs=obs,
        var=pd.DataFrame({"symbol": [f"S{i:02d}" for i in range(n_genes)]},
                         index=[f"G{i:02d}" for i in range(n_genes)]),
    )
    adata.layers["normalised"] = counts
    adata.layers["vst"] = np.log2(counts + 1)
    adata.uns["design"] = "~ batch + source + response"
    de = pd.DataFrame(
        {
            "gene_id": adata.var_names,
            "symbol": adata.var["symbol"].to_numpy(),
            "baseMean": counts.mean(axis=0),
            "log2FoldChange": effect + 0.05,
            "log2FoldChange_shrunk": effect,
            "padj": np.where(effect != 0, 1e-6, 0.8),
            "status": "tested",
        }
    )
    de.loc[59, ["padj", "log2FoldChange", "log2FoldChange_shrunk", "status"]] = [np.nan, np.nan, np.nan, "low_counts"]
    return adata, de


SETTINGS = dict(alpha=0.05, min_abs_log2fc=0.5, min_base_mean=10, expressed_min_count=10,
                n_boot=200, seed=1)


@pytest.mark.parametrize("rank_by", ["log2fc", "auroc"])
def test_marker_table_ranks_by_effect_size(rank_by):
    adata, de = _dataset()
    de.loc[4, "log2FoldChange_shrunk"] = 0.4  # below the fold-change threshold
    de.loc[3, "baseMean"] = 5  # below the baseMean threshold
    samples = markers.contrast_samples(adata, CONTRAST)
    table = markers.marker_table(de, samples, n_top=2, rank_by=rank_by, **SETTINGS)
    assert list(table.columns) == markers.MARKER_COLUMNS
    assert table["direction"].tolist() == ["up", "up", "down", "down"]
    assert table["rank"].tolist() == [1, 2, 1, 2]
    if rank_by == "log2fc":
        assert table["gene_id"].tolist() == ["G00", "G01", "G05", "G06"]
    assert set(table["gene_id"]).isdisjoint({"G03", "G04"})
    up = table[table["direction"] == "up"]
    assert (up["auroc"] > 0.9).all() and (table.loc[table["direction"] == "down", "auroc"] < 0.1).all()
    assert (table["auroc_ci_low"] <= table["auroc"]).all()
    responders = adata.obs["response"] == "responder"
    g0 = adata.layers["normalised"][:, 0]
    assert table.loc[0, "mean_test"] == pytest.approx(g0[responders.to_numpy()].mean())
    assert table.loc[0, "frac_expressed_reference"] == pytest.approx(1.0)


def test_rank_by_auroc_orders_by_the_auroc_not_the_fold_change():
    """Up genes whose AUROCs order them differently from their fold changes: the
    largest fold change overlaps most between groups (the case that tells the two
    rankings apart; with AUROCs all 1 or 0 it could not fail)."""
    adata, de = _dataset()
    rng = np.random.default_rng(9)
    responders = (adata.obs["response"] == "responder").to_numpy()
    # G00-G02: shifts 3, 2, 1 (log2) but noise 4, 1, 0.2: AUROC order G02 > G01 > G00
    for gene, (shift, noise) in enumerate([(3.0, 4.0), (2.0, 1.0), (1.0, 0.2)]):
        adata.layers["vst"][:, gene] = 7 + shift * responders + rng.normal(0, noise, adata.n_obs)
        de.loc[gene, ["log2FoldChange", "log2FoldChange_shrunk"]] = [shift, shift]
    de.loc[[3, 4], "padj"] = 0.8  # G03, G04: not candidates
    samples = markers.contrast_samples(adata, CONTRAST)
    by_auroc = markers.marker_table(de, samples, n_top=3, rank_by="auroc", **SETTINGS)
    by_lfc = markers.marker_table(de, samples, n_top=3, rank_by="log2fc", **SETTINGS)
    up_auroc = by_auroc[by_auroc["direction"] == "up"]
    assert up_auroc["auroc"].is_monotonic_decreasing and up_auroc["auroc"].nunique() == 3
    assert up_auroc["gene_id"].tolist()[0] != "G00"  # the noisy largest fold change falls
    assert by_lfc.loc[by_lfc["direction"] == "up", "gene_id"].tolist()[0] == "G00"
    assert up_auroc["auroc"].min() < 0.95  # AUROCs that are not all 1


def test_marker_table_empty_is_header_only():
    adata, de = _dataset()
    de["padj"] = 0.9
    samples = markers.contrast_samples(adata, CONTRAST)
    table = markers.marker_table(de, samples, n_top=5, rank_by="log2fc", **SETTINGS)
    assert table.empty and list(table.columns) == markers.MARKER_COLUMNS


def test_panel_statuses():
    adata, de = _dataset()
    de.loc[20, "status"], de.loc[20, "padj"] = "cooks_outlier", np.nan
    panel = {"mine": ["S00", "S05", "S30", "S20", "S59", "NOPE"]}
    samples = markers.contrast_samples(adata, CONTRAST)
    table = markers.panel_table(de, samples, panel, alpha=0.05, expressed_min_count=10,
                                n_boot=100, seed=1)
    assert list(table.columns) == markers.PANEL_COLUMNS
    assert table["status"].tolist() == [
        "up", "down", "not significant", "not significant", "low counts", "not in data"
    ]
    assert "Cook" in table.loc[3, "note"]
    assert set(table["status"]) <= set(markers.PANEL_STATUSES)
    assert pd.isna(table.loc[5, "gene_id"]) and pd.isna(table.loc[5, "auroc"])


def test_panel_genes_not_tested_get_no_auroc(tmp_path, monkeypatch):
    """A `low counts` gene (pre-filtered or independently filtered) and an absent one
    have NA AUROC and interval, whatever their counts; tested genes keep theirs; the
    panel strip plot titles them 'AUROC NA'."""
    from msc_response.markers import figures as marker_plots

    adata, de = _dataset()
    de.loc[1, ["padj", "status"]] = [np.nan, "independent_filtering"]  # a strong gene, filtered
    panel = {"mine": ["S00", "S01", "S20", "S59", "NOPE"]}
    samples = markers.contrast_samples(adata, CONTRAST)
    table = markers.panel_table(de, samples, panel, alpha=0.05, expressed_min_count=10,
                                n_boot=50, seed=1)
    assert table["status"].tolist() == ["up", "low counts", "not significant", "low counts",
                                        "not in data"]
    untested = table.loc[[1, 3, 4], ["auroc", "auroc_ci_low", "auroc_ci_high"]]
    assert untested.isna().all().all()
    tested = table.loc[[0, 2], ["auroc", "auroc_ci_low", "auroc_ci_high"]]
    assert tested.notna().all().all() and table.loc[0, "auroc"] > 0.9
    assert table.loc[1, "mean_test"] > 0  # descriptive means stay
    assert "no AUROC" in table.loc[1, "note"] and "no AUROC" in table.loc[3, "note"]
    drawn = {}
    real = marker_plots.strip_plots

    def capture(values, groups, order, colour, titles, path, title, **kwargs):
        if "Panel" in title:
            drawn.update(titles)
        real(values, groups, order, colour, titles, path, title, **kwargs)

    monkeypatch.setattr(marker_plots, "strip_plots", capture)
    paths = {name: tmp_path / f"{name}.png" for name in
             ["strip_top", "strip_panel", "heatmap", "panel_dotplot", "volcano_panel"]}
    de["pvalue"] = de["padj"] / 10
    marker_plots.contrast_figures(
        de, pd.DataFrame(columns=markers.MARKER_COLUMNS), table, panel, samples, name="c",
        alpha=0.05, n_strip=4, heatmap_genes=6, colour_by="source", expressed_min_count=10,
        paths=paths,
    )
    assert drawn["S01"].endswith("AUROC NA (not tested)") and drawn["S59"].endswith("NA (not tested)")
    assert drawn["S00"].endswith(f"AUROC {table.loc[0, 'auroc']:.2f}")


def test_panel_from_gmt_and_config():
    panel = resolve_panel(GMT, ["ALTANER2013_CLI_RESPONDER_UP"], {"qpcr": ["IL6", "VEGFA", "IL6"]})
    assert panel == {"ALTANER2013_CLI_RESPONDER_UP": ["IL4", "IL6", "CCL4", "CDH1", "PDX1"],
                     "qpcr": ["IL6", "VEGFA"]}
    with pytest.raises(InputError, match="NOT_A_SET"):
        resolve_panel(GMT, ["NOT_A_SET"], {})


def test_check_marker_config_finds_the_bundled_gmt(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a run directory without resources/
    import yaml

    settings = yaml.safe_load((ROOT / "config/config.yaml").read_text())["markers"]
    checked = check_marker_config(settings, ROOT)
    assert checked.gmt == str(ROOT / "resources/gene_sets/msc_biology.gmt")
    assert checked.positive == POSITIVE and checked.negative == NEGATIVE
    settings["identity"] = {**settings["identity"], "negative_set": "TYPO"}
    with pytest.raises(InputError, match="negative_set"):
        check_marker_config(settings, ROOT)


# ---------------------------------------------------------------- identity


def _msc_cohort(n=40, seed=6):
    """Normalised counts of ISCT markers as in cultured MSCs: positives high,
    haematopoietic markers near zero, plus some other genes."""
    rng = np.random.default_rng(seed)
    symbols = POSITIVE + NEGATIVE + ["GAPDH", "ACTB"]
    means = [3000, 1500, 2500] + [0.3] * 7 + [20000, 30000]
    normalised = rng.negative_binomial(10, 10 / (10 + np.array(means)), (n, len(means))).astype(float)
    adata = ad.AnnData(
        X=np.log2(normalised + 1),
        var=pd.DataFrame({"symbol": symbols}, index=[f"ENSG{i:011d}" for i in range(len(symbols))]),
        obs=pd.DataFrame(index=[f"MSC{i:02d}" for i in range(n)]),
    )
    adata.layers["normalised"] = normalised
    return adata


IDENTITY = dict(positive_min_count=10, negative_min_count=50, z=3.5)


def test_identity_flags_the_haematopoietic_sample_only():
    adata = _msc_cohort()
    blood = adata.layers["normalised"]
    blood[7, 3:10] = [4000, 300, 2500, 900, 600, 200, 5000]  # a blood-like profile
    blood[7, :3] *= 0.3  # diluted MSC markers
    table = markers.identity_table(adata, POSITIVE, NEGATIVE, **IDENTITY)
    assert table["flagged"].sum() == 1 and table.loc[7, "flagged"]
    assert "PTPRC" in table.loc[7, "reason"] and "haematopoietic" in table.loc[7, "reason"]
    assert table.loc[7, "negative_score"] > table["negative_score"].drop(7).max()
    assert list(table.columns[:7]) == markers.IDENTITY_COLUMNS
    assert "HLA-DRA" in table.columns  # per-marker normalised counts


def test_identity_flags_a_sample_without_positive_markers():
    adata = _msc_cohort()
    adata.layers["normalised"][3, 1] = 2  # THY1 lost
    adata.layers["normalised"][9, :3] /= 6  # all three diluted: another cell type
    adata.layers["normalised"][12, 2] /= 4  # one marker low, the others normal: a donor
    table = markers.identity_table(adata, POSITIVE, NEGATIVE, **IDENTITY)
    assert table.index[table["flagged"]].tolist() == [3, 9]
    assert "THY1" in table.loc[3, "reason"] and "absent" in table.loc[3, "reason"]
    assert "low together" in table.loc[9, "reason"] and table.loc[9, "positive_z"] <= -3.5


def test_identity_cohort_wide_marker_does_not_flag_everyone():
    adata = _msc_cohort()
    rng = np.random.default_rng(8)
    adata.layers["normalised"][:, 4] = rng.normal(700, 80, adata.n_obs)  # CD34 in every sample
    table = markers.identity_table(adata, POSITIVE, NEGATIVE[:2] + ["NOT_THERE"], **IDENTITY)
    assert not table["flagged"].any()


# ---------------------------------------------------------------- figures


def test_figures_without_colour_and_without_markers(tmp_path):
    """Every figure is written when the sheet has no colour column and no gene
    passes (the figures then say so); the labelled volcano is byte-identical when
    drawn twice."""
    from msc_response.markers import figures as marker_plots

    adata, de = _dataset()
    de["pvalue"] = de["padj"] / 10
    samples = markers.contrast_samples(adata, CONTRAST)
    panel = {"mine": ["S00", "S05", "S20", "NOPE"]}
    rows = markers.panel_table(de, samples, panel, alpha=0.05, expressed_min_count=10,
                               n_boot=50, seed=1)
    names = ["strip_top", "strip_panel", "heatmap", "panel_dotplot", "volcano_panel"]
    paths = {name: tmp_path / f"{name}.png" for name in names}
    marker_plots.contrast_figures(
        de, pd.DataFrame(columns=markers.MARKER_COLUMNS), rows, panel, samples, name="c",
        alpha=0.05, n_strip=4, heatmap_genes=6, colour_by="not_a_column",
        expressed_min_count=10, paths=paths,
    )
    assert all(path.read_bytes()[:4] == b"\x89PNG" for path in paths.values())
    marker_plots.volcano_panel(de, rows, 0.05, tmp_path / "again.png", "Volcano with panel genes: c")
    assert (tmp_path / "again.png").read_bytes() == paths["volcano_panel"].read_bytes()
