"""End to end on the count inputs labs hold besides one count table: STAR
ReadsPerGene.out.tab and HTSeq-count files per sample, and nf-core/rnaseq's merged
table of estimated counts with a gene_name column (round_counts).

Each is made from the small simulated cohort's counts, so the workflow must give the
same DE table, byte for byte, as the run on the plain count table (`reference_run`).
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from .conftest import run_snakemake

pytestmark = pytest.mark.integration

CONTRAST = "responder_vs_non_responder"
DE_TABLE = f"results/de/{CONTRAST}.tsv"


def write_star_files(counts: pd.DataFrame, folder, seed=11) -> list[str]:
    """Reverse-stranded libraries (TruSeq-like): column 4 holds the reads, column 3 a
    few percent of antisense reads, column 2 both."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for sample in counts.columns:
        n = counts[sample].to_numpy()
        antisense = rng.binomial(n, 0.02)
        lines = ["N_unmapped\t2100\t2100\t2100", "N_multimapping\t900\t900\t900",
                 f"N_noFeature\t{rng.integers(100, 200)}\t{n.sum()}\t{rng.integers(300, 400)}",
                 "N_ambiguous\t60\t1\t2"]
        lines += [f"{g}\t{a + b}\t{b}\t{a}" for g, a, b in zip(counts.index, n, antisense)]
        path = folder / f"{sample}.ReadsPerGene.out.tab"
        path.write_text("\n".join(lines) + "\n")
        paths.append(path.name)  # relative: found beside the sample sheet
    return paths


def write_htseq_files(counts: pd.DataFrame, folder) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, sample in enumerate(counts.columns):
        lines = [f"{g}\t{c}" for g, c in counts[sample].items()]
        lines += [f"__no_feature\t{1000 + k}", "__ambiguous\t40", "__too_low_aQual\t3",
                  "__not_aligned\t77", "__alignment_not_unique\t310"]
        path = folder / f"{sample}.counts.txt"
        path.write_text("\n".join(lines) + "\n")
        paths.append(str(path))
    return paths


def sheet_with(config: dict, column: str, values: list[str], folder) -> str:
    sheet = pd.read_csv(config["samples"], sep="\t", dtype=str)
    sheet[column] = values
    path = folder / "samples.tsv"
    sheet.to_csv(path, sep="\t", index=False)
    return str(path)


@pytest.fixture(scope="module")
def star_run(small_cohort, reference_run, tmp_path_factory):
    _, reference_config = reference_run
    base = tmp_path_factory.mktemp("star")
    files = write_star_files(small_cohort.counts, base / "star")
    config = {
        "counts": None,
        "samples": sheet_with(reference_config, "star", files, base / "star"),
        "annotation": reference_config["annotation"],
        "count_files": {"column": "star", "format": "star", "strand": "reverse"},
    }
    result = run_snakemake(base / "run", config)
    return base / "run", result


def test_star_files_run_end_to_end_as_the_count_table(star_run, reference_run, small_cohort):
    workdir, result = star_run
    reference, _ = reference_run
    assert (workdir / DE_TABLE).read_bytes() == (reference / DE_TABLE).read_bytes()
    assert "strandedness" not in result.stderr
    assert (workdir / "results/report/index.html").exists()
    assert (workdir / f"results/markers/{CONTRAST}/markers.tsv").exists()
    qc = pd.read_csv(workdir / "results/qc/samples_qc.tsv", sep="\t")
    assert (qc["unassigned_multimapping"] == 900).all()
    assert qc["unassigned_no_feature"].between(300, 399).all()  # the reverse column's
    assert qc.columns[-1] == "flag_reason"
    report = (workdir / "results/report/index.html").read_text()
    assert "STAR ReadsPerGene.out.tab file (reverse counts)" in report
    first = small_cohort.counts.columns[0]
    assert f"input file: {first}" in report  # each sample's file, with its checksum


def test_htseq_files_and_nfcore_table(small_cohort, reference_run, tmp_path):
    reference, reference_config = reference_run
    counts = small_cohort.counts
    # HTSeq-count, one file per sample: the DE table of the count table
    htseq = {
        "counts": None,
        "samples": sheet_with(reference_config, "htseq", write_htseq_files(counts, tmp_path / "htseq"),
                              tmp_path / "htseq"),
        "annotation": reference_config["annotation"],
        "count_files": {"column": "htseq", "format": "htseq"},
    }
    run_snakemake(tmp_path / "htseq_run", htseq, DE_TABLE, "results/qc/samples_qc.tsv")
    assert (tmp_path / "htseq_run" / DE_TABLE).read_bytes() == (reference / DE_TABLE).read_bytes()
    qc = pd.read_csv(tmp_path / "htseq_run/results/qc/samples_qc.tsv", sep="\t")
    assert qc["unassigned_no_feature"].tolist() == list(range(1000, 1000 + counts.shape[1]))
    assert (qc["unassigned_alignment_not_unique"] == 310).all()

    # nf-core/rnaseq's merged table: gene_id, gene_name, estimated counts
    rng = np.random.default_rng(5)
    estimated = counts + rng.uniform(-0.45, 0.45, size=counts.shape) * (counts > 0)
    annotation = pd.read_csv(reference_config["annotation"], sep="\t", index_col=0).iloc[:, 0]
    estimated.insert(0, "gene_name", annotation.reindex(counts.index).to_numpy())
    table = tmp_path / "salmon.merged.gene_counts_length_scaled.tsv"
    estimated.to_csv(table, sep="\t", index_label="gene_id", float_format="%.3f")
    nfcore = {"counts": str(table), "samples": reference_config["samples"], "annotation": None}
    stopped = run_snakemake(tmp_path / "nfcore_stop", nfcore, "results/checked/raw.h5ad", check=False)
    assert stopped.returncode != 0 and "'round_counts: true'" in stopped.stderr
    assert "Traceback" not in stopped.stderr
    nfcore["round_counts"] = True
    done = run_snakemake(tmp_path / "nfcore_run", nfcore, DE_TABLE)
    assert "were rounded (round_counts: true" in done.stderr
    # symbols from the table's gene_name column, counts as rounded
    assert (tmp_path / "nfcore_run" / DE_TABLE).read_bytes() == (reference / DE_TABLE).read_bytes()
    adata = ad.read_h5ad(tmp_path / "nfcore_run/results/checked/raw.h5ad")
    np.testing.assert_array_equal(adata.layers["counts"], counts.T.to_numpy())
