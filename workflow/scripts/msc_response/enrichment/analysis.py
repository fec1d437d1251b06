"""Pathway enrichment of one contrast against one gene-set collection.

- GSEA: gseapy's port of fgsea's multilevel method (`gseapy.gse.fgsea_rs`, what
  `gseapy.prerank(method="multilevel")` calls), so p-values resolve far below
  1/permutations. The collection is cut into fixed chunks that run on threads (the
  Rust core releases the GIL); the multilevel p-value of a set does not depend on the
  other sets, and Benjamini-Hochberg runs over all sets afterwards. Unlike
  `gseapy.prerank`, no per-set running-score array is turned into Python objects
  (11.6 of its 16.5 s and most of its memory on GO BP); leading edges come from the
  hit positions (`running_score_vertices`). The compiled core is loaded without
  gseapy's package imports (`gsea_core`), and one job runs every collection of a
  contrast (`enrich_collections`): their chunks share one pool of threads.
- ORA: `gseapy.enrich` (hypergeometric test) on the up- and on the down-regulated
  genes, against the tested genes that the collection annotates (in any of its sets)
  as the background, the query cut to the same genes (as clusterProfiler, goseq and
  topGO do): a tested gene that no set of the collection contains could never be a
  hit, and counting it in the universe and the query makes every p-value too small.
- Redundancy: significant terms whose leading edges (GSEA) or overlap genes (ORA) are
  largely shared form a group with one representative (`group_redundant`).

Everything is offline: gene sets go to gseapy as dicts and the background as a list,
never as names (names make gseapy call Enrichr or BioMart over the network).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from msc_response.common.errors import InputError
from msc_response.enrichment.gene_sets import (
    Collection,
    MatchedSets,
    check_overlap,
    collapse_duplicate_symbols,
    map_symbols,
    match_sets,
)

log = logging.getLogger(__name__)

RANKINGS = ("stat", "log2FoldChange_shrunk")
ANALYSES = ("gsea", "ora_up", "ora_down")
GSEA_COLUMNS = [
    "term", "description", "size_gmt", "size", "es", "nes", "pvalue", "fdr", "log2err",
    "direction", "leading_edge_size", "leading_edge", "group", "representative",
]
ORA_COLUMNS = [
    "term", "description", "size_gmt", "size", "overlap", "n_query", "n_background",
    "odds_ratio", "pvalue", "fdr", "genes", "group", "representative",
]
SUMMARY_COLUMNS = [
    "contrast", "collection", "analysis", "sets_tested", "significant", "groups",
    "top_term", "top_fdr",
]
# fgsea's defaults: nPermSimple random gene sets for the NES and the simple p-value,
# sampleSize for the multilevel MCMC, eps the smallest p-value reported.
PERMUTATIONS = 1000
SAMPLE_SIZE = 101
EPS = 1e-50
GSEA_WEIGHT = 1.0
# Sets per call of the Rust core. Fixed (not derived from the thread count) so that
# results do not depend on the number of threads: each call draws its own random
# gene sets for the NES and simple p-values, sized by its largest set. Sets are
# chunked in order of size, which keeps those draws small for most chunks (GO BP:
# 4% more CPU than one call).
CHUNK_SETS = 256
_CORE_LOCK = threading.Lock()


@dataclass
class EnrichmentSettings:
    ranking: str = "stat"
    seed: int = 1
    fdr: float = 0.05
    min_overlap: float = 0.2
    group_overlap: float = 0.5
    ora_padj: float = 0.05
    ora_min_abs_log2fc: float = 0.0
    threads: int = 1

    @classmethod
    def from_config(cls, section: dict, threads: int = 1) -> "EnrichmentSettings":
        ora = section.get("ora", {})
        return cls(
            ranking=section.get("ranking", cls.ranking),
            seed=section.get("seed", cls.seed),
            fdr=section.get("fdr", cls.fdr),
            min_overlap=section.get("min_overlap", cls.min_overlap),
            group_overlap=section.get("group_overlap", cls.group_overlap),
            ora_padj=ora.get("padj", cls.ora_padj),
            ora_min_abs_log2fc=ora.get("min_abs_log2fc", cls.ora_min_abs_log2fc),
            threads=threads,
        )


# ------------------------------------------------------------------ tested genes


@dataclass
class RankedGenes:
    """The genes of one contrast that enrichment works on, one row per symbol.

    table: symbol, gene_id, value (the ranking statistic), log2FoldChange, padj;
        sorted by value, largest first, ties by symbol (so the ranking, and hence
        every GSEA result, is the same on every run).
    measured: every symbol of the DE table (tested or not), for the overlap check.
    notes: counts for the log and sets.tsv.
    """

    table: pd.DataFrame
    measured: set[str]
    notes: dict

    @property
    def ranking(self) -> pd.Series:
        return pd.Series(self.table["value"].to_numpy(), index=self.table["symbol"].to_numpy())

    @property
    def universe(self) -> set[str]:
        return set(self.table["symbol"])


def read_de_table(path) -> pd.DataFrame:
    """A results/de/{contrast}.tsv table (gene IDs and symbols as text)."""
    return pd.read_csv(path, sep="\t", dtype={"gene_id": str, "symbol": str})


def ranked_genes(de_table: pd.DataFrame, ranking: str, fallback: pd.Series | None) -> RankedGenes:
    """Genes DESeq2 tested (an adjusted p-value; pre-filtered, Cook's-outlier and
    independently filtered genes have none), with symbols and one row per symbol."""
    if ranking not in de_table.columns:
        raise InputError(
            f"The DE table has no column '{ranking}' to rank genes by (enrichment.ranking). "
            f"'log2FoldChange_shrunk' needs diffexp.lfc_shrinkage: true."
        )
    symbols, sources = map_symbols(de_table["gene_id"], de_table["symbol"], fallback)
    frame = de_table.assign(symbol=symbols)
    tested = frame.loc[frame["padj"].notna() & np.isfinite(frame[ranking])]
    tested = tested[["symbol", "gene_id", ranking, "log2FoldChange", "padj"]].rename(
        columns={ranking: "value"}
    )
    tested, dropped = collapse_duplicate_symbols(tested, "value")
    tested = tested.sort_values(
        ["value", "symbol"], ascending=[False, True], kind="mergesort"
    ).reset_index(drop=True)
    notes = {
        "de_genes": len(de_table),
        "tested_genes": len(tested),
        "symbols_from_annotation": sources["annotation"],
        "symbols_from_fallback": sources["fallback"],
        "symbols_missing": sources["unmapped"],
        "duplicate_symbols_dropped": dropped,
    }
    return RankedGenes(tested, set(frame["symbol"]), notes)


# ------------------------------------------------------------------ GSEA


def running_score_vertices(hits: np.ndarray, weights: np.ndarray, n: int):
    """The GSEA running score just before and just after each hit.

    hits: positions (ascending) of a set's genes in the ranking of n genes; weights:
    |statistic| of the ranked genes. The score rises by weight/sum(hit weights) at a
    hit and falls by 1/(n - hits) at every other gene, so its maximum lies just after
    a hit and its minimum just before one: these 2k values describe the whole curve.
    """
    hits = np.asarray(hits, dtype=np.int64)
    w = np.asarray(weights, dtype=float)[hits]
    total = w.sum()
    rises = np.cumsum(w) / total if total > 0 else np.arange(1, len(hits) + 1) / len(hits)
    misses = (hits - np.arange(len(hits))) / (n - len(hits))  # genes passed before hit j
    after = rises - misses
    before = after - (w / total if total > 0 else 1 / len(hits))
    return before, after


def leading_edge(hits: np.ndarray, weights: np.ndarray, n: int, es: float) -> np.ndarray:
    """Positions of the leading-edge genes (as gseapy and GSEA define them): the hits
    up to the running score's maximum when ES >= 0, from its minimum on when ES < 0,
    most extreme gene first."""
    if len(hits) == 0:
        return np.asarray(hits)
    before, after = running_score_vertices(hits, weights, n)
    if es >= 0:
        return np.asarray(hits)[: int(np.argmax(after)) + 1]
    return np.asarray(hits)[int(np.argmin(before)) :][::-1]


def _chunks(sets: dict[str, list[str]]) -> list[dict[str, list[str]]]:
    order = sorted(sets, key=lambda term: (len(sets[term]), term))
    return [
        {term: sets[term] for term in order[start : start + CHUNK_SETS]}
        for start in range(0, len(order), CHUNK_SETS)
    ]


def gsea_core():
    """gseapy's compiled GSEA module (`gseapy.gse`, where `fgsea_rs` lives), loaded
    without running `gseapy/__init__.py`: that imports gseapy's plotting
    (matplotlib), its web clients (requests) and every analysis class, about 0.4 s of
    CPU before the first set, none of which GSEA uses. Once gseapy itself is imported
    (for ORA) it finds and reuses this same module."""
    import importlib.machinery
    import importlib.util
    import sys
    from pathlib import Path

    with _CORE_LOCK:  # an extension module is initialised once per process
        if "gseapy.gse" in sys.modules:
            return sys.modules["gseapy.gse"]
        package = importlib.util.find_spec("gseapy")  # finds, does not run, the package
        for folder in (package.submodule_search_locations or []) if package else []:
            for suffix in importlib.machinery.EXTENSION_SUFFIXES:
                path = Path(folder) / f"gse{suffix}"
                if path.is_file():
                    spec = importlib.util.spec_from_file_location("gseapy.gse", path)
                    module = importlib.util.module_from_spec(spec)
                    spec.loader.exec_module(module)
                    return sys.modules.setdefault("gseapy.gse", module)
        import gseapy.gse  # another layout: the ordinary import

        return gseapy.gse


def _gsea_chunk(fgsea_rs, genes, values, weights, chunk, min_size, max_size, seed) -> list[tuple]:
    result = fgsea_rs(
        genes, values, chunk, GSEA_WEIGHT, min_size, max_size, SAMPLE_SIZE,
        PERMUTATIONS, EPS, 1, seed,
    )
    rows = []
    for summary in result.summaries:  # fields read one by one: never `run_es`
        hits = np.asarray(summary.hits, dtype=np.int64)
        edge = leading_edge(hits, weights, len(genes), summary.es)
        rows.append(
            (summary.term, summary.es, summary.nes, summary.pval, summary.log2err, edge)
        )
    return rows


def bh(pvalues) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values; NaN stays NaN."""
    from scipy.stats import false_discovery_control

    pvalues = np.asarray(pvalues, dtype=float)
    adjusted = np.full_like(pvalues, np.nan)
    finite = ~np.isnan(pvalues)
    if finite.any():
        adjusted[finite] = false_discovery_control(pvalues[finite], method="bh")
    return adjusted


