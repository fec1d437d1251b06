#!/usr/bin/env python3
"""Build the offline gene resources shipped in resources/gene_sets/.

Inputs are the two SQLite files inside Debian's Bioconductor annotation
packages (no R needed)::

    mkdir -p /tmp/gs && cd /tmp/gs
    apt-get download r-bioc-org.hs.eg.db r-bioc-go.db
    for d in *.deb; do dpkg-deb -x "$d" .; done
    python resources/gene_sets/build_gene_sets.py \\
        /tmp/gs/usr/lib/R/site-library/org.Hs.eg.db/extdata/org.Hs.eg.sqlite \\
        /tmp/gs/usr/lib/R/site-library/GO.db/extdata/GO.sqlite

Outputs (in --outdir, default: this script's folder):

* ``go_bp.gmt.gz``: GO Biological Process sets with human gene symbols.
  Direct annotations (all evidence codes except ND) are propagated to every
  ancestor term along ``is_a`` and ``part_of`` edges (the transitive closure of
  GO.db's ``go_bp_parents`` table restricted to those two relations; GO.db's
  own ancestor/offspring tables also follow ``regulates`` edges, which we do
  not). Sets with 15-500 genes are kept. Field 1 is ``<term name> (<GO id>)``,
  field 2 is the GO id. Sets are sorted by GO id, genes alphabetically.
* ``human_genes.tsv.gz``: protein-coding genes (org.Hs.eg.db ``genetype``)
  with a one-to-one Ensembl gene id <-> Entrez id <-> symbol choice (see
  :func:`one_to_one`).

Both gzip files are written with mtime 0, so a rebuild from the same inputs is
byte-identical. Only the standard library and pandas are used.
"""

from __future__ import annotations

import argparse
import gzip
import io
import sqlite3
import sys
from collections import defaultdict
from pathlib import Path

import pandas as pd

MIN_SIZE = 15
MAX_SIZE = 500
RELATIONS = ("isa", "part of")  # GO.db spells is_a / part_of like this
EXCLUDED_EVIDENCE = ("ND",)  # "no biological data available"


