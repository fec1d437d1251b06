"""Checks of the shipped offline gene resources in resources/gene_sets/."""

import gzip
import re
from pathlib import Path

import pandas as pd
import pytest

GS = Path(__file__).resolve().parents[2] / "resources" / "gene_sets"
GO_NAME = re.compile(r"^.+ \((GO:\d{7})\)$")


def _lines(path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [line.rstrip("\n") for line in fh]


@pytest.fixture(scope="module")
def go_bp():
    return _lines(GS / "go_bp.gmt.gz")


@pytest.fixture(scope="module")
def human_genes():
    return pd.read_csv(GS / "human_genes.tsv.gz", sep="\t", dtype=str)


def test_go_bp_well_formed(go_bp):
    assert len(go_bp) > 3000
    names = []
    for line in go_bp:
        fields = line.split("\t")
        assert len(fields) >= 3 + 14
        m = GO_NAME.match(fields[0])
        assert m, fields[0]
        assert fields[1] == m.group(1)
        genes = fields[2:]
        assert all(genes) and len(set(genes)) == len(genes)
        assert genes == sorted(genes)
        assert 15 <= len(genes) <= 500
        names.append(fields[0])
    assert len(set(names)) == len(names)
    ids = [n.rsplit("(", 1)[1] for n in names]
    assert ids == sorted(ids)  # deterministic order: by GO id


def test_go_bp_propagated(go_bp):
    sets = {line.split("\t")[0]: set(line.split("\t")[2:]) for line in go_bp}
    child = sets["sprouting angiogenesis (GO:0002040)"]
    parent = sets["angiogenesis (GO:0001525)"]
    assert child <= parent  # is_a child's genes appear in the parent
    assert {"VEGFA", "KDR", "ANGPT1"} <= parent


def test_human_genes_one_to_one(human_genes):
    h = human_genes
    assert list(h.columns) == ["gene_id", "symbol", "entrez_id", "gene_type"]
    assert len(h) > 18000
    assert h["gene_id"].is_unique and h["symbol"].is_unique and h["entrez_id"].is_unique
    assert h["gene_id"].str.match(r"^ENSG\d{11}$").all()
    assert (h["gene_type"] == "protein-coding").all()
    sym = h.set_index("symbol")["gene_id"]
    assert sym["CCL4"] == "ENSG00000275302"  # primary assembly, not an alt-haplotype copy
    assert sym["IL6"] == "ENSG00000136244"


def test_msc_biology_gmt(human_genes):
    lines = _lines(GS / "msc_biology.gmt")
    sets = {}
    for line in lines:
        fields = line.split("\t")
        assert len(fields) >= 3 and fields[1]
        sets[fields[0]] = fields[2:]
    assert len(sets) == len(lines)
    assert sets["ALTANER2013_CLI_RESPONDER_UP"] == ["IL4", "IL6", "CCL4", "CDH1", "PDX1"]
    assert set(sets["ISCT_MSC_POSITIVE_MARKERS"]) == {"NT5E", "THY1", "ENG"}
    assert set(sets["ISCT_MSC_NEGATIVE_MARKERS"]) == {"PTPRC", "CD34", "CD14", "ITGAM", "CD79A", "CD19", "HLA-DRA"}
    known = set(human_genes["symbol"])
    for name, genes in sets.items():
        assert set(genes) <= known, name


# ------------------------------------------------------------- the GMT reader


from msc_response.common.errors import InputError  # noqa: E402
from msc_response.enrichment.gene_sets import (
    check_collections,
    map_symbols,
    read_gmt,  # noqa: E402
    read_symbol_table,
    resolve_path,
)

GOOD_GMT = "SET_A\tfirst set\tIL6\tTNF\tIL6\t\nSET_B\tna\tVEGFA\tKDR\n\nSET_C\t\tCD34\n"


def test_read_gmt_plain_and_gzipped_alike(tmp_path):
    plain = tmp_path / "sets.gmt"
    plain.write_text(GOOD_GMT)
    packed = tmp_path / "sets.gmt.gz"
    packed.write_bytes(gzip.compress(GOOD_GMT.encode(), mtime=0))
    a, b = read_gmt(plain, "mine"), read_gmt(packed, "mine")
    assert list(a.sets) == list(b.sets) == ["SET_A", "SET_B", "SET_C"]
    assert a.sets["SET_A"].genes == ("IL6", "TNF")  # repeated gene kept once, trailing tab ignored
    assert a.sets["SET_A"].description == "first set" and a.sets["SET_C"].line == 4
    assert a.genes == b.genes == {"IL6", "TNF", "VEGFA", "KDR", "CD34"}
    import hashlib

    assert a.sha256 == hashlib.sha256(plain.read_bytes()).hexdigest() != b.sha256
    assert b.bytes == packed.stat().st_size


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", "is empty (0 bytes)"),
        (b"\n\n  \n", "is empty: it holds no gene sets"),
        (b"SET_A\tna\tIL6\nSET_B IL6 TNF VEGFA\n", "line 2: its fields are separated by spaces, not tabs"),
        (b"SET_A\tna\tIL6\nSET_B\tdescription only\n", "line 2: it has 2 tab-separated field(s)"),
        (b"SET_A\tna\t\t\n", "line 1: set 'SET_A' lists no genes"),
        (b"\tna\tIL6\n", "line 1: the set name (first field) is empty"),
        (b"SET_A\tna\tIL6\nSET_A\tna\tTNF\n", "line 2: the set name 'SET_A' is used already on line 1"),
        (b"SET_A\tna\tIL6 TNF\n", "line 1 (set 'SET_A'): the gene field 'IL6 TNF' holds several words"),
        (b"SET_A\tna\tIL6\nSET_B\tna\tCAF\xe9\n", "line 2: not UTF-8 text"),
        (b"PK\x03\x04\x00\x00binary", "is a binary file, not a text GMT"),
        (gzip.compress(b"SET_A\tna\tIL6\n" * 200)[:-30], "cannot be read to the end"),
    ],
    ids=["zero-bytes", "blank", "spaces", "no-genes-field", "no-genes", "no-name", "duplicate",
         "spaced-genes", "latin1", "binary", "truncated-gzip"],
)
def test_read_gmt_names_file_and_line(tmp_path, content, expected):
    path = tmp_path / "bad.gmt"
    path.write_bytes(content)
    with pytest.raises(InputError) as error:
        read_gmt(path, "mine")
    message = str(error.value)
    assert expected in message
    assert message.startswith("Gene-set collection 'mine'") and str(path) in message


