"""GSEA, ORA and grouping of redundant terms (msc_response.enrichment.analysis), offline."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import false_discovery_control, hypergeom, norm

from msc_response.common.errors import InputError
from msc_response.enrichment import analysis as enrichment
from msc_response.enrichment.analysis import (
    EnrichmentSettings,
    enrich,
    enrich_collections,
    group_redundant,
    leading_edge,
    ora_lists,
    ranked_genes,
    run_gsea,
    run_ora,
    running_score_vertices,
)
from msc_response.enrichment.gene_sets import Collection, GeneSet, match_sets, read_gmt

ROOT = Path(__file__).resolve().parents[2]
GENE_SETS = ROOT / "resources" / "gene_sets"
UP_SET = "sprouting angiogenesis (GO:0002040)"
DOWN_SET = "cellular senescence (GO:0090398)"


@pytest.fixture(scope="module")
def go_bp():
    return read_gmt(GENE_SETS / "go_bp.gmt.gz", "go_bp")


@pytest.fixture(scope="module")
def de_table(go_bp):
    """A DE table of 12,000 human genes with N(0, 2) Wald statistics, two GO sets
    planted (most members shifted up, resp. down) and a few genes without symbols."""
    rng = np.random.default_rng(3)
    genes = pd.read_csv(GENE_SETS / "human_genes.tsv.gz", sep="\t", dtype=str)
    planted = set(go_bp.sets[UP_SET].genes) | set(go_bp.sets[DOWN_SET].genes)
    keep = genes["symbol"].isin(planted) | (rng.random(len(genes)) < 0.6)
    genes = genes.loc[keep].reset_index(drop=True)
    stat = rng.normal(0, 2, len(genes))
    for name, shift in ((UP_SET, 3.0), (DOWN_SET, -3.0)):
        members = genes["symbol"].isin(go_bp.sets[name].genes).to_numpy()
        stat[members & (rng.random(len(genes)) < 0.7)] += shift
    log2fc = stat / 4
    pvalue = 2 * norm.sf(np.abs(stat))
    return pd.DataFrame(
        {
            "gene_id": genes["gene_id"],
            "symbol": genes["symbol"].where(np.arange(len(genes)) % 500 != 0, genes["gene_id"]),
            "log2FoldChange": log2fc,
            "log2FoldChange_shrunk": log2fc * 0.8,
            "stat": stat,
            "pvalue": pvalue,
            "padj": false_discovery_control(pvalue),
        }
    )


@pytest.fixture(scope="module")
def small_collection(go_bp):
    """The two planted GO sets and 60 others (fast to test)."""
    rng = np.random.default_rng(5)
    names = sorted(go_bp.sets)
    chosen = {UP_SET, DOWN_SET} | set(rng.choice(names, 60, replace=False))
    sets = {name: go_bp.sets[name] for name in names if name in chosen}
    return Collection("go_small", go_bp.path, sets, go_bp.sha256, go_bp.bytes)


@pytest.fixture(scope="module")
def tested(de_table):
    fallback = pd.read_csv(GENE_SETS / "human_genes.tsv.gz", sep="\t", dtype=str).set_index(
        "gene_id"
    )["symbol"]
    return ranked_genes(de_table, "stat", fallback)


def test_ranked_genes_symbols_ties_and_duplicates():
    table = pd.DataFrame(
        {
            "gene_id": ["ENSG00000000003", "G2", "G3", "G4", "G5", "G6"],
            "symbol": ["ENSG00000000003", "B", "B", "C", "A", np.nan],
            "log2FoldChange": [1, 1, -2, 1, 1, 1],
            "stat": [1.0, 2.0, -2.0, 1.0, 1.0, 5.0],
            "padj": [0.1, 0.1, 0.1, 0.1, 0.1, np.nan],
        }
    )
    fallback = pd.Series({"ENSG00000000003": "TSPAN6"})
    result = ranked_genes(table, "stat", fallback)
    # G6 has no padj (not tested); the Ensembl ID got its symbol from the fallback;
    # B: |stat| ties, the smaller gene ID wins; equal stats ordered by symbol.
    assert result.table["symbol"].tolist() == ["B", "A", "C", "TSPAN6"]
    assert result.table["gene_id"].tolist() == ["G2", "G5", "G4", "ENSG00000000003"]
    assert result.notes["symbols_from_fallback"] == 1
    assert result.notes["duplicate_symbols_dropped"] == 1
    assert "G6" in result.measured  # measured (for the overlap check), not tested
    with pytest.raises(InputError, match="lfc_shrinkage"):
        ranked_genes(table, "log2FoldChange_shrunk", None)


def test_shrunk_log2fc_ranking_ranks_by_the_shrunk_column(de_table, small_collection):
    """enrichment.ranking: log2FoldChange_shrunk ranks by the shrunk LFC, not the Wald
    statistic: here the shrunk LFC of low-count genes (large |stat|, small LFC) is
    cut, so the two orders differ, and GSEA runs on the one the config names."""
    settings = EnrichmentSettings.from_config({"ranking": "log2FoldChange_shrunk"})
    assert settings.ranking == "log2FoldChange_shrunk"
    table = de_table.copy()
    low_count = np.arange(len(table)) % 3 == 0  # their LFCs shrunk hard
    table.loc[low_count, "log2FoldChange_shrunk"] *= 0.05
    shrunk = ranked_genes(table, settings.ranking, None)
    by_stat = ranked_genes(table, "stat", None)
    expected = table.set_index("gene_id").loc[shrunk.table["gene_id"], "log2FoldChange_shrunk"]
    np.testing.assert_array_equal(shrunk.ranking.to_numpy(), expected.to_numpy())
    assert shrunk.ranking.is_monotonic_decreasing
    assert list(shrunk.table["gene_id"][:200]) != list(by_stat.table["gene_id"][:200])
    sets = match_sets(small_collection, shrunk.universe, 15, 500)
    gsea_shrunk = run_gsea(shrunk.ranking, sets, seed=1).set_index("term")
    gsea_stat = run_gsea(by_stat.ranking, sets, seed=1).set_index("term")
    assert UP_SET in gsea_shrunk.index
    assert gsea_shrunk.loc[UP_SET, "nes"] != gsea_stat.loc[UP_SET, "nes"]


def test_leading_edge_from_hits_equals_full_running_score():
    rng = np.random.default_rng(0)
    n = 2000
    values = np.sort(rng.normal(size=n))[::-1]
    weights = np.abs(values)
    for _ in range(50):
        hits = np.sort(rng.choice(n, rng.integers(5, 80), replace=False))
        tag = np.zeros(n, bool)
        tag[hits] = True
        step = np.where(tag, weights / weights[tag].sum(), -1 / (n - tag.sum()))
        curve = np.cumsum(step)  # gseapy's running enrichment score, all n positions
        es = curve.max() if abs(curve.max()) > abs(curve.min()) else curve.min()
        before, after = running_score_vertices(hits, weights, n)
        assert after.max() == pytest.approx(curve.max(), abs=1e-12)
        assert min(before.min(), 0) == pytest.approx(min(curve.min(), 0), abs=1e-12)
        if es >= 0:
            expected = hits[hits <= curve.argmax()]
        else:
            expected = hits[hits >= curve.argmin()][::-1]
        np.testing.assert_array_equal(leading_edge(hits, weights, n, es), expected)


def test_gsea_reproduces_gseapy_prerank_multilevel(tested, small_collection, monkeypatch):
    """One chunk gives exactly gseapy.prerank(method='multilevel')'s ES, NES, p-value
    and leading edge (the chunked run draws its NES null per chunk)."""
    import gseapy

    sets = match_sets(small_collection, tested.universe, 15, 500)
    monkeypatch.setattr(enrichment, "CHUNK_SETS", 10_000)
    ours = run_gsea(tested.ranking, sets, seed=7).set_index("term")
    reference = gseapy.prerank(
        rnk=tested.ranking, gene_sets=sets.genes, min_size=15, max_size=500,
        permutation_num=1000, method="multilevel", threads=1, seed=7, outdir=None,
        no_plot=True,
    ).res2d.set_index("Term")
    assert len(ours) == len(reference) == len(sets.genes)
    reference = reference.loc[ours.index]
    np.testing.assert_allclose(ours["es"], reference["ES"].astype(float), rtol=1e-12)
    np.testing.assert_allclose(ours["nes"], reference["NES"].astype(float), rtol=1e-12)
    np.testing.assert_allclose(ours["pvalue"], reference["NOM p-val"].astype(float), rtol=1e-12)
    np.testing.assert_allclose(ours["fdr"], reference["FDR q-val"].astype(float), rtol=1e-9)
    assert ours["leading_edge"].tolist() == reference["Lead_genes"].tolist()


def test_gsea_finds_planted_sets_far_below_the_permutation_floor(tested, small_collection):
    sets = match_sets(small_collection, tested.universe, 15, 500)
    table = run_gsea(tested.ranking, sets, seed=1, threads=2)
    assert set(table["term"].head(2)) == {UP_SET, DOWN_SET}
    planted = table.set_index("term")
    assert planted.loc[UP_SET, "nes"] > 0 and planted.loc[DOWN_SET, "nes"] < 0
    assert (planted.loc[[UP_SET, DOWN_SET], "pvalue"] < 1e-6).all()  # 1/1000 permutations: 1e-3
    assert table["pvalue"].is_monotonic_increasing
    assert table["size"].le(table["size_gmt"]).all()


def test_gsea_does_not_depend_on_threads(tested, small_collection, monkeypatch):
    monkeypatch.setattr(enrichment, "CHUNK_SETS", 16)  # several chunks
    sets = match_sets(small_collection, tested.universe, 15, 500)
    one = run_gsea(tested.ranking, sets, seed=1, threads=1)
    two = run_gsea(tested.ranking, sets, seed=1, threads=2)
    pd.testing.assert_frame_equal(one, two)


def test_ora_matches_the_hypergeometric_test():
    universe = [f"G{i}" for i in range(100)]
    sets = {"A": universe[:20], "B": universe[10:40], "C": universe[60:80], "D": universe[80:95]}
    collection = Collection(
        "toy", Path("toy.gmt"),
        {name: GeneSet(name, f"set {name}", tuple(genes), i) for i, (name, genes) in enumerate(sets.items())},
        "0", 0,
    )
    matched = match_sets(collection, set(universe), 5, 50)
    query = ["G15", "G3", "G12", "G30", "G61"]  # order kept in the gene column
    # a query gene outside the universe is cut (and not counted in n_query)
    table = run_ora(query[:3] + ["X1"] + query[3:], universe, matched).set_index("term")
    assert list(table.index) == ["A", "B", "C"]  # D has no query gene: no row
    assert table.loc["A", "genes"] == "G15;G3;G12"
    assert table.loc["A", "overlap"] == 3 and table.loc["A", "size"] == 20
    assert (table["n_query"] == 5).all() and (table["n_background"] == 100).all()
    expected = {name: hypergeom.sf(len(set(query) & set(sets[name])) - 1, 100, len(sets[name]), 5)
                for name in sets}
    for name in table.index:
        assert table.loc[name, "pvalue"] == pytest.approx(expected[name], rel=1e-12)
    # BH over all four sets tested (D: p = 1), not only over those with a hit
    p = np.array([expected[name] for name in sets])
    order = np.argsort(p)
    bh = np.minimum.accumulate((p[order] * 4 / np.arange(1, 5))[::-1])[::-1]
    fdr = dict(zip(np.array(list(sets))[order], np.minimum(bh, 1)))
    for name in table.index:
        assert table.loc[name, "fdr"] == pytest.approx(fdr[name], rel=1e-12)
    empty = run_ora([], universe, matched)
    assert empty.empty and list(empty.columns) == enrichment.ORA_COLUMNS[:-2]


def test_group_redundant_terms():
    table = pd.DataFrame(
        {
            "term": ["parent", "child", "other", "down", "weak"],
            "direction": ["up", "up", "up", "down", "up"],
            "fdr": [0.001, 0.002, 0.003, 0.004, 0.5],
            "leading_edge": ["A;B;C;D;E;F", "B;C;D", "X;Y;Z;A", "A;B;C", "A;B;C"],
        }
    )
    grouped = group_redundant(table, "leading_edge", fdr=0.05, threshold=0.5)
    assert grouped["group"].tolist()[:4] == [1, 1, 2, 3]  # child inside parent; down apart
    assert pd.isna(grouped["group"].iloc[4])  # not significant: no group
    assert grouped["representative"].tolist() == [True, False, True, True, False]


def test_enrich_opens_no_socket(tested, small_collection, monkeypatch):
    """The whole analysis runs with sockets forbidden; the guard itself is shown to
    catch gseapy's network path (an Enrichr library name)."""
    import gseapy

    class NoNetwork(socket.socket):
        def __init__(self, *args, **kwargs):
            raise AssertionError("a socket was opened")

    def refuse(*args, **kwargs):
        raise AssertionError("a network lookup was made")

    monkeypatch.setattr(socket, "socket", NoNetwork)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    result = enrich(tested, small_collection, 15, 500, EnrichmentSettings(threads=2))
    assert (result.gsea["fdr"] < 0.05).any() and (result.ora_up["fdr"] < 0.05).any()
    with pytest.raises(Exception, match="socket was opened|network lookup"):
        gseapy.enrich(gene_list=["IL6"], gene_sets="KEGG_2021_Human", outdir=None)