def run_gsea(
    ranking: pd.Series, sets: MatchedSets, seed: int, threads: int = 1
) -> pd.DataFrame:
    """Preranked GSEA (fgsea multilevel, via gseapy) of `ranking` (index symbol,
    sorted largest first) against the matched sets. Returns one row per set,
    GSEA_COLUMNS without group/representative, sorted by p-value then term."""
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        return _submit_gsea(pool, ranking, sets, seed)()


def _submit_gsea(pool, ranking: pd.Series, sets: MatchedSets, seed: int):
    """Start `run_gsea`'s chunks on `pool`; returns the function that waits for them
    and builds the table (so several collections can share one pool)."""
    if not sets.genes:
        return lambda: pd.DataFrame(columns=GSEA_COLUMNS[:-2])
    genes = [str(g) for g in ranking.index]
    values = ranking.to_numpy(dtype=float)
    weights = np.abs(values) ** GSEA_WEIGHT
    sizes = [len(v) for v in sets.genes.values()]
    one_chunk = partial(
        # the core loaded here, once, not by the pool's threads at the same time
        _gsea_chunk, gsea_core().fgsea_rs, genes, values.tolist(), weights,
        min_size=min(sizes), max_size=max(sizes), seed=seed,
    )
    # Chunks of the largest sets take longest: start them first.
    futures = [pool.submit(one_chunk, chunk) for chunk in _chunks(sets.genes)[::-1]]

    def table() -> pd.DataFrame:
        rows = [row for future in futures for row in future.result()]
        return _gsea_table(rows, genes, sets)

    return table


