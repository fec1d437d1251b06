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