def test_collections_of_one_job_give_what_each_gives_alone(tested, go_bp, small_collection):
    """One job runs every collection of a contrast, their GSEA chunks on one pool:
    each collection's tables are those of its own run (a chunk's draws depend on its
    sets and the seed only); an LRT gets ORA only, in every collection."""
    names = sorted(go_bp.sets)[:40]
    other = Collection("go_other", go_bp.path, {n: go_bp.sets[n] for n in names},
                       go_bp.sha256, go_bp.bytes)
    specs = [(small_collection, 15, 500, None), (other, 5, 500, "other.gmt")]
    settings = EnrichmentSettings(threads=2, min_overlap=0)
    for directed in (True, False):
        together = enrich_collections(tested, specs, settings, directed)
        for (collection, low, high, label), result in zip(specs, together):
            alone = enrich(tested, collection, low, high, settings, label, directed)
            for name in ("gsea", "ora_up", "ora_down", "sets"):
                pd.testing.assert_frame_equal(getattr(result, name), getattr(alone, name))
            assert result.gsea.empty == (not directed)
            assert directed or result.ora_down.empty


def test_enrich_tables_sets_and_planted_terms(de_table, tested, small_collection):
    result = enrich(tested, small_collection, 15, 500, EnrichmentSettings(threads=2))
    assert list(result.gsea.columns) == enrichment.GSEA_COLUMNS
    assert list(result.ora_up.columns) == enrichment.ORA_COLUMNS
    assert result.ora_up.iloc[0]["term"] == UP_SET
    assert result.ora_down.iloc[0]["term"] == DOWN_SET
    sets = result.sets.iloc[0]
    assert sets["sets_tested"] == len(result.gsea) and sets["sha256"] == small_collection.sha256
    # every 500th gene had its Ensembl ID as symbol; the fallback table knows them all
    assert sets["symbols_from_fallback"] == (de_table["symbol"] == de_table["gene_id"]).sum() > 0
    lists = ora_lists(tested, 0.05, 0.0)
    annotated = [gene for gene in lists["up"] if gene in small_collection.genes]
    assert 0 < len(annotated) < len(lists["up"])  # the query is cut to annotated genes
    assert set(result.ora_up["n_query"]) == {len(annotated)}
    assert set(result.ora_up["n_background"]) == {sets["gmt_genes_tested"]}


