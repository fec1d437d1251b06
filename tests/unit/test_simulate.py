"""Tests for the example-cohort generator (msc_response.simulate) and the shipped cohort."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from msc_response import simulate as sim

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
    assert list(c.samples.columns) == ["sample", "response", "source", "sex", "age", "batch"]
    assert list(c.counts.columns) == c.samples["sample"].tolist()
    assert set(c.samples["response"]) == {"responder", "non_responder"}
    assert set(c.samples["source"]) <= set(sim.SOURCES)
    assert c.samples["age"].between(50, 85).all()
    assert list(c.annotation.columns) == ["gene_id", "symbol"]
    assert c.annotation["gene_id"].tolist() == c.counts.index.tolist()
    assert c.truth["gene"].tolist() == c.counts.index.tolist()
    assert {"gene", "symbol", "true_log2fc", "category"} <= set(c.truth.columns)
    assert set(c.truth["category"]) <= set(sim.CATEGORIES)


def test_responder_fraction_default_41():
    s = sim.make_samples(np.random.default_rng(0))
    assert len(s) == 41
    assert (s["response"] == "responder").sum() == 30
    # source partly, not fully, associated with response
    tab = pd.crosstab(s["source"], s["response"])
    assert (tab > 0).all().all()


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
    for s in sim.SEED_MARKERS:
        row = t.loc[s]
        assert row["category"] == "seed_marker"
        assert 1.5 <= row["true_log2fc"] <= 2.5
        x = norm.loc[row["gene"]].to_numpy()
        assert np.log2(x[resp].mean() + 1) > np.log2(x[~resp].mean() + 1), s


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
    gmt = sim.read_gmt(sim.GENE_SETS_DIR / "go_bp.gmt.gz")
    t = small.truth.set_index("symbol")
    for _, row in pw.iterrows():
        members = [g for g in gmt[row["term"]] if g in t.index]
        mine = t[t["pathway_term"] == row["term"]]
        assert set(mine.index) <= set(members)
        assert len(mine) == row["n_shifted"] >= 0.6 * len(members)
        assert (t.loc[members, "category"] == "pathway").mean() >= 0.7
        sign = 1 if row["direction"] == "up" else -1
        assert (np.sign(mine["true_log2fc"]) == sign).all()
        assert mine["true_log2fc"].abs().between(0.5, 0.8).all()


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
    assert list(samples.columns) == ["sample", "response", "source", "sex", "age", "batch"]
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
    seeds = truth[truth["symbol"].isin(sim.SEED_MARKERS)]
    assert (seeds["true_log2fc"] > 1).all() and len(seeds) == 5


def test_shipped_planted_pathways_exist_in_gmt():
    pw = pd.read_csv(EXAMPLE / "planted_pathways.tsv", sep="\t")
    assert list(pw.columns[:3]) == ["collection", "term", "direction"]
    assert (pw["collection"] == "go_bp").all()
    assert {"up", "down"} <= set(pw["direction"])
    gmt = sim.read_gmt(sim.GENE_SETS_DIR / "go_bp.gmt.gz")
    for term in pw["term"]:
        assert term in gmt
        assert 30 <= len(gmt[term]) <= 150
