"""End to end on the count inputs labs hold besides one count table: STAR
ReadsPerGene.out.tab and HTSeq-count files per sample, and nf-core/rnaseq's merged
table of estimated counts with a gene_name column (round_counts).

Each is made from the small simulated cohort's counts, which the checked dataset must
hold exactly (everything after it is the count table's path, tested elsewhere).
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from .conftest import run_snakemake, write_cohort

pytestmark = pytest.mark.integration

CHECKED = "results/checked/raw.h5ad"


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


def test_star_files_to_the_qc_table(small_cohort, tmp_path):
    """STAR files (relative paths beside the sheet, reverse strand) give the cohort's
    counts; their N_* rows reach the QC table, through the workflow's own jobs."""
    config = write_cohort(small_cohort, tmp_path / "input")
    files = write_star_files(small_cohort.counts, tmp_path / "star")
    config.update(
        counts=None,
        samples=sheet_with(config, "star", files, tmp_path / "star"),
        count_files={"column": "star", "format": "star", "strand": "reverse"},
    )
    result = run_snakemake(tmp_path / "run", config, "results/qc/samples_qc.tsv")
    assert "strandedness" not in result.stderr
    adata = ad.read_h5ad(tmp_path / "run" / CHECKED)
    np.testing.assert_array_equal(adata.layers["counts"], small_cohort.counts.T.to_numpy())
    assert list(adata.var_names) == list(small_cohort.counts.index)
    qc = pd.read_csv(tmp_path / "run/results/qc/samples_qc.tsv", sep="\t")
    assert (qc["unassigned_multimapping"] == 900).all()
    assert qc["unassigned_no_feature"].between(300, 399).all()  # the reverse column's
    assert qc.columns[-1] == "flag_reason"


def test_htseq_files_and_nfcore_table(small_cohort, tmp_path):
    counts = small_cohort.counts
    config = write_cohort(small_cohort, tmp_path / "input")
    # HTSeq-count, one file per sample (absolute paths)
    htseq = {
        **config,
        "counts": None,
        "samples": sheet_with(config, "htseq", write_htseq_files(counts, tmp_path / "htseq"), tmp_path / "htseq"),
        "count_files": {"column": "htseq", "format": "htseq"},
    }
    run_snakemake(tmp_path / "htseq_run", htseq, CHECKED)
    adata = ad.read_h5ad(tmp_path / "htseq_run" / CHECKED)
    np.testing.assert_array_equal(adata.layers["counts"], counts.T.to_numpy())
    assert adata.obs["unassigned_no_feature"].tolist() == list(range(1000, 1000 + counts.shape[1]))
    assert (adata.obs["unassigned_alignment_not_unique"] == 310).all()

    # nf-core/rnaseq's merged table: gene_id, gene_name, estimated counts
    rng = np.random.default_rng(5)
    estimated = counts + rng.uniform(-0.45, 0.45, size=counts.shape) * (counts > 0)
    annotation = pd.read_csv(config["annotation"], sep="\t", index_col=0).iloc[:, 0]
    estimated.insert(0, "gene_name", annotation.reindex(counts.index).to_numpy())
    table = tmp_path / "salmon.merged.gene_counts_length_scaled.tsv"
    estimated.to_csv(table, sep="\t", index_label="gene_id", float_format="%.3f")
    nfcore = {"counts": str(table), "samples": config["samples"], "annotation": None}
    stopped = run_snakemake(tmp_path / "nfcore_stop", nfcore, CHECKED, check=False)
    assert stopped.returncode != 0 and "'round_counts: true'" in stopped.stderr
    assert "Traceback" not in stopped.stderr
    nfcore["round_counts"] = True
    done = run_snakemake(tmp_path / "nfcore_run", nfcore, CHECKED)
    assert "were rounded (round_counts: true" in done.stderr
    adata = ad.read_h5ad(tmp_path / "nfcore_run" / CHECKED)
    np.testing.assert_array_equal(adata.layers["counts"], counts.T.to_numpy())
    # symbols from the table's gene_name column
    expected = annotation.reindex(counts.index)
    named = expected.notna().to_numpy()
    assert (adata.var["symbol"].to_numpy()[named] == expected.to_numpy()[named]).all()