def test_missing_gmt_and_collection_checks(tmp_path, monkeypatch):
    with pytest.raises(InputError, match="nowhere.gmt' does not exist. Check enrichment.collections.mine.gmt"):
        read_gmt(tmp_path / "nowhere.gmt", "mine")
    good = tmp_path / "sets.gmt"
    good.write_text(GOOD_GMT)
    section = {"collections": {"mine": {"gmt": str(good), "min_size": 1, "max_size": 9},
                               "go_bp": None}, "fallback_symbols": None}
    assert check_collections(section, tmp_path) == {"mine": good}
    section["collections"]["mine"]["min_size"] = 10
    with pytest.raises(InputError, match="min_size \\(10\\) is larger than max_size \\(9\\)"):
        check_collections(section, tmp_path)
    # shipped resources are found from the workflow's folder when not in the run directory
    monkeypatch.chdir(tmp_path)
    assert resolve_path("resources/gene_sets/msc_biology.gmt", GS.parents[1]) == GS / "msc_biology.gmt"


def test_map_symbols_fallback():
    fallback = read_symbol_table(GS / "human_genes.tsv.gz")
    ids = pd.Series(["ENSG00000136244.12", "ENSG00000000003", "FBgn0000001", "X1"])
    given = pd.Series(["ENSG00000136244.12", "MYTSPAN", None, "X1"])
    symbols, counts = map_symbols(ids, given, fallback)
    assert symbols.tolist() == ["IL6", "MYTSPAN", "FBgn0000001", "X1"]
    assert counts == {"annotation": 1, "fallback": 1, "unmapped": 2}
