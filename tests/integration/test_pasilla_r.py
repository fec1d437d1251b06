"""The workflow on real data (pasilla, Brooks et al. 2011) agrees with R DESeq2.

Runs the whole workflow with the R cross-check rule switched on; R DESeq2 sees the
same pre-filtered counts and design.
"""

import pandas as pd
import pytest

from .conftest import run_snakemake

pytestmark = [pytest.mark.integration, pytest.mark.needs_r]


@pytest.fixture(scope="module")
def pasilla_files(tmp_path_factory):
    from inmoose.data.pasilla import pasilla

    from msc_response.common.tables import write_table

    adata = pasilla()
    directory = tmp_path_factory.mktemp("pasilla")
    counts = pd.DataFrame(adata.X.T, index=adata.var_names, columns=adata.obs_names)
    counts.index.name = "gene_id"
    write_table(counts, directory / "counts.tsv", index=True)
    sheet = adata.obs[["condition", "type"]].rename_axis("sample").reset_index()
    sheet["type"] = sheet["type"].str.replace("-", "_")
    write_table(sheet, directory / "samples.tsv")
    return directory


@pytest.mark.parametrize("design", ["~ condition", "~ type + condition"])
def test_workflow_matches_r_deseq2_on_pasilla(pasilla_files, tmp_path, design):
    config = {
        "counts": str(pasilla_files / "counts.tsv"),
        "samples": str(pasilla_files / "samples.tsv"),
        "annotation": None,
        "design": design,
        "contrasts": {
            "treated_vs_untreated": {
                "variable": "condition",
                "test": "treated",
                "reference": "untreated",
            }
        },
        "crosscheck_r": {"enabled": True},
    }
    run_snakemake(tmp_path, config, "results/crosscheck/treated_vs_untreated.tsv")
    figures = pd.read_csv(
        tmp_path / "results/crosscheck/treated_vs_untreated.tsv", sep="\t", index_col="metric"
    )["value"]
    assert figures["genes_compared"] > 8000
    assert figures["size_factor_max_relative_difference"] < 1e-6
    assert figures["log2fc_pearson"] >= 0.999, figures.to_dict()
    assert figures["called_jaccard"] >= 0.95, figures.to_dict()
    assert figures["called_padj_lt_0.05_r"] > 400