def _gsea_table(rows: list[tuple], genes: list[str], sets: MatchedSets) -> pd.DataFrame:
    result = pd.DataFrame(rows, columns=["term", "es", "nes", "pvalue", "log2err", "edge"])
    result["fdr"] = bh(result["pvalue"])
    result["direction"] = np.where(result["es"] >= 0, "up", "down")
    result["leading_edge_size"] = result["edge"].map(len)
    names = np.asarray(genes, dtype=object)
    result["leading_edge"] = result["edge"].map(lambda edge: ";".join(names[edge]))
    result = sets.table.merge(result.drop(columns="edge"), on="term", how="inner")
    return _sort(result)[GSEA_COLUMNS[:-2]]


def _sort(table: pd.DataFrame) -> pd.DataFrame:
    return table.sort_values(["pvalue", "term"], na_position="last", kind="mergesort").reset_index(
        drop=True
    )


# ------------------------------------------------------------------ ORA


def ora_lists(
    tested: RankedGenes, padj: float, min_abs_log2fc: float, directed: bool = True
) -> dict[str, list[str]]:
    """Up- and down-regulated genes: padj < `padj` and |log2FoldChange| >=
    `min_abs_log2fc` (and != 0), most significant first. Not `directed` (an LRT):
    every gene with padj < `padj` as 'up' and none as 'down'."""
    table = tested.table.sort_values(["padj", "symbol"], kind="mergesort")
    if not directed:
        return {"up": table.loc[table["padj"] < padj, "symbol"].tolist(), "down": []}
    called = (table["padj"] < padj) & (table["log2FoldChange"].abs() >= min_abs_log2fc)
    return {
        "up": table.loc[called & (table["log2FoldChange"] > 0), "symbol"].tolist(),
        "down": table.loc[called & (table["log2FoldChange"] < 0), "symbol"].tolist(),
    }