def test_enrich_stops_on_poor_overlap_or_no_usable_set(tested):
    mouse = Collection(
        "mouse", Path("mouse.gmt"),
        {f"S{i}": GeneSet(f"S{i}", "", tuple(g.capitalize() for g in genes), i)
         for i, genes in enumerate(np.array_split(sorted(tested.universe)[:3000], 30))},
        "0", 0,
    )
    with pytest.raises(InputError, match="mouse/rat-style symbols.*Ignoring upper/lower case"):
        enrich(tested, mouse, 15, 500, EnrichmentSettings())
    ensembl = Collection(
        "ensembl", Path("ensembl.gmt"),
        {"S": GeneSet("S", "", ("ENSG00000000003", "ENSG00000000005"), 1)}, "0", 0,
    )
    with pytest.raises(InputError, match="Ensembl gene IDs"):
        enrich(tested, ensembl, 1, 500, EnrichmentSettings())
    tiny = Collection("tiny", Path("tiny.gmt"), {"S": GeneSet("S", "", ("IL6", "TNF"), 1)}, "0", 0)
    with pytest.raises(InputError, match="none of its 1 sets has between min_size 15"):
        enrich(tested, tiny, 15, 500, EnrichmentSettings(min_overlap=0))


def _gmt_sets(path: Path) -> dict[str, set[str]]:
    """The GMT read with nothing but gzip and split: set name -> genes."""
    import gzip

    sets = {}
    for line in gzip.open(path, "rt").read().splitlines():
        fields = line.split("\t")
        sets[fields[0]] = set(fields[2:]) - {""}
    return sets


