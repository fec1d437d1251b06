"""Agreement between this workflow's DE results and R DESeq2's on the same inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if (a | b) else 1.0


def agreement(
    ours: pd.DataFrame,
    r_results: pd.DataFrame,
    our_size_factors: pd.Series,
    r_size_factors: pd.Series,
    alpha: float,
) -> pd.DataFrame:
    """Metric/value table: log2FC correlation, overlap of padj < alpha calls, size factors.

    ours: the workflow's table (column gene_id); r_results: indexed by gene ID.
    """
    ours = ours.set_index("gene_id")
    genes = ours.index.intersection(r_results.index)
    both = ours.loc[genes, "log2FoldChange"].notna() & r_results.loc[genes, "log2FoldChange"].notna()
    lfc_ours = ours.loc[genes[both], "log2FoldChange"].to_numpy(dtype=float)
    lfc_r = r_results.loc[genes[both], "log2FoldChange"].to_numpy(dtype=float)
    called_ours = set(genes[(ours.loc[genes, "padj"] < alpha).to_numpy()])
    called_r = set(genes[(r_results.loc[genes, "padj"] < alpha).to_numpy()])
    sf_ours = our_size_factors.reindex(r_size_factors.index).to_numpy(dtype=float)
    sf_r = r_size_factors.to_numpy(dtype=float)
    rows = [
        ("genes_compared", len(genes)),
        ("log2fc_pearson", float(np.corrcoef(lfc_ours, lfc_r)[0, 1]) if len(lfc_r) > 1 else np.nan),
        ("log2fc_max_abs_difference", float(np.max(np.abs(lfc_ours - lfc_r))) if len(lfc_r) else np.nan),
        (f"called_padj_lt_{alpha}_workflow", len(called_ours)),
        (f"called_padj_lt_{alpha}_r", len(called_r)),
        ("called_both", len(called_ours & called_r)),
        ("called_only_workflow", len(called_ours - called_r)),
        ("called_only_r", len(called_r - called_ours)),
        ("called_jaccard", jaccard(called_ours, called_r)),
        ("size_factor_max_relative_difference", float(np.max(np.abs(sf_ours / sf_r - 1)))),
        ("padj_na_workflow", int(ours.loc[genes, "padj"].isna().sum())),
        ("padj_na_r", int(r_results.loc[genes, "padj"].isna().sum())),
    ]
    return pd.DataFrame(rows, columns=["metric", "value"])