def write_gzip_text(path: Path, text: str) -> None:
    """Write text as gzip with mtime=0 and no file name (reproducible bytes)."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(text.encode("utf-8"))
    path.write_bytes(buf.getvalue())


def sqlite_metadata(con: sqlite3.Connection) -> dict[str, str]:
    return dict(con.execute("SELECT name, value FROM metadata").fetchall())


# --------------------------------------------------------------------------- genes
def read_genes(orgdb: sqlite3.Connection) -> pd.DataFrame:
    """Entrez id, symbol and NCBI gene type of every gene in org.Hs.eg.db."""
    tables = {r[0] for r in orgdb.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "genetype" in tables:
        sql = (
            "SELECT g.gene_id AS entrez_id, i.symbol, t.gene_type FROM genes g "
            "JOIN gene_info i ON i._id = g._id JOIN genetype t ON t._id = g._id"
        )
    else:  # older schema: no gene types, keep every gene
        sql = (
            "SELECT g.gene_id AS entrez_id, i.symbol, 'protein-coding' AS gene_type "
            "FROM genes g JOIN gene_info i ON i._id = g._id"
        )
    return pd.read_sql(sql, orgdb)


def one_to_one(orgdb: sqlite3.Connection, genes: pd.DataFrame) -> pd.DataFrame:
    """Choose one Ensembl gene id per protein-coding Entrez gene, and vice versa.

    Candidates are all (Entrez, Ensembl) pairs of the ENSEMBL map (NCBI's
    gene2ensembl). Each pair gets a rank: 0 if it is also NCBI's primary match
    (``ncbi2ensembl``), 1 if Ensembl's own cross-reference has it
    (``ensembl2ncbi``), 2 otherwise. Pairs are sorted by (rank, numeric Ensembl
    id, numeric Entrez id) and taken greedily, skipping a pair whose Entrez id
    or Ensembl id is already taken. This keeps primary-assembly ids over
    alternate-haplotype copies (e.g. CCL4 -> ENSG00000275302). Symbols are
    unique among Entrez genes, so the result is one-to-one in all three ids.
    """

    def pairs(table: str) -> pd.DataFrame:
        return pd.read_sql(
            f"SELECT g.gene_id AS entrez_id, e.ensembl_id FROM genes g JOIN {table} e ON e._id = g._id",
            orgdb,
        )

    cand = pairs("ensembl")
    primary = set(map(tuple, pairs("ncbi2ensembl").values))
    ens_side = set(map(tuple, pairs("ensembl2ncbi").values))
    pc = genes[genes["gene_type"] == "protein-coding"]
    cand = cand[cand["entrez_id"].isin(pc["entrez_id"]) & cand["ensembl_id"].str.startswith("ENSG")]
    keys = list(zip(cand["entrez_id"], cand["ensembl_id"]))
    cand = cand.assign(
        rank=[0 if k in primary else (1 if k in ens_side else 2) for k in keys],
        ens_num=cand["ensembl_id"].str[4:].astype(int),
        ent_num=cand["entrez_id"].astype(int),
    ).sort_values(["rank", "ens_num", "ent_num"], kind="mergesort")
    used_ent: set[str] = set()
    used_ens: set[str] = set()
    chosen = []
    for ent, ens in zip(cand["entrez_id"], cand["ensembl_id"]):
        if ent in used_ent or ens in used_ens:
            continue
        used_ent.add(ent)
        used_ens.add(ens)
        chosen.append((ens, ent))
    out = pd.DataFrame(chosen, columns=["gene_id", "entrez_id"]).merge(
        pc[["entrez_id", "symbol", "gene_type"]], on="entrez_id", how="left"
    )
    out = out[["gene_id", "symbol", "entrez_id", "gene_type"]]
    out = out.assign(_n=out["gene_id"].str[4:].astype(int)).sort_values("_n").drop(columns="_n")
    assert out["gene_id"].is_unique and out["symbol"].is_unique and out["entrez_id"].is_unique
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------- GO BP
def ancestors_closure(godb: sqlite3.Connection, relations=RELATIONS) -> dict[str, set[str]]:
    """GO id -> set of its BP ancestors (itself included) along the given relations."""
    qmarks = ",".join("?" * len(relations))
    rows = godb.execute(
        "SELECT c.go_id, p.go_id FROM go_bp_parents r "
        "JOIN go_term c ON c._id = r._id JOIN go_term p ON p._id = r._parent_id "
        f"WHERE r.relationship_type IN ({qmarks})",
        tuple(relations),
    ).fetchall()
    parents: dict[str, set[str]] = defaultdict(set)
    for child, parent in rows:
        parents[child].add(parent)
    memo: dict[str, frozenset[str]] = {}

    def visit(term: str) -> frozenset[str]:
        # iterative DFS to stay clear of the recursion limit
        stack = [(term, iter(sorted(parents.get(term, ()))))]
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                acc = {node}
                for p in parents.get(node, ()):
                    acc |= memo[p]
                memo[node] = frozenset(acc)
            elif nxt not in memo:
                stack.append((nxt, iter(sorted(parents.get(nxt, ())))))
        return memo[term]

    bp_terms = [r[0] for r in godb.execute("SELECT go_id FROM go_term WHERE ontology = 'BP'")]
    return {t: set(visit(t)) for t in bp_terms}


def build_go_bp(orgdb, godb, min_size=MIN_SIZE, max_size=MAX_SIZE, relations=RELATIONS):
    """Return a list of (name, go_id, sorted genes) for GO BP, propagated."""
    qmarks = ",".join("?" * len(EXCLUDED_EVIDENCE))
    direct = orgdb.execute(
        "SELECT DISTINCT i.symbol, b.go_id FROM go_bp b JOIN gene_info i ON i._id = b._id "
        f"WHERE b.evidence NOT IN ({qmarks})",
        EXCLUDED_EVIDENCE,
    ).fetchall()
    anc = ancestors_closure(godb, relations)
    names = dict(godb.execute("SELECT go_id, term FROM go_term WHERE ontology = 'BP'").fetchall())
    members: dict[str, set[str]] = defaultdict(set)
    unknown = 0
    for symbol, go_id in direct:
        if go_id not in anc:  # obsolete / not in this GO.db release
            unknown += 1
            continue
        for a in anc[go_id]:
            members[a].add(symbol)
    if unknown:
        print(f"note: {unknown} direct annotations to terms missing from GO.db skipped", file=sys.stderr)
    sets = []
    for go_id in sorted(members):
        genes = sorted(members[go_id])
        if min_size <= len(genes) <= max_size:
            name = " ".join(names[go_id].split())  # no tabs/newlines in names
            sets.append((f"{name} ({go_id})", go_id, genes))
    assert len({s[0] for s in sets}) == len(sets)
    return sets


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("orgdb", help="path to org.Hs.eg.sqlite")
    ap.add_argument("godb", help="path to GO.sqlite")
    ap.add_argument("--outdir", default=str(Path(__file__).resolve().parent))
    ap.add_argument("--min-size", type=int, default=MIN_SIZE)
    ap.add_argument("--max-size", type=int, default=MAX_SIZE)
    args = ap.parse_args(argv)
    outdir = Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)

    orgdb = sqlite3.connect(f"file:{args.orgdb}?mode=ro", uri=True)
    godb = sqlite3.connect(f"file:{args.godb}?mode=ro", uri=True)

    genes = read_genes(orgdb)
    table = one_to_one(orgdb, genes)
    write_gzip_text(outdir / "human_genes.tsv.gz", table.to_csv(sep="\t", index=False, lineterminator="\n"))

    sets = build_go_bp(orgdb, godb, args.min_size, args.max_size)
    gmt = "".join(f"{name}\t{gid}\t" + "\t".join(g) + "\n" for name, gid, g in sets)
    write_gzip_text(outdir / "go_bp.gmt.gz", gmt)

    n_genes = len({x for s in sets for x in s[2]})
    meta_o, meta_g = sqlite_metadata(orgdb), sqlite_metadata(godb)
    print(f"human_genes.tsv.gz: {len(table)} protein-coding genes "
          f"({(genes.gene_type == 'protein-coding').sum()} in org.Hs.eg.db)")
    print(f"go_bp.gmt.gz: {len(sets)} sets ({args.min_size}-{args.max_size} genes), {n_genes} distinct genes")
    print(f"org.Hs.eg.db Entrez Gene date {meta_o.get('EGSOURCEDATE')}, GO date {meta_g.get('GOSOURCEDATE')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