def test_ora_background_is_the_tested_genes_the_collection_annotates(de_table, small_collection):
    """ORA p-values of a few terms equal scipy's hypergeometric tail computed from the
    DE table and the GMT alone: universe = tested genes in any set of the collection,
    query = up (down) genes in that universe."""
    gmt = {name: genes for name, genes in _gmt_sets(GENE_SETS / "go_bp.gmt.gz").items()
           if name in small_collection.sets}
    annotated = set().union(*gmt.values())
    symbols = pd.read_csv(GENE_SETS / "human_genes.tsv.gz", sep="\t", dtype=str).set_index(
        "gene_id")["symbol"]
    table = de_table.assign(symbol=de_table["gene_id"].map(symbols).fillna(de_table["symbol"]))
    table = table.loc[table["padj"].notna()]
    universe = set(table["symbol"]) & annotated
    assert 0 < len(universe) < 0.5 * table["symbol"].nunique()  # the collection leaves most out
    result = enrich(ranked_genes(de_table, "stat", symbols), small_collection, 15, 500,
                    EnrichmentSettings(threads=2))
    for direction, sign in (("up", 1), ("down", -1)):
        called = table.loc[(table["padj"] < 0.05) & (np.sign(table["log2FoldChange"]) == sign)]
        query = set(called["symbol"]) & universe
        ora = getattr(result, f"ora_{direction}").set_index("term")
        assert len(ora) >= 3
        assert (ora["n_background"] == len(universe)).all() and (ora["n_query"] == len(query)).all()
        for term in ora.index[:3].tolist() + ora.index[-2:].tolist():
            members = gmt[term] & universe
            hits = query & members
            expected = hypergeom.sf(len(hits) - 1, len(universe), len(members), len(query))
            assert ora.loc[term, "overlap"] == len(hits) and ora.loc[term, "size"] == len(members)
            assert ora.loc[term, "pvalue"] == pytest.approx(expected, rel=1e-9), (direction, term)
