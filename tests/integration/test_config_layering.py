"""A user's data paths are the user's: nothing of the example leaks into their run.

Runs snakemake up to the checked inputs (rules design_audit and check_inputs).
"""

import dataclasses

import anndata as ad
import pytest

from .conftest import run_snakemake, write_cohort

pytestmark = pytest.mark.integration

TARGET = "results/checked/raw.h5ad"


@pytest.fixture(scope="module")
def user_files(small_cohort, tmp_path_factory):
    """The small cohort twice: with its human Ensembl IDs, and with IDs of another
    kind (as a non-human or custom annotation would have). No annotation key."""
    base = tmp_path_factory.mktemp("layering")
    human = write_cohort(small_cohort, base / "human")
    other = small_cohort.counts.rename(index=lambda gene: "gene_" + gene[4:])
    custom = write_cohort(dataclasses.replace(small_cohort, counts=other), base / "custom")
    return (
        {key: human[key] for key in ("counts", "samples")},
        {key: custom[key] for key in ("counts", "samples")},
    )


def test_no_annotation_key_means_no_annotation_not_the_examples(user_files, tmp_path):
    _, custom = user_files
    # The example's annotation maps none of these IDs: had it leaked in, check_inputs
    # would stop with "maps none of the gene IDs".
    run_snakemake(tmp_path, custom, TARGET)
    adata = ad.read_h5ad(tmp_path / TARGET)
    assert (adata.var["symbol"] == adata.var_names).all()
    log = (tmp_path / "logs/check_inputs.log").read_text()
    assert "the gene IDs are not human Ensembl IDs: the gene IDs are used as symbols" in log


def test_human_ensembl_ids_get_the_shipped_symbols(user_files, tmp_path):
    human, _ = user_files
    run_snakemake(tmp_path, human, TARGET)
    adata = ad.read_h5ad(tmp_path / TARGET)
    symbols = set(adata.var["symbol"])
    assert {"IL6", "CDH1", "PDX1"} <= symbols
    assert (adata.var["symbol"] != adata.var_names).mean() > 0.95
    log = (tmp_path / "logs/check_inputs.log").read_text()
    assert "human Ensembl IDs: symbols from" in log and "human_genes.tsv.gz" in log


def test_a_config_without_counts_stops_with_a_clear_message(user_files, tmp_path):
    human, _ = user_files
    result = run_snakemake(tmp_path, {"samples": human["samples"]}, TARGET, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Invalid input: config: 'counts' missing from" in output, output[-2000:]
    assert "example's are not used" in output and "Traceback" not in output
    assert not (tmp_path / "results").exists()
