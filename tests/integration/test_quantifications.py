"""End to end on salmon quantifications (config `quantifications`): the small
simulated cohort's gene counts, split over isoforms as a quantifier would estimate
them, run through the whole workflow (DE, enrichment, markers, report) with
counts_from_abundance false (a bare YAML `no`: tximport's length offsets, the
default), and the planted effects are recovered. (pytximport's gene counts against
R's tximport: tests/unit/test_quantifications.py; the offsets' DE against R's:
tests/unit/test_tximport_offsets.py.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from .conftest import run_snakemake, write_cohort

pytestmark = pytest.mark.integration

CONTRAST = "responder_vs_non_responder"


def write_salmon(cohort, folder) -> tuple[list[str], str]:
    """One salmon folder per sample (quant.sf), and a tx2gene with symbols."""
    rng = np.random.default_rng(3)
    counts = cohort.counts
    rows, usage = [], []
    for k, gene in enumerate(counts.index):
        n = int(rng.integers(1, 4))
        share = rng.dirichlet(np.full(n, 3.0))
        for j in range(n):
            rows.append((f"ENST{k:08d}{j}.1", gene, int(rng.integers(600, 5000))))
            usage.append(share[j])
    tx = pd.DataFrame(rows, columns=["transcript_id", "gene_id", "length"])
    usage = np.array(usage)
    gene_of = tx["gene_id"].to_numpy()
    folders = []
    for s, sample in enumerate(counts.columns):
        estimated = counts[sample].reindex(gene_of).to_numpy() * usage
        estimated = np.round(np.where(estimated > 0, estimated + rng.uniform(-0.3, 0.3, len(tx)), 0), 3)
        estimated = np.maximum(estimated, 0)
        effective = tx["length"].to_numpy() - 200.0 + rng.normal(0, 5)
        rate = estimated / effective
        table = pd.DataFrame({"Name": tx["transcript_id"], "Length": tx["length"],
                              "EffectiveLength": np.round(effective, 3), "TPM": rate / rate.sum() * 1e6,
                              "NumReads": estimated})
        (folder / sample).mkdir(parents=True)
        table.to_csv(folder / sample / "quant.sf", sep="\t", index=False, float_format="%.8g")
        folders.append(sample)  # relative: beside the sample sheet
    symbols = cohort.annotation.set_index("gene_id")["symbol"]
    tx2gene = tx[["transcript_id", "gene_id"]].assign(symbol=symbols.reindex(gene_of).to_numpy())
    tx2gene.to_csv(folder / "tx2gene.tsv", sep="\t", index=False)
    return folders, str(folder / "tx2gene.tsv")


@pytest.fixture(scope="module")
def salmon_run(small_cohort, tmp_path_factory):
    base = tmp_path_factory.mktemp("salmon")
    written = write_cohort(small_cohort, base / "input")
    folders, tx2gene = write_salmon(small_cohort, base / "salmon")
    sheet = pd.read_csv(written["samples"], sep="\t", dtype=str)
    sheet["salmon"] = folders
    sheet.to_csv(base / "salmon" / "samples.tsv", sep="\t", index=False)
    config = {
        "counts": None,
        "samples": str(base / "salmon" / "samples.tsv"),
        "annotation": None,
        "quantifications": {"tool": "salmon", "column": "salmon", "tx2gene": tx2gene,
                            "counts_from_abundance": False},
    }
    run_snakemake(base / "run", config)
    return small_cohort, base / "run"


def test_salmon_quantifications_through_the_whole_workflow(salmon_run):
    cohort, workdir = salmon_run
    table = pd.read_csv(workdir / f"results/de/{CONTRAST}.tsv", sep="\t")
    assert len(table) == len(cohort.counts)
    truth = cohort.truth.set_index("gene")["true_log2fc"]
    called = set(table.loc[table["padj"] < 0.05, "gene_id"])
    strong = set(truth.index[truth.abs() >= 1])
    null = set(truth.index[truth == 0])
    assert len(called & strong) / len(strong) >= 0.7
    assert len(called & null) / max(1, len(called)) <= 0.1
    seeds = table.set_index("symbol").loc[["IL4", "IL6", "CCL4", "CDH1", "PDX1"]]
    assert (seeds["padj"] < 0.05).all() and (seeds["log2FoldChange"] > 0).all()  # symbols from tx2gene
    for path in (f"results/markers/{CONTRAST}/markers.tsv", "results/enrichment/summary.tsv",
                 "results/provenance.json"):
        assert (workdir / path).exists(), path
    report = (workdir / "results/report/index.html").read_text()
    assert "summarised to genes with pytximport 0.13.0" in report
    assert "Soneson C, Love MI, Robinson MD (2015)" in report
    assert "input file: tx2gene" in report
    assert "average transcript length per gene used as offsets" in report
    assert f"input file: {cohort.counts.columns[0]}" in report  # each sample's file


def test_offsets_reach_the_fit_and_the_normalised_counts(salmon_run):
    """The normalisation factors are stored with the fit and divide the counts in
    the normalised table that QC, markers and the report read."""
    import anndata as ad
    import h5py

    _, workdir = salmon_run
    with h5py.File(workdir / "results/de/fit.h5ad", "r") as handle:
        fit_nf = handle["layers/norm_factors"][()]
    dataset = ad.read_h5ad(workdir / "results/dataset.h5ad")
    nf = dataset.layers["norm_factors"]
    assert nf.shape == dataset.shape and not np.allclose(nf, nf[:, :1])  # per gene, not per sample
    np.testing.assert_allclose(np.exp(np.log(nf).mean(axis=0)), 1.0, rtol=1e-10)
    np.testing.assert_allclose(dataset.layers["normalised"], dataset.layers["counts"] / nf, rtol=1e-12)
    table = pd.read_csv(workdir / "results/counts/normalised_counts.tsv.gz", sep="\t", index_col=0)
    np.testing.assert_allclose(table.drop(columns="symbol").to_numpy().T, dataset.layers["normalised"],
                               rtol=1e-7, atol=1e-6)  # the table's 8 significant digits
    kept = ad.read_h5ad(workdir / "results/de/fit.h5ad").var["kept"].to_numpy()
    # the fit's factors are estimated on the pre-filtered genes, as R's DESeq() on a
    # pre-filtered data set; both have geometric mean 1 per gene
    np.testing.assert_allclose(np.exp(np.log(fit_nf[:, kept]).mean(axis=0)), 1.0, rtol=1e-10)