def run_ora(query: list[str], universe: list[str], sets: MatchedSets) -> pd.DataFrame:
    """Over-representation (gseapy.enrich, hypergeometric test) of `query` among the
    matched sets, against `universe` as background (`enrich` passes the tested genes
    annotated in the collection, `annotated_universe`). The query is cut to the
    universe first; `n_query` and `n_background` count the genes after the cut.

    Rows: the sets with at least one query gene, sorted by p-value then term. The FDR
    is Benjamini-Hochberg over every set tested (a set without query genes has p = 1),
    not only over the sets with a hit as in Enrichr. Overlap genes are listed in the
    order of `query`.
    """
    in_universe = set(universe)
    query = [gene for gene in query if gene in in_universe]
    if not query or not sets.genes:
        return pd.DataFrame(columns=ORA_COLUMNS[:-2])
    import gseapy

    enr = gseapy.enrich(
        gene_list=list(query),
        gene_sets=sets.genes,  # a dict: never an Enrichr library name
        background=list(universe),  # a list: never a BioMart dataset name
        outdir=None,
        no_plot=True,
    )
    found = enr.res2d if enr.res2d is not None else pd.DataFrame(
        columns=["Term", "Overlap", "P-value", "Odds Ratio", "Genes"]
    )
    position = {gene: i for i, gene in enumerate(query)}
    genes = found["Genes"].map(lambda text: sorted(text.split(";"), key=lambda g: position.get(g, -1)))
    if not all(g in position for listed in genes for g in listed):
        raise RuntimeError("gseapy.enrich returned overlap genes outside the query list")
    hits = pd.DataFrame(
        {
            "term": found["Term"].astype(str),
            "overlap": found["Overlap"].map(lambda text: int(text.split("/")[0])),
            "odds_ratio": found["Odds Ratio"].astype(float),
            "pvalue": found["P-value"].astype(float),
            "genes": genes.map(";".join),
        }
    )
    table = sets.table.merge(hits, on="term", how="left")
    table["pvalue"] = table["pvalue"].fillna(1.0)
    table["fdr"] = bh(table["pvalue"])
    table = table.loc[table["overlap"].notna()].copy()
    table["overlap"] = table["overlap"].astype(int)
    table["n_query"] = len(query)
    table["n_background"] = len(universe)
    return _sort(table)[ORA_COLUMNS[:-2]]


def annotated_universe(tested: RankedGenes, collection: Collection) -> list[str]:
    """ORA's background: the tested genes that at least one set of the collection
    contains (before the size bounds), in ranking order."""
    annotated = collection.genes
    return [gene for gene in tested.table["symbol"] if gene in annotated]


# ------------------------------------------------------------------ redundancy


