"""The default run on the example cohort, with the network blocked: enrichment finds
the planted pathways, reruns give the same bytes, a collection in the wrong
identifiers stops with the overlap shown."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from functools import lru_cache

import pandas as pd
import pytest
import yaml

from ..figure_checks import assert_drawn_png
from .conftest import ROOT, run_snakemake

pytestmark = pytest.mark.integration

EXAMPLE = ROOT / "resources" / "example"
CONTRAST = "responder_vs_non_responder"
TABLES = ("gsea", "ora_up", "ora_down", "sets")


@lru_cache(maxsize=None)
def network_blocker() -> list[str]:
    """`unshare -n` (a new network namespace: loopback only, down) if it works here."""
    for command in (["unshare", "-n"], ["unshare", "-rn"]):
        if shutil.which("unshare") and subprocess.run([*command, "true"]).returncode == 0:
            return command
    return []


@pytest.fixture(scope="module")
def example_run(tmp_path_factory):
    """The default workflow on the example cohort, every rule, with the network
    blocked where `unshare` allows it."""
    defaults = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config = {key: str((ROOT / defaults[key]).resolve()) for key in ("counts", "samples", "annotation")}
    workdir = tmp_path_factory.mktemp("enrichment")
    run_snakemake(workdir, config, prefix=tuple(network_blocker()))
    return workdir, config


def test_default_run_works_with_the_network_blocked(example_run):
    blocker = network_blocker()
    if not blocker:
        reason = "needs `unshare -n` (root) or `unshare -rn` (user namespaces) to block the network"
        if os.environ.get("CI"):
            pytest.fail(reason)  # CI runs as root: this must work there
        pytest.skip(reason)
    # the blocker does block: no connection leaves its namespace
    probe = "import socket; socket.create_connection(('1.1.1.1', 53), timeout=3)"
    assert subprocess.run([*blocker, sys.executable, "-c", probe], capture_output=True).returncode != 0
    workdir, _ = example_run
    assert (workdir / "results/enrichment/summary.tsv").exists()
    assert (workdir / "results/provenance.json").exists()  # the whole default run finished


def test_planted_pathways_found_by_gsea_and_ora(example_run):
    workdir, _ = example_run
    planted = pd.read_csv(EXAMPLE / "planted_pathways.tsv", sep="\t")
    assert len(planted)
    for pathway in planted.itertuples():
        folder = workdir / "results/enrichment" / CONTRAST
        gsea = pd.read_csv(folder / f"{pathway.collection}.gsea.tsv", sep="\t")
        top = gsea.head(5).set_index("term")
        assert pathway.term in top.index, f"{pathway.term} not in the top 5:\n{top[['nes', 'fdr']]}"
        row = top.loc[pathway.term]
        assert row["fdr"] < 0.05 and row["direction"] == pathway.direction
        assert (row["nes"] > 0) == (pathway.direction == "up")
        ora = pd.read_csv(folder / f"{pathway.collection}.ora_{pathway.direction}.tsv", sep="\t")
        assert (ora.loc[ora["term"] == pathway.term, "fdr"] < 0.05).any(), pathway.term


def test_ora_pvalues_equal_the_hypergeometric_tail_on_the_annotated_universe(example_run):
    """A few go_bp ORA terms of the example against scipy's hypergeometric tail,
    computed from the run's DE table and the GMT alone: the universe is the tested
    genes (a padj) that some GO BP set contains, the query the up (down) genes in it."""
    import gzip

    from scipy.stats import hypergeom

    workdir, _ = example_run
    gmt = {
        fields[0]: set(fields[2:]) - {""}
        for fields in (line.split("\t") for line in gzip.open(
            ROOT / "resources/gene_sets/go_bp.gmt.gz", "rt").read().splitlines())
    }
    de = pd.read_csv(workdir / f"results/de/{CONTRAST}.tsv", sep="\t")
    de = de.loc[de["padj"].notna()]
    assert de["symbol"].is_unique  # the example: one gene per symbol
    universe = set(de["symbol"]) & set().union(*gmt.values())
    assert len(universe) < 0.85 * len(de)  # GO BP leaves many tested genes out
    folder = workdir / "results/enrichment" / CONTRAST
    for direction, called in (("up", de["log2FoldChange"] > 0), ("down", de["log2FoldChange"] < 0)):
        query = set(de.loc[called & (de["padj"] < 0.05), "symbol"]) & universe
        ora = pd.read_csv(folder / f"go_bp.ora_{direction}.tsv", sep="\t").set_index("term")
        assert (ora["n_background"] == len(universe)).all() and (ora["n_query"] == len(query)).all()
        for term in ora.index[:4]:
            members = gmt[term] & universe
            x = len(query & members)
            assert (ora.loc[term, "overlap"], ora.loc[term, "size"]) == (x, len(members))
            expected = hypergeom.sf(x - 1, len(universe), len(members), len(query))
            assert ora.loc[term, "pvalue"] == pytest.approx(expected, rel=1e-6), term


def test_tables_summary_and_figures(example_run):
    workdir, _ = example_run
    folder = workdir / "results/enrichment" / CONTRAST
    collections = ["go_bp", "msc_biology"]
    for collection in collections:
        sets = pd.read_csv(folder / f"{collection}.sets.tsv", sep="\t").iloc[0]
        gmt = ROOT / sets["gmt"]
        assert sets["sha256"] == hashlib.sha256(gmt.read_bytes()).hexdigest()
        gsea = pd.read_csv(folder / f"{collection}.gsea.tsv", sep="\t")
        assert len(gsea) == sets["sets_tested"] > 0
        assert gsea["pvalue"].is_monotonic_increasing
        for kind in ("gsea", "ora_up", "ora_down"):
            table = pd.read_csv(folder / f"{collection}.{kind}.tsv", sep="\t")
            significant = table["fdr"] < 0.05
            assert table.loc[~significant, "group"].isna().all()
            groups = table.loc[significant].groupby("group")["representative"]
            assert (groups.sum() == 1).all()  # one representative per group ...
            assert groups.apply(lambda r: r.iloc[0]).all()  # ... its most significant term
        for figure in ("dotplot.png", "gsea_top.png"):
            assert_drawn_png(folder / f"{collection}.{figure}")
    summary = pd.read_csv(workdir / "results/enrichment/summary.tsv", sep="\t")
    assert list(summary.columns) == [
        "contrast", "collection", "analysis", "sets_tested", "significant", "groups",
        "top_term", "top_fdr",
    ]
    assert len(summary) == len(collections) * 3
    go = summary.set_index(["collection", "analysis"]).loc["go_bp"]
    assert (go["significant"] >= 1).all() and (go["top_fdr"] < 0.05).all()


def test_rerun_gives_byte_identical_enrichment_tables(example_run):
    workdir, config = example_run
    folder = workdir / "results/enrichment" / CONTRAST
    files = [folder / f"{c}.{t}.tsv" for c in ("go_bp", "msc_biology") for t in TABLES]
    files.append(workdir / "results/enrichment/summary.tsv")
    before = {path: path.read_bytes() for path in files}
    run_snakemake(workdir, config, "results/enrichment/summary.tsv",
                  "--forcerun", "enrichment", "enrichment_summary")
    for path in files:
        assert path.read_bytes() == before[path], path.name


def test_collection_in_other_identifiers_stops_with_the_overlap(example_run, tmp_path):
    workdir, config = example_run
    human = ROOT / "resources/gene_sets/msc_biology.gmt"
    mouse = tmp_path / "mouse.gmt"
    mouse.write_text("".join(
        "\t".join(fields[:2] + [gene.capitalize() for gene in fields[2:]]) + "\n"
        for fields in (line.split("\t") for line in human.read_text().splitlines())
    ))
    collections = {"mouse": {"gmt": str(mouse), "min_size": 3}, "msc_biology": None}  # null: left out
    config = {**config, "enrichment": {"collections": collections}}
    result = run_snakemake(
        workdir, config, f"results/enrichment/{CONTRAST}/mouse.gsea.tsv", check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Gene-set collection 'mouse'" in output and "mouse/rat-style symbols" in output
    assert "Ignoring upper/lower case" in output and "Traceback" not in output
    assert not (workdir / f"results/enrichment/{CONTRAST}/mouse.gsea.tsv").exists()
