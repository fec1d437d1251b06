import numpy as np
import pandas as pd
import pytest

from msc_response.de.crosscheck import agreement, jaccard


def test_agreement_figures():
    ours = pd.DataFrame(
        {
            "gene_id": ["a", "b", "c", "d"],
            "log2FoldChange": [1.0, -2.0, 0.5, np.nan],
            "padj": [0.01, 0.02, 0.5, np.nan],
        }
    )
    r = pd.DataFrame(
        {"log2FoldChange": [1.1, -2.1, 0.4, 0.0], "padj": [0.01, 0.2, 0.5, 0.9]},
        index=["a", "b", "c", "d"],
    )
    sf = pd.Series([1.0, 2.0], index=["s1", "s2"])
    table = agreement(ours, r, sf, sf * 1.01, alpha=0.05).set_index("metric")["value"]
    assert table["genes_compared"] == 4
    assert table["called_both"] == 1 and table["called_only_workflow"] == 1
    assert table["called_jaccard"] == pytest.approx(0.5)
    assert table["log2fc_pearson"] == pytest.approx(np.corrcoef([1, -2, 0.5], [1.1, -2.1, 0.4])[0, 1])
    assert abs(table["size_factor_max_relative_difference"] - abs(1 / 1.01 - 1)) < 1e-12


def test_jaccard_of_two_empty_sets_is_one():
    assert jaccard(set(), set()) == 1.0