def overlap_coefficient(a: set, b: set) -> float:
    """|a & b| / min(|a|, |b|): 1 when one set lies inside the other."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def group_redundant(
    table: pd.DataFrame, genes_column: str, fdr: float, threshold: float
) -> pd.DataFrame:
    """Group significant terms (FDR < `fdr`) whose genes are largely shared.

    In the spirit of fgsea's collapsePathways, but on gene overlap: terms are taken
    in order of p-value (then term); a term joins the group of the first, most
    significant, representative of the same direction whose genes (leading edge for
    GSEA, overlap genes for ORA) it shares at an overlap coefficient >= `threshold`;
    otherwise it becomes the representative of a new group. Groups are numbered
    1, 2, ... in the order of their representatives. Non-significant terms get no
    group and are not representatives.
    """
    table = table.copy()
    group = pd.array([pd.NA] * len(table), dtype="Int64")
    representative = np.zeros(len(table), dtype=bool)
    direction = table["direction"] if "direction" in table else pd.Series("", index=table.index)
    heads: list[tuple[int, str, set]] = []  # (group, direction, genes)
    for i in np.flatnonzero((table["fdr"] < fdr).to_numpy()):
        genes = set(str(table[genes_column].iat[i]).split(";")) - {""}
        joined = next(
            (
                number
                for number, head_direction, head_genes in heads
                if head_direction == direction.iat[i]
                and overlap_coefficient(genes, head_genes) >= threshold
            ),
            None,
        )
        if joined is None:
            joined = len(heads) + 1
            heads.append((joined, direction.iat[i], genes))
            representative[i] = True
        group[i] = joined
    table["group"] = group
    table["representative"] = representative
    return table


# ------------------------------------------------------------------ one job


@dataclass
class EnrichmentResult:
    gsea: pd.DataFrame
    ora_up: pd.DataFrame
    ora_down: pd.DataFrame
    sets: pd.DataFrame  # one row: what was usable, and the GMT's checksum


def enrich(
    tested: RankedGenes,
    collection: Collection,
    min_size: int,
    max_size: int,
    settings: EnrichmentSettings,
    gmt_label: str | None = None,
    directed: bool = True,
) -> EnrichmentResult:
    """GSEA and ORA (up, down) of one contrast's tested genes against one collection.

    Not `directed` (a likelihood-ratio test: no direction, no ranking): no GSEA (an
    empty table), and ORA of all significant genes against the tested genes, written
    as `ora_up` (with `ora_down` empty)."""
    [result] = enrich_collections(
        tested, [(collection, min_size, max_size, gmt_label)], settings, directed
    )
    return result


def enrich_collections(
    tested: RankedGenes,
    collections: list[tuple[Collection, int, int, str | None]],
    settings: EnrichmentSettings,
    directed: bool = True,
) -> list[EnrichmentResult]:
    """`enrich` for several collections (collection, min_size, max_size, gmt_label)
    at once, as one job does for one contrast: the GSEA chunks of every collection
    share one pool of `settings.threads` threads, and the ORA of every collection runs
    on one more thread meanwhile. Each collection's results are what `enrich` gives
    for it alone (a chunk's random draws depend on its own sets and the seed only)."""
    prepared = [
        _usable_sets(tested, collection, min_size, max_size, settings, gmt_label)
        for collection, min_size, max_size, gmt_label in collections
    ]
    lists = ora_lists(tested, settings.ora_padj, settings.ora_min_abs_log2fc, directed)
    universes = [annotated_universe(tested, collection) for collection, *_ in collections]

    def all_ora() -> list[dict[str, pd.DataFrame]]:
        return [
            {d: run_ora(q, universe, sets) for d, q in lists.items()}
            for (sets, _), universe in zip(prepared, universes)
        ]

    if not directed:
        for _, usable in prepared:
            usable["ranking"] = "none (LRT: ORA of the significant genes only)"
        ora = all_ora()
        gsea = [pd.DataFrame(columns=GSEA_COLUMNS[:-2]) for _ in prepared]
    else:
        with ThreadPoolExecutor(max_workers=max(1, settings.threads)) as gsea_pool, \
                ThreadPoolExecutor(max_workers=1) as ora_pool:
            tables = [
                _submit_gsea(gsea_pool, tested.ranking, sets, settings.seed)
                for sets, _ in prepared
            ]
            # ORA (Python) runs while the GSEA threads run in Rust without the GIL.
            ora = ora_pool.submit(all_ora)
            gsea = [table() for table in tables]
            ora = ora.result()
    return [
        _result(g, o, usable, settings, collection)
        for g, o, (_, usable), (collection, *_) in zip(gsea, ora, prepared, collections)
    ]


def _usable_sets(
    tested: RankedGenes,
    collection: Collection,
    min_size: int,
    max_size: int,
    settings: EnrichmentSettings,
    gmt_label: str | None,
) -> tuple[MatchedSets, dict]:
    """The collection's sets matched to the tested genes, and the sets.tsv row."""
    overlap = check_overlap(collection, tested.measured, settings.min_overlap)
    sets = match_sets(collection, tested.universe, min_size, max_size)
    usable = {
        "collection": collection.name,
        "gmt": gmt_label or str(collection.path),
        "sha256": collection.sha256,
        "bytes": collection.bytes,
        "ranking": settings.ranking,
        "sets_in_gmt": len(collection.sets),
        "genes_in_gmt": overlap.gmt_genes,
        **{key: tested.notes[key] for key in (
            "de_genes", "symbols_from_annotation", "symbols_from_fallback",
            "symbols_missing", "duplicate_symbols_dropped", "tested_genes",
        )},
        "gmt_genes_in_de_table": overlap.shared,
        "gmt_genes_tested": len(collection.genes & tested.universe),
        "overlap": round(overlap.fraction, 6),
        "min_size": min_size,
        "max_size": max_size,
        "sets_too_small": sets.too_small,
        "sets_too_large": sets.too_large,
        "sets_tested": len(sets.genes),
    }
    log.info(
        "%s: %d of %d sets tested (%d below min_size %d, %d above max_size %d); %d tested "
        "genes (%d symbols from the fallback table, %d duplicate symbols dropped); "
        "%d of the collection's %d genes are tested",
        collection.name, usable["sets_tested"], usable["sets_in_gmt"], sets.too_small,
        min_size, sets.too_large, max_size, usable["tested_genes"],
        usable["symbols_from_fallback"], usable["duplicate_symbols_dropped"],
        usable["gmt_genes_tested"], usable["genes_in_gmt"],
    )
    if not sets.genes:
        raise InputError(
            f"Gene-set collection '{collection.name}' ('{collection.path}'): none of its "
            f"{len(collection.sets)} sets has between min_size {min_size} and max_size "
            f"{max_size} tested genes ({sets.too_small} have fewer, {sets.too_large} more). "
            f"Change enrichment.collections.{collection.name}.min_size/max_size."
        )
    return sets, usable


def _result(gsea, ora, usable, settings, collection) -> EnrichmentResult:
    result = EnrichmentResult(
        gsea=group_redundant(gsea, "leading_edge", settings.fdr, settings.group_overlap),
        ora_up=group_redundant(ora["up"], "genes", settings.fdr, settings.group_overlap),
        ora_down=group_redundant(ora["down"], "genes", settings.fdr, settings.group_overlap),
        sets=pd.DataFrame([usable]),
    )
    for name in ANALYSES:
        table = getattr(result, name)
        log.info(
            "%s %s: %d significant at FDR < %g in %d groups", collection.name, name,
            int((table["fdr"] < settings.fdr).sum()), settings.fdr,
            int(table["representative"].sum()),
        )
    return result


def summarise(
    contrast: str, collection: str, tables: dict[str, pd.DataFrame], sets_tested: int, fdr: float
) -> pd.DataFrame:
    """Rows of summary.tsv for one contrast and collection: one per analysis."""
    rows = []
    for analysis in ANALYSES:
        table = tables[analysis]
        top = table.iloc[0] if len(table) else None
        rows.append(
            {
                "contrast": contrast,
                "collection": collection,
                "analysis": analysis,
                "sets_tested": sets_tested,
                "significant": int((table["fdr"] < fdr).sum()),
                # read back from a TSV the column is bool, or text when empty
                "groups": int((table["representative"].astype(str) == "True").sum()),
                "top_term": top["term"] if top is not None else None,
                "top_fdr": float(top["fdr"]) if top is not None else np.nan,
            }
        )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
