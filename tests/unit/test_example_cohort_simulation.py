"""Tests for the example-cohort generator (msc_response.example.cohort) and the shipped cohort."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from msc_response.example import biology
from msc_response.example import cohort as sim

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "resources" / "example"


@pytest.fixture(scope="module")
def small():
    return sim.simulate_cohort(n_genes=2000, n_samples=24, seed=11)


def test_shapes_and_columns(small):
    c = small
    assert c.counts.shape == (2000, 24)
    assert c.counts.index.name == "gene_id"
    assert c.counts.index.is_unique
    assert c.counts.index.str.startswith("ENSG").all()
    assert (c.counts.to_numpy() >= 0).all()
    assert np.issubdtype(c.counts.to_numpy().dtype, np.integer)
    assert list(c.samples.columns) == ["sample", "response", "source", "sex", "age", "batch",
                                       "abi_change"]
    assert list(c.counts.columns) == c.samples["sample"].tolist()
    assert set(c.samples["response"]) == {"responder", "non_responder"}
    assert set(c.samples["source"]) <= set(biology.SOURCES)
    assert c.samples["age"].between(50, 85).all()
    assert list(c.annotation.columns) == ["gene_id", "symbol"]
    assert c.annotation["gene_id"].tolist() == c.counts.index.tolist()
    assert c.truth["gene"].tolist() == c.counts.index.tolist()
    assert {"gene", "symbol", "true_log2fc", "category"} <= set(c.truth.columns)
    assert set(c.truth["category"]) <= set(biology.CATEGORIES)


def test_continuous_endpoint_leaves_the_counts_and_follows_its_genes(small):
    """abi_change reuses donor factor 1 (cohort._outcome): the counts are those of a
    cohort without it, it is balanced over source x response, and the genes with a
    planted per-unit effect follow it by that much."""
    plain = sim.simulate_cohort(n_genes=2000, n_samples=24, seed=11, outcome_factor=None)
    pd.testing.assert_frame_equal(small.counts, plain.counts)
    pd.testing.assert_frame_equal(small.samples.drop(columns="abi_change"),
                                  plain.samples.drop(columns="abi_change"))
    assert (plain.truth["abi_change_log2fc_per_unit"] == 0).all()
    x = small.samples["abi_change"].to_numpy()
    cells = small.samples.groupby(["source", "response"])["abi_change"]
    assert (cells.size() > 1).all() and np.allclose(cells.mean(), x.mean(), atol=0.006)
    effect = small.truth["abi_change_log2fc_per_unit"].to_numpy()
    assert 0.1 < (effect != 0).mean() < 0.3
    # per-gene least-squares slope of log2 normalised expression on abi_change
    expressed = (small.counts.mean(axis=1) > 100).to_numpy()
    y = np.log2(small.counts.to_numpy()[expressed] / small.size_factors.to_numpy() + 1)
    xc = x - x.mean()
    slope = (y - y.mean(axis=1, keepdims=True)) @ xc / (xc @ xc)
    truth = effect[expressed]
    assert np.corrcoef(slope, truth)[0, 1] > 0.6
    strong = np.abs(truth) >= 3
    assert np.median(slope[strong] / truth[strong]) == pytest.approx(1, abs=0.25)


def test_responder_fraction_default_41():
    s = sim.make_samples(np.random.default_rng(0))
    assert len(s) == 41
    assert (s["response"] == "responder").sum() == 30
    # source imbalanced (responders mostly Wharton's jelly), not confounded
    tab = pd.crosstab(s["source"], s["response"])
    assert (tab > 0).all().all()
    assert tab.to_dict() == {
        "non_responder": {"adipose": 3, "bone_marrow": 7, "wharton_jelly": 1},
        "responder": {"adipose": 7, "bone_marrow": 7, "wharton_jelly": 16},
    }


def test_clear_signal_preset_balances_source_and_drops_donor_noise():
    c = sim.simulate_cohort(n_genes=1500, n_samples=24, seed=5, **biology.CLEAR_SIGNAL)
    tab = pd.crosstab(c.samples["source"], c.samples["response"])
    assert (tab["responder"] == 6).all() and (tab["non_responder"] == 2).all()
    assert (c.sample_truth["quality"] == "ok").all()
    assert c.truth.set_index("symbol").loc["IL4", "true_log2fc"] == 2.5


def test_deterministic(small):
    again = sim.simulate_cohort(n_genes=2000, n_samples=24, seed=11)
    pd.testing.assert_frame_equal(small.counts, again.counts)
    pd.testing.assert_frame_equal(small.samples, again.samples)
    pd.testing.assert_frame_equal(small.truth, again.truth)
    other = sim.simulate_cohort(n_genes=2000, n_samples=24, seed=12)
    assert not small.counts.equals(other.counts)


def test_written_bytes_reproducible(small, tmp_path):
    a = sim.write_cohort(small, tmp_path / "a")
    b = sim.write_cohort(sim.simulate_cohort(n_genes=2000, n_samples=24, seed=11), tmp_path / "b")
    for key in a:
        assert a[key].read_bytes() == b[key].read_bytes(), key
    back = pd.read_csv(a["counts"], sep="\t", index_col=0)
    assert back.index.name == "gene_id"
    pd.testing.assert_frame_equal(back, small.counts, check_dtype=False)


def test_seed_markers_up_in_responders(small):
    c = small
    t = c.truth.set_index("symbol")
    norm = c.counts / c.size_factors
    resp = (c.samples["response"] == "responder").to_numpy()
    for s in biology.SEED_MARKERS:
        row = t.loc[s]
        assert row["category"] == "seed_marker"
        assert row["true_log2fc"] == biology.SEED_EFFECTS[s]
        x = norm.loc[row["gene"]].to_numpy()
        assert np.log2(x[resp].mean() + 1) > np.log2(x[~resp].mean() + 1), s


def test_low_quality_samples(small):
    q = small.sample_truth
    assert list(q.columns) == ["sample", "size_factor", "quality", "note"]
    assert q["sample"].tolist() == small.samples["sample"].tolist()
    assert sorted(q.loc[q["quality"] != "ok", "quality"]) == ["degraded", "low_depth"]
    shallow = q.loc[q["quality"] == "low_depth", "sample"].item()
    assert small.counts.sum().idxmin() == shallow
    none = sim.simulate_cohort(n_genes=1500, n_samples=24, seed=3, low_depth=0, degraded_sd=0)
    assert (none.sample_truth["quality"] == "ok").all()


def test_truth_categories(small):
    t = small.truth
    cats = t["category"].value_counts()
    assert cats["seed_marker"] == 5
    assert cats["outlier"] == 5
    assert cats["de"] > 0 and cats["source"] > 0 and cats["pathway"] > 0
    assert (t.loc[t["category"].isin(["null", "source", "outlier"]), "true_log2fc"] == 0).all()
    assert (t.loc[t["category"].isin(["de", "pathway", "seed_marker"]), "true_log2fc"] != 0).all()
    src = t[t["category"] == "source"]
    assert (src[["source_log2fc_adipose", "source_log2fc_wharton_jelly"]].abs().sum(axis=1) > 0).all()
    out = t[t["category"] == "outlier"]
    assert out["outlier_sample"].isin(small.samples["sample"]).all()
    assert out["outlier_factor"].between(20, 50).all()


def test_planted_pathways_directions(small):
    pw = small.planted_pathways
    assert list(pw.columns[:3]) == ["collection", "term", "direction"]
    assert set(pw["direction"]) == {"up", "down"}
    gmt = biology.read_gmt(biology.GENE_SETS_DIR / "go_bp.gmt.gz")
    t = small.truth.set_index("symbol")
    for _, row in pw.iterrows():
        members = [g for g in gmt[row["term"]] if g in t.index]
        mine = t[t["pathway_term"] == row["term"]]
        assert set(mine.index) <= set(members)
        assert len(mine) == row["n_shifted"] >= 0.6 * len(members)
        assert (t.loc[members, "category"] == "pathway").mean() >= 0.7
        sign = 1 if row["direction"] == "up" else -1
        assert (np.sign(mine["true_log2fc"]) == sign).all()
        assert mine["true_log2fc"].abs().between(0.4, 0.9).all()


def test_custom_pathway_hook():
    c = sim.simulate_cohort(
        n_genes=1500, n_samples=20, seed=3, pathways=[("go_bp", "angiogenesis (GO:0001525)", "down")]
    )
    assert c.planted_pathways["term"].tolist() == ["angiogenesis (GO:0001525)"]
    with pytest.raises(KeyError):
        sim.simulate_cohort(n_genes=1500, n_samples=20, pathways=[("go_bp", "no such term", "up")])


# ----------------------------------------------------------------- shipped files
def test_shipped_cohort_files():
    samples = pd.read_csv(EXAMPLE / "samples.tsv", sep="\t")
    assert list(samples.columns) == ["sample", "response", "source", "sex", "age", "batch",
                                     "abi_change"]
    assert len(samples) == 41
    assert (samples["response"] == "responder").sum() == 30
    counts = pd.read_csv(EXAMPLE / "counts.tsv.gz", sep="\t", index_col=0, nrows=5)
    assert counts.index.name == "gene_id"
    assert list(counts.columns) == samples["sample"].tolist()
    ann = pd.read_csv(EXAMPLE / "annotation.tsv", sep="\t")
    assert list(ann.columns) == ["gene_id", "symbol"]
    assert 15000 <= len(ann) <= 20000
    truth = pd.read_csv(EXAMPLE / "truth.tsv", sep="\t")
    assert truth["gene"].tolist() == ann["gene_id"].tolist()
    seeds = truth[truth["symbol"].isin(biology.SEED_MARKERS)]
    assert (seeds["true_log2fc"] > 1).all() and len(seeds) == 5


def test_shipped_planted_pathways_exist_in_gmt():
    pw = pd.read_csv(EXAMPLE / "planted_pathways.tsv", sep="\t")
    assert list(pw.columns[:3]) == ["collection", "term", "direction"]
    assert (pw["collection"] == "go_bp").all()
    assert {"up", "down"} <= set(pw["direction"])
    gmt = biology.read_gmt(biology.GENE_SETS_DIR / "go_bp.gmt.gz")
    for term in pw["term"]:
        assert term in gmt
        assert 30 <= len(gmt[term]) <= 150


def _shipped():
    counts = pd.read_csv(EXAMPLE / "counts.tsv.gz", sep="\t", index_col=0)
    samples = pd.read_csv(EXAMPLE / "samples.tsv", sep="\t")
    truth = pd.read_csv(EXAMPLE / "truth.tsv", sep="\t", keep_default_na=False).set_index("gene")
    quality = pd.read_csv(EXAMPLE / "sample_truth.tsv", sep="\t", keep_default_na=False)
    return counts, samples, truth, quality


@pytest.fixture(scope="module")
def shipped():
    return _shipped()


def test_shipped_files_are_the_generator_output(tmp_path):
    """make_cohort.py with its defaults rewrites resources/example/ byte for byte."""
    import subprocess
    import sys

    subprocess.run(
        [sys.executable, str(EXAMPLE / "make_cohort.py"), "--outdir", str(tmp_path)],
        check=True, capture_output=True,
    )
    for path in sorted(tmp_path.iterdir()):
        assert path.read_bytes() == (EXAMPLE / path.name).read_bytes(), path.name
    # and they stay small
    assert sum((EXAMPLE / p.name).stat().st_size for p in tmp_path.iterdir()) < 3_000_000


def test_shipped_curated_msc_genes_at_plausible_levels(shipped):
    counts, samples, truth, quality = shipped
    normalised = counts / quality.set_index("sample")["size_factor"]
    symbols = truth["symbol"]
    by_symbol = normalised.set_axis(symbols.reindex(normalised.index).to_numpy())
    assert set(biology.msc_biology_genes()) <= set(symbols)
    # ISCT positives high in every sample, haematopoietic negatives near zero
    assert (by_symbol.loc[["NT5E", "THY1", "ENG"]] >= 300).all().all()
    negatives = ["PTPRC", "CD34", "CD14", "ITGAM", "CD79A", "CD19", "HLA-DRA"]
    assert (by_symbol.loc[negatives].mean(axis=1) < 5).all()
    # seed markers: IL6 abundant, IL4 and PDX1 barely expressed, all planted up
    base = truth.set_index("symbol")["base_mean"].astype(float)
    assert base["IL6"] >= 1000 and base["IL4"] <= 20 and base["PDX1"] <= 20
    effect = truth.set_index("symbol")["true_log2fc"].astype(float)
    assert (effect[list(biology.SEED_MARKERS)] >= 1).all()


def test_shipped_structure_like_real_msc_data(shipped):
    counts, samples, truth, quality = shipped
    effect = truth["true_log2fc"].astype(float)
    # a modest response signal: 100-250 genes, most |log2FC| 0.3-1.5
    planted = effect[effect != 0].abs()
    assert 100 <= len(planted) <= 250
    assert planted.between(0.3, 1.5).mean() >= 0.75
    # many source genes, large effects between Wharton's jelly and the adult sources
    wharton = truth["source_log2fc_wharton_jelly"].astype(float).abs()
    assert (truth["category"] == "source").sum() >= 1500 and (wharton >= 1).sum() >= 500
    assert (wharton >= 3).sum() >= 50
    # source imbalanced between the response groups, never confounded
    tab = pd.crosstab(samples["source"], samples["response"])
    assert (tab > 0).all().all()
    from scipy.stats.contingency import association

    assert 0.3 <= association(tab.to_numpy(), method="cramer") <= 0.6
    # a spread of library sizes, one shallow and one degraded sample
    library = counts.sum()
    assert library.median() >= 10e6
    assert sorted(quality.loc[quality["quality"] != "ok", "quality"]) == ["degraded", "low_depth"]
    assert library.idxmin() == quality.loc[quality["quality"] == "low_depth", "sample"].item()
    ok = quality.loc[quality["quality"] == "ok", "sample"]
    assert library[ok].max() / library[ok].min() >= 2.5


def test_shipped_pc1_separates_sources_not_response(shipped):
    """PCA on log counts of the 500 most variable genes (as the QC stage, without VST)."""
    counts, samples, truth, quality = shipped
    logs = np.log2(counts / quality.set_index("sample")["size_factor"] + 1).T.to_numpy()
    top = np.argsort(-logs.var(axis=0))[:500]
    centred = logs[:, top] - logs[:, top].mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    pc1 = u[:, 0] * s[0]

    def explained(variable):  # eta squared: share of PC1's variance between the levels
        groups = pd.Series(pc1).groupby(samples[variable].to_numpy())
        means = groups.transform("mean").to_numpy()
        return ((means - pc1.mean()) ** 2).sum() / ((pc1 - pc1.mean()) ** 2).sum()

    assert explained("source") >= 0.9
    assert explained("response") <= 0.3
    assert 0.25 <= s[0] ** 2 / (s**2).sum() <= 0.7


def test_recovery_scores_each_kind_against_its_truth(small):
    """example.recovery: which planted effect each contrast kind is scored against, and
    recall / false discovery proportion of a table's calls."""
    from msc_response.example.recovery import planted, recovery

    truth = small.truth.set_index("gene")
    design = "~ batch + sex + age + abi_change + source * response"
    reduced = "~ batch + sex + age + abi_change + response"
    lrt = planted(small.truth, {"test": "LRT", "reduced": reduced}, design)
    source = (truth["source_log2fc_adipose"] != 0) | (truth["source_log2fc_wharton_jelly"] != 0)
    assert lrt.equals(source.rename("planted"))
    within = {"variable": "response", "test": "responder", "reference": "non_responder",
              "within": {"source": "bone_marrow"}}
    response = (truth["true_log2fc"] != 0).rename("planted")
    assert planted(small.truth, within, design).equals(response)
    abi = planted(small.truth, {"variable": "abi_change"}, design)
    assert abi.equals((truth["abi_change_log2fc_per_unit"] != 0).rename("planted"))
    assert not planted(small.truth, {"variable": "age"}, design).any()
    with pytest.raises(KeyError, match="donor"):
        planted(small.truth, {"variable": "donor"}, design)
    genes = list(abi.index[abi][:8]) + list(abi.index[~abi][:2])
    table = pd.DataFrame({"gene_id": genes + ["x"], "padj": [0.01] * 10 + [0.5]})
    found = recovery(table, abi)
    assert found == {"called": 10, "planted": int(abi.sum()), "true_positives": 8,
                     "recall": 8 / abi.sum(), "fdp": 0.2}
