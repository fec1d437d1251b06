"""Cell-population composition across donors (single_cell.group_by): cells per sample
and population, each population's share of its sample, and a test of the shares
between the groups of each two-level contrast.

The test is the propeller approach (Phipson et al. 2022, speckle): the per-sample
proportions are arcsine-square-root transformed and fitted per population with a
linear model of the workflow's own design (so the covariates the DE adjusts for are
adjusted for here too); the contrast's coefficient is tested with a t-test on the
residual degrees of freedom, and p-values are adjusted across populations
(Benjamini-Hochberg) within each contrast. The donors, not the cells, are the
replicates: a population that only one group has shows as a large shift in share
with a p-value that reflects the number of donors. Unlike propeller, the variances
are not moderated with limma's empirical Bayes, which needs many more populations
than the two to ten a group_by column usually holds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from msc_response.design.contrasts import Contrast
from msc_response.design.formula import design_matrix

COMPOSITION_COLUMNS = [
    "contrast", "population", "mean_share_test", "mean_share_reference",
    "share_difference", "samples_with_cells_test", "samples_with_cells_reference",
    "statistic", "df", "pvalue", "padj",
]


def shares(cells: pd.DataFrame) -> pd.DataFrame:
    """Each population's share of its sample's cells (rows sum to 1; a sample without
    cells, which the single-cell input does not allow, would be all NaN)."""
    totals = cells.sum(axis=1).replace(0, np.nan)
    return cells.div(totals, axis=0)


def cells_table(cells: pd.DataFrame, min_cells: int) -> pd.DataFrame:
    """Long table of cells per sample and population, the share, and whether the pair
    has enough cells to enter the population's DE (single_cell.min_cells)."""
    share = shares(cells)
    table = cells.stack().rename("n_cells").to_frame()
    table["share"] = share.stack()
    table["in_population_de"] = table["n_cells"] >= min_cells
    table.index.names = ["sample", "population"]
    return table.reset_index()


def bh(pvalues: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values; NaN stays NaN and is not counted."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    if not len(ok):
        return out
    order = ok[np.argsort(p[ok])]
    m = len(order)
    ranked = p[order] * m / np.arange(1, m + 1)
    out[order] = np.minimum(1, np.minimum.accumulate(ranked[::-1])[::-1])
    return out


def _test_column(sheet: pd.DataFrame, design: str, contrast: Contrast) -> tuple[np.ndarray, int]:
    """The model matrix with the contrast's reference level as baseline, and the index
    of the column that is the test-vs-reference coefficient."""
    typed = sheet.copy()
    column = typed[contrast.variable]
    levels = [contrast.reference] + [c for c in column.cat.categories if c != contrast.reference]
    typed[contrast.variable] = column.cat.reorder_categories(levels)
    matrix = design_matrix(typed, design)
    indicator = (typed[contrast.variable].astype(str) == contrast.test).to_numpy(float)
    values = matrix.to_numpy(dtype=float)
    matches = [i for i in range(values.shape[1]) if np.array_equal(values[:, i], indicator)]
    return values, matches[-1]


def composition_test(
    cells: pd.DataFrame, sheet: pd.DataFrame, design: str, contrast: Contrast
) -> pd.DataFrame:
    """One row per population: the mean share in each group, and the propeller test
    of the shares between the contrast's groups (see the module docstring)."""
    sheet = sheet.loc[[s for s in sheet.index if str(s) in set(cells.index)]]
    share = shares(cells).reindex([str(s) for s in sheet.index])
    is_test = (sheet[contrast.variable].astype(str) == contrast.test).to_numpy()
    is_ref = (sheet[contrast.variable].astype(str) == contrast.reference).to_numpy()
    X, coef = _test_column(sheet, design, contrast)
    n, rank = X.shape[0], np.linalg.matrix_rank(X)
    df = n - rank
    rows = []
    for population in share.columns:
        y = np.arcsin(np.sqrt(share[population].to_numpy(dtype=float)))
        statistic = pvalue = np.nan
        if df > 0 and rank == X.shape[1]:
            beta, *_ = np.linalg.lstsq(X, y, rcond=None)
            residual = y - X @ beta
            sigma2 = residual @ residual / df
            se = np.sqrt(sigma2 * np.linalg.inv(X.T @ X)[coef, coef])
            if se > 0:
                statistic = beta[coef] / se
                pvalue = 2 * stats.t.sf(abs(statistic), df)
        counts = cells[population].reindex(share.index).to_numpy()
        rows.append(
            {
                "contrast": contrast.name,
                "population": population,
                "mean_share_test": share[population].to_numpy()[is_test].mean(),
                "mean_share_reference": share[population].to_numpy()[is_ref].mean(),
                "samples_with_cells_test": int((counts[is_test] > 0).sum()),
                "samples_with_cells_reference": int((counts[is_ref] > 0).sum()),
                "statistic": statistic,
                "df": df,
                "pvalue": pvalue,
            }
        )
    table = pd.DataFrame(rows)
    table["share_difference"] = table["mean_share_test"] - table["mean_share_reference"]
    table["padj"] = bh(table["pvalue"].to_numpy())
    return table[COMPOSITION_COLUMNS]


def composition_tests(cells, sheet, design, contrasts: list[Contrast]) -> pd.DataFrame:
    """`composition_test` for every contrast of two levels of a variable (kind wald;
    a contrast within a level or on a continuous variable has no two groups of
    donors to compare shares between)."""
    tables = [composition_test(cells, sheet, design, c) for c in contrasts if c.kind == "wald"]
    if not tables:
        return pd.DataFrame(columns=COMPOSITION_COLUMNS)
    return pd.concat(tables, ignore_index=True)
