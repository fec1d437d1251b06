"""End to end: snakemake on a small simulated cohort recovers what was planted."""

import gzip
import stat

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from ..figure_checks import assert_drawn_png
from .conftest import run_snakemake, write_cohort
from .report_page import read_report

pytestmark = pytest.mark.integration

CONTRAST = "responder_vs_non_responder"


@pytest.fixture(scope="module")
def finished_run(small_cohort, tmp_path_factory):
    base = tmp_path_factory.mktemp("small")
    config = write_cohort(small_cohort, base / "input")
    workdir = base / "run"
    run_snakemake(workdir, config, umask=0o022)
    return small_cohort, workdir, config


def test_planted_effects_recovered(finished_run):
    cohort, workdir, _ = finished_run
    table = pd.read_csv(workdir / f"results/de/{CONTRAST}.tsv", sep="\t")
    assert list(table.columns) == [
        "gene_id", "symbol", "baseMean", "log2FoldChange", "lfcSE",
        "log2FoldChange_shrunk", "lfcSE_shrunk", "stat", "pvalue", "padj", "status",
    ]
    assert len(table) == len(cohort.counts), "one row per input gene"
    assert table["padj"].dropna().is_monotonic_increasing
    truth = cohort.truth.set_index("gene")["true_log2fc"]
    called = set(table.loc[table["padj"] < 0.05, "gene_id"])
    strong = set(truth.index[truth.abs() >= 1])
    null = set(truth.index[truth == 0])
    recall = len(called & strong) / len(strong)
    fdp = len(called & null) / max(1, len(called))
    assert recall >= 0.7, f"recall of |log2FC| >= 1 genes {recall:.2f}"
    assert fdp <= 0.1, f"false discovery proportion {fdp:.3f}"
    # estimated fold changes track the planted ones
    tested = table.dropna(subset=["log2FoldChange"]).set_index("gene_id")
    planted = truth.reindex(tested.index)
    moved = planted.abs() >= 1
    r = np.corrcoef(tested.loc[moved, "log2FoldChange"], planted[moved])[0, 1]
    assert r > 0.9
    # seed markers called up, with their symbols from the annotation
    seeds = table.set_index("symbol").loc[["IL4", "IL6", "CCL4", "CDH1", "PDX1"]]
    assert (seeds["padj"] < 0.05).all() and (seeds["log2FoldChange"] > 0).all()


def test_outputs_and_dataset(finished_run):
    cohort, workdir, _ = finished_run
    adata = ad.read_h5ad(workdir / "results/dataset.h5ad")
    assert adata.shape == (cohort.counts.shape[1], cohort.counts.shape[0])
    assert set(adata.layers) >= {"counts", "normalised", "vst"}
    np.testing.assert_array_equal(adata.layers["counts"], cohort.counts.T.to_numpy())
    assert list(adata.obs["response"].cat.categories) == ["non_responder", "responder"]
    assert adata.var["symbol"].isin(["IL6"]).any()
    # normalised = counts / size factor, and size factors are DESeq2's median of ratios
    sf = adata.obs["size_factor"].to_numpy()
    np.testing.assert_allclose(adata.layers["normalised"] * sf[:, None], adata.layers["counts"])
    counts = adata.layers["counts"].astype(float)
    positive = (counts > 0).all(axis=0)
    logs = np.log(counts[:, positive])
    expected = np.exp(np.median(logs - logs.mean(axis=0), axis=1))
    np.testing.assert_allclose(sf, expected, rtol=1e-10)
    qc = pd.read_csv(workdir / "results/qc/samples_qc.tsv", sep="\t")
    assert len(qc) == cohort.counts.shape[1] and "outlier" in qc
    assert qc["flag"].isin(["ok", "note", "outlier"]).all()
    assert ((qc["flag"] == "ok") == qc["flag_reason"].isna()).all()  # reason iff flagged
    for figure in ["qc/library_sizes.png", "qc/pca.png", "qc/sample_distances.png",
                   f"de/{CONTRAST}.ma.png", f"de/{CONTRAST}.volcano.png"]:
        assert_drawn_png(workdir / "results" / figure)
    summary = pd.read_csv(workdir / f"results/de/{CONTRAST}.summary.tsv", sep="\t")
    table = pd.read_csv(workdir / f"results/de/{CONTRAST}.tsv", sep="\t")
    assert summary.loc[0, "up"] == ((table["padj"] < 0.05) & (table["log2FoldChange"] > 0)).sum()
    with gzip.open(workdir / "results/counts/vst.tsv.gz", "rt") as handle:
        assert handle.readline().split("\t")[:2] == ["gene_id", "symbol"]


def test_rerun_gives_byte_identical_tables(finished_run, tmp_path):
    _, workdir, config = finished_run
    again = tmp_path / "again"
    run_snakemake(again, config)
    for table in [f"de/{CONTRAST}.tsv", "qc/samples_qc.tsv", "counts/vst.tsv.gz"]:
        assert (again / "results" / table).read_bytes() == (workdir / "results" / table).read_bytes(), table


def test_no_result_is_a_pickle(finished_run):
    """Results shared between jobs hold data only: loading a pickle runs code."""
    _, workdir, _ = finished_run
    files = [path for path in (workdir / "results").rglob("*") if path.is_file()]
    assert any(path.name == "fit.h5ad" for path in files)
    pickles = [
        str(path.relative_to(workdir))
        for path in files
        if path.suffix in {".pkl", ".pickle"} or _starts_like_a_pickle(path)
    ]
    assert not pickles, pickles


def _starts_like_a_pickle(path) -> bool:
    with open(path, "rb") as handle:
        start = handle.read(2)
    return len(start) == 2 and start[0] == 0x80 and 2 <= start[1] <= 5  # protocols 2-5


def test_report_of_the_run(finished_run):
    """The report names the seed genes in the panel, embeds every figure and states
    the DE counts of the run."""
    _, workdir, _ = finished_run
    page = read_report(workdir)
    section = page.text[f"contrast-{CONTRAST}"]
    panel = section[section.index("Markers and curated panel"):section.index("Marker genes")]
    for gene in ["IL4", "IL6", "CCL4", "CDH1", "PDX1"]:
        assert f"{gene} (up)" in panel
    summary = pd.read_csv(workdir / f"results/de/{CONTRAST}.summary.tsv", sep="\t").iloc[0]
    assert f"{summary['up']} up and {summary['down']} down" in section
    assert len(page.images) >= 8
    assert all(src.startswith("data:image/png;base64,") for src in page.images)
    assert all(link.startswith("#") for link in page.links)


def test_results_are_readable_by_the_group(finished_run):
    """Every output honours the umask like a normally created file (0644 under 022)."""
    _, workdir, _ = finished_run
    modes = {
        str(path.relative_to(workdir)): stat.S_IMODE(path.stat().st_mode)
        for path in (workdir / "results").rglob("*")
    }
    assert len(modes) > 20 and "results/de/fit.h5ad" in modes
    wrong = {
        name: oct(mode)
        for name, mode in modes.items()
        if mode != (0o755 if (workdir / name).is_dir() else 0o644)
    }
    assert not wrong, wrong
