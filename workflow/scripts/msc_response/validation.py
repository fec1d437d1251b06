"""Checks on counts, sample sheet, design and contrasts, run before any model is fitted.

Each check raises `InputError` with a message naming the file, the row or column and
the fix. Warnings (things a user should know but that do not stop the run) are
returned as strings, so the caller decides where to log them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import InputError

log = logging.getLogger(__name__)

MAX_LISTED = 5


def _listing(items) -> str:
    items = [str(i) for i in items]
    shown = ", ".join(f"'{i}'" for i in items[:MAX_LISTED])
    more = len(items) - MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


# ---------------------------------------------------------------- design formula


def design_variables(design: str) -> list[str]:
    """Variables a design formula uses, in formula order: '~ batch + source:sex' ->
    ['batch', 'source', 'sex']."""
    from formulaic import Formula

    if not isinstance(design, str) or not design.strip().startswith("~"):
        raise InputError(
            f"config 'design': '{design}' is not a formula. Write it like '~ source + response'."
        )
    try:
        formula = Formula(design)
    except Exception as err:  # formulaic raises several parser exception types
        raise InputError(
            f"config 'design': cannot parse '{design}' ({err}). Write it like '~ source + response'."
        ) from None
    required = formula.required_variables
    ordered = []
    for term in formula:
        for factor in term.factors:
            name = str(factor)
            if name in required and name not in ordered:
                ordered.append(name)
    # Variables used inside transforms such as np.log(age) come last.
    return ordered + sorted(required - set(ordered))


# ---------------------------------------------------------------- sample sheet


def coerce_sample_sheet(
    sheet: pd.DataFrame,
    path: str,
    variables: list[str],
    categorical: list[str] = (),
) -> pd.DataFrame:
    """Check the sheet and give design variables their types.

    A design variable whose values all read as numbers is continuous unless it is
    listed in `categorical`; every other one is categorical. Returns the sheet
    indexed by sample.
    """
    samples = sheet["sample"]
    empty = np.flatnonzero(samples.eq("").to_numpy())
    if len(empty):
        raise InputError(
            f"Sample sheet '{path}', row {empty[0] + 2}: the 'sample' value is empty. "
            f"Give every sample a name that matches its column in the counts file."
        )
    duplicated = samples[samples.duplicated()].unique()
    if len(duplicated):
        raise InputError(
            f"Sample sheet '{path}': sample(s) {_listing(duplicated)} appear more than once "
            f"in column 'sample'. Each sample must have one row."
        )
    missing = [v for v in variables if v not in sheet.columns]
    if missing:
        raise InputError(
            f"config 'design' uses {_listing(missing)}, which the sample sheet '{path}' "
            f"has no column for (columns: {_listing(sheet.columns[1:])}). Add the column "
            f"or change the design."
        )
    sheet = sheet.set_index("sample", drop=False)
    sheet.index.name = None
    for variable in variables:
        values = sheet[variable]
        blank = np.flatnonzero(values.isin(["", "NA", "NaN", "nan", "N/A"]).to_numpy())
        if len(blank):
            raise InputError(
                f"Sample sheet '{path}', row {blank[0] + 2} (sample '{sheet.index[blank[0]]}'): "
                f"design variable '{variable}' is missing. Fill it in, or drop the sample "
                f"from the sheet and the counts."
            )
        numeric = pd.to_numeric(values, errors="coerce")
        if variable not in categorical and numeric.notna().all():
            sheet[variable] = numeric.astype(float)
        else:
            sheet[variable] = pd.Categorical(values, categories=sorted(values.unique()))
    return sheet


def warn_numeric_with_few_values(sheet: pd.DataFrame, variables: list[str]) -> list[str]:
    warnings = []
    for variable in variables:
        column = sheet[variable]
        if pd.api.types.is_float_dtype(column) and column.nunique() <= 3:
            warnings.append(
                f"design variable '{variable}' is numeric with only {column.nunique()} distinct "
                f"values, so it is modelled as a continuous covariate. If it is a label "
                f"(such as batch 1/2/3), list it under 'categorical_variables' in the config."
            )
    return warnings


# ---------------------------------------------------------------- counts


def check_counts(table: pd.DataFrame, path: str) -> pd.DataFrame:
    """Return the counts as int64 after checking every cell is a non-negative integer."""
    if table.shape[0] == 0 or table.shape[1] == 0:
        raise InputError(
            f"Counts file '{path}' has {table.shape[0]} gene rows and {table.shape[1]} "
            f"sample columns: it needs at least one of each."
        )
    index = table.index
    if index.hasnans or (index == "nan").any() or (index == "").any():
        row = int(np.flatnonzero(index.isna() | (index == "nan") | (index == ""))[0])
        raise InputError(
            f"Counts file '{path}', row {row + 2}: the gene ID (first column) is empty."
        )
    if index.has_duplicates:
        duplicated = index[index.duplicated()].unique()
        raise InputError(
            f"Counts file '{path}': gene ID(s) {_listing(duplicated)} appear more than once "
            f"in the first column. Sum or remove the duplicated rows."
        )
    for column in table.columns:
        values = table[column]
        if not pd.api.types.is_numeric_dtype(values):
            numeric = pd.to_numeric(values, errors="coerce")
            bad = np.flatnonzero(numeric.isna().to_numpy() & values.notna().to_numpy())
            if len(bad):
                row = bad[0]
                raise InputError(
                    f"Counts file '{path}', gene '{index[row]}' (row {row + 2}), sample "
                    f"'{column}': '{values.iloc[row]}' is not a number. Counts must be "
                    f"non-negative whole numbers."
                )
            table[column] = numeric
    values = table.to_numpy(dtype=float, copy=False)
    problems = [
        (np.isnan(values), "is missing", "Fill in the count (0 if none were seen)"),
        (values < 0, "is negative", "Counts must be non-negative whole numbers"),
        (
            np.mod(np.nan_to_num(values), 1) != 0,
            "is not a whole number",
            "The workflow needs raw read counts, not normalised values, TPM or "
            "estimated counts; round estimated counts (e.g. tximport) or supply raw counts",
        ),
    ]
    for mask, what, fix in problems:
        rows, cols = np.nonzero(mask)
        if len(rows):
            row, col = rows[0], cols[0]
            raise InputError(
                f"Counts file '{path}', gene '{index[row]}' (row {row + 2}), sample "
                f"'{table.columns[col]}': the count {'' if what == 'is missing' else f'{values[row, col]:g} '}"
                f"{what} ({len(rows)} cell(s) in all). {fix}."
            )
    counts = pd.DataFrame(
        values.astype(np.int64), index=table.index, columns=table.columns
    )
    all_zero = counts.columns[(counts.to_numpy() == 0).all(axis=0)]
    if len(all_zero):
        raise InputError(
            f"Counts file '{path}': sample(s) {_listing(all_zero)} have zero counts for every "
            f"gene. Remove them from the counts and the sample sheet (a failed library?)."
        )
    return counts


def match_samples(
    counts: pd.DataFrame,
    sheet: pd.DataFrame,
    counts_path: str,
    sheet_path: str,
    extra_columns: str = "drop",
) -> tuple[pd.DataFrame, list[str]]:
    """Put the counts' columns in the sheet's sample order.

    Samples in the sheet must all have counts. Count columns not in the sheet are
    dropped with a warning (`extra_columns='drop'`) or are an error ('error').
    """
    warnings = []
    missing = [s for s in sheet.index if s not in counts.columns]
    if missing:
        raise InputError(
            f"Sample sheet '{sheet_path}' lists sample(s) {_listing(missing)} that have no "
            f"column in counts file '{counts_path}' (its columns: {_listing(counts.columns)}). "
            f"Fix the names so they match exactly, or remove the rows from the sheet."
        )
    extra = [c for c in counts.columns if c not in sheet.index]
    if extra:
        message = (
            f"Counts file '{counts_path}' has column(s) {_listing(extra)} that are not in "
            f"sample sheet '{sheet_path}'"
        )
        if extra_columns == "error":
            raise InputError(
                message + ". Add them to the sheet, remove them from the counts, or set "
                "'extra_count_columns: drop' in the config."
            )
        warnings.append(message + "; they are left out of the analysis.")
    return counts[list(sheet.index)], warnings


# ---------------------------------------------------------------- design and contrasts


@dataclass
class Contrast:
    name: str
    variable: str
    test: str
    reference: str

    def as_list(self) -> list[str]:
        return [self.variable, self.test, self.reference]


def parse_contrasts(contrasts: dict) -> list[Contrast]:
    return [
        Contrast(name, spec["variable"], str(spec["test"]), str(spec["reference"]))
        for name, spec in contrasts.items()
    ]


def check_design(
    sheet: pd.DataFrame,
    design: str,
    contrasts: list[Contrast],
    sheet_path: str,
) -> list[str]:
    """Check the contrasts against the design and the sheet, and the design for rank.

    Returns warnings. Raises InputError for a contrast that cannot be estimated.
    """
    variables = design_variables(design)
    for contrast in contrasts:
        where = f"config 'contrasts: {contrast.name}'"
        if contrast.variable not in variables:
            raise InputError(
                f"{where}: variable '{contrast.variable}' is not in the design '{design}'. "
                f"Add it to the design."
            )
        column = sheet[contrast.variable]
        if not isinstance(column.dtype, pd.CategoricalDtype):
            raise InputError(
                f"{where}: variable '{contrast.variable}' is numeric in sample sheet "
                f"'{sheet_path}'; a contrast compares two levels of a categorical variable. "
                f"List it under 'categorical_variables' if its numbers are labels."
            )
        for role in ("test", "reference"):
            level = getattr(contrast, role)
            if level not in column.cat.categories:
                raise InputError(
                    f"{where}: {role} level '{level}' does not occur in column "
                    f"'{contrast.variable}' of sample sheet '{sheet_path}' (levels: "
                    f"{_listing(column.cat.categories)})."
                )
        if contrast.test == contrast.reference:
            raise InputError(f"{where}: test and reference are both '{contrast.test}'.")
    for variable in variables:
        column = sheet[variable]
        if isinstance(column.dtype, pd.CategoricalDtype):
            sizes = column.value_counts()
            if len(sizes) < 2:
                raise InputError(
                    f"Design variable '{variable}' has a single level "
                    f"('{sizes.index[0]}') in sample sheet '{sheet_path}', so it explains "
                    f"nothing. Remove it from the design."
                )
            lonely = sizes[sizes < 2]
            if len(lonely):
                raise InputError(
                    f"Design variable '{variable}': level(s) {_listing(lonely.index)} have "
                    f"fewer than two samples in sample sheet '{sheet_path}'. Without replicates "
                    f"the dispersion cannot be estimated; merge or drop that level."
                )
    check_full_rank(sheet, design)
    return []


def design_matrix(sheet: pd.DataFrame, design: str) -> pd.DataFrame:
    from formulaic import model_matrix

    return model_matrix(design, sheet)


def check_full_rank(sheet: pd.DataFrame, design: str) -> None:
    matrix = design_matrix(sheet, design)
    rank = np.linalg.matrix_rank(matrix.to_numpy(dtype=float))
    if rank < matrix.shape[1]:
        # Name the columns that are linear combinations of earlier ones.
        dependent, kept = [], []
        values = matrix.to_numpy(dtype=float)
        for i, name in enumerate(matrix.columns):
            if np.linalg.matrix_rank(values[:, kept + [i]]) == len(kept) + 1:
                kept.append(i)
            else:
                dependent.append(name)
        raise InputError(
            f"The design '{design}' is not full rank: column(s) {_listing(dependent)} of its "
            f"model matrix are determined by the others (a variable confounded with another, "
            f"or a level combination with no samples). Remove one of the confounded "
            f"variables from the design or add samples that separate them."
        )
    if matrix.shape[0] <= matrix.shape[1]:
        raise InputError(
            f"The design '{design}' has {matrix.shape[1]} coefficients for "
            f"{matrix.shape[0]} samples: no degrees of freedom are left to estimate "
            f"dispersions. Simplify the design."
        )


def order_reference_first(sheet: pd.DataFrame, contrast: Contrast) -> pd.DataFrame:
    """Make the contrast's reference the first level, so the contrast is one
    coefficient of the model (LFC shrinkage works on a single coefficient)."""
    sheet = sheet.copy()
    column = sheet[contrast.variable]
    levels = [contrast.reference] + [c for c in column.cat.categories if c != contrast.reference]
    sheet[contrast.variable] = column.cat.reorder_categories(levels)
    return sheet


@dataclass
class CheckedInputs:
    counts: pd.DataFrame  # genes x samples, int64, in sheet order
    sheet: pd.DataFrame  # indexed by sample, design variables typed
    warnings: list[str] = field(default_factory=list)
