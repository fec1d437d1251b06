"""Whether a design can be fitted at all: every level replicated, a full-rank model
matrix, residual degrees of freedom left for the dispersions.

Problems found here stop the run, but only after rule design_audit has written
results/qc/design_audit.tsv, which describes them (samples per level and
combination); rule check_inputs raises them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_response.common.errors import InputError, listing
from msc_response.design.audit import confounded_pairs
from msc_response.design.contrasts import Contrast, check_contrasts
from msc_response.design.formula import design_matrix, design_variables


def design_problems(sheet: pd.DataFrame, design: str, sheet_path: str) -> list[str]:
    """What is wrong with the design's structure, as messages (empty if nothing is).

    These problems stop the run, but the design audit can still describe them, so
    the workflow reports them after writing results/qc/design_audit.tsv.
    """
    problems = []
    variables = design_variables(design)
    for variable in variables:
        column = sheet[variable]
        if isinstance(column.dtype, pd.CategoricalDtype):
            sizes = column.value_counts().sort_index()
            if len(sizes) < 2:
                problems.append(
                    f"Design variable '{variable}' has a single level "
                    f"('{sizes.index[0]}') in sample sheet '{sheet_path}', so it explains "
                    f"nothing. Remove it from the design."
                )
                continue
            lonely = sizes[sizes < 2]
            if len(lonely):
                problems.append(
                    f"Design variable '{variable}': level(s) {listing(lonely.index)} have "
                    f"fewer than two samples in sample sheet '{sheet_path}' (samples per "
                    f"level: {', '.join(f'{k}={v}' for k, v in sizes.items())}). Without "
                    f"replicates the level's effect cannot be told from noise; merge or drop "
                    f"that level."
                )
        elif sheet[variable].nunique() < 2:
            problems.append(
                f"Design variable '{variable}' has the same value for every sample in sample "
                f"sheet '{sheet_path}', so it explains nothing. Remove it from the design."
            )
    if problems:
        return problems
    rank_problem = full_rank_problem(sheet, design)
    return [rank_problem] if rank_problem else []


def check_design(
    sheet: pd.DataFrame,
    design: str,
    contrasts: list[Contrast],
    sheet_path: str,
) -> list[str]:
    """Check the contrasts against the design and the sheet, and the design for rank.

    Returns warnings. Raises InputError for a contrast that cannot be estimated.
    """
    check_contrasts(sheet, design, contrasts, sheet_path)
    problems = design_problems(sheet, design, sheet_path)
    if problems:
        raise InputError(problems[0])
    return []


def full_rank_problem(sheet: pd.DataFrame, design: str) -> str | None:
    """A message if the design's model matrix is not full rank or leaves no residual
    degrees of freedom; the message names the confounded variables."""

    matrix = design_matrix(sheet, design)
    values = matrix.to_numpy(dtype=float)
    rank = np.linalg.matrix_rank(values)
    if rank < matrix.shape[1]:
        # Name the columns that are linear combinations of earlier ones.
        dependent, kept = [], []
        for i, name in enumerate(matrix.columns):
            if np.linalg.matrix_rank(values[:, kept + [i]]) == len(kept) + 1:
                kept.append(i)
            else:
                dependent.append(name)
        pairs = confounded_pairs(sheet, design_variables(design))
        if pairs:
            why = "; ".join(pairs)
            fix = (
                "Remove one of the confounded variables from the design, or add samples "
                "that separate them: their effects cannot be told apart."
            )
        else:
            why = (
                f"column(s) {listing(dependent)} of its model matrix are determined by the "
                f"others (a combination of levels with no samples, or a variable that is a "
                f"combination of others)"
            )
            fix = "Simplify the design (drop an interaction or a variable) or add samples."
        return (
            f"The design '{design}' is not full rank: {why}. {fix} See the design audit "
            f"(results/qc/design_audit.tsv) for samples per level and combination."
        )
    if matrix.shape[0] <= matrix.shape[1]:
        return (
            f"The design '{design}' has {matrix.shape[1]} coefficients for "
            f"{matrix.shape[0]} samples: no residual degrees of freedom are left to "
            f"estimate dispersions. Simplify the design (fewer covariates or levels) or "
            f"add samples."
        )
    return None


def check_full_rank(sheet: pd.DataFrame, design: str) -> None:
    problem = full_rank_problem(sheet, design)
    if problem:
        raise InputError(problem)
