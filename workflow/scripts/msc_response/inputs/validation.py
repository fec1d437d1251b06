"""Checks on the sample sheet and the counts, run before any model is fitted (the
config's are in `common.config`, the design's and contrasts' in `design/`).

Each check raises `InputError` with a message naming the file, the row or column and
the fix. Warnings (things a user should know but that do not stop the run) are
returned as strings, so the caller decides where to log them.

Where the checks run: the config, sample sheet, contrasts and design at parse time
(workflow/rules/common.smk), except the problems of the design's structure (not full
rank, no residual degrees of freedom, a level without replicates), which rule
check_inputs raises after rule design_audit has written results/qc/design_audit.tsv;
the counts in rule check_inputs.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from msc_response.common.errors import InputError, closest, did_you_mean, listing
from msc_response.design.contrasts import check_contrasts, parse_contrasts
from msc_response.design.formula import design_variables
from msc_response.design.structure import design_problems
from msc_response.inputs.readers import MISSING_VALUES, read_sample_sheet

log = logging.getLogger(__name__)


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
    if len(samples) == 0:
        raise InputError(
            f"Sample sheet '{path}' has a header but no samples. Add one row per sample."
        )
    empty = np.flatnonzero(samples.eq("").to_numpy())
    if len(empty):
        raise InputError(
            f"Sample sheet '{path}', row {empty[0] + 2}: the 'sample' value is empty. "
            f"Give every sample a name that matches its column in the counts file."
        )
    spaced = np.flatnonzero(samples.str.contains(r"\s", regex=True).to_numpy())
    if len(spaced):
        row = spaced[0]
        suggestion = re.sub(r"\s+", "_", samples.iloc[row])
        raise InputError(
            f"Sample sheet '{path}', row {row + 2}: sample name '{samples.iloc[row]}' contains "
            f"a space ({len(spaced)} name(s) in all). Sample names become column names and "
            f"file names: replace spaces, e.g. by '_' ('{suggestion}'), in the sheet and in "
            f"the counts file's header alike."
        )
    duplicated = samples[samples.duplicated()].unique()
    if len(duplicated):
        rows = np.flatnonzero(samples.eq(duplicated[0]).to_numpy()) + 2
        raise InputError(
            f"Sample sheet '{path}': sample(s) {listing(duplicated)} appear more than once "
            f"in column 'sample' ('{duplicated[0]}' on rows {', '.join(map(str, rows))}). "
            f"Each sample must have one row."
        )
    missing = [v for v in variables if v not in sheet.columns]
    if missing:
        hints = "".join(did_you_mean(v, sheet.columns[1:]) for v in missing[:1])
        odd = [c for c in sheet.columns[1:] if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", c)]
        if odd:
            hints += (
                f". Column names with spaces or symbols ({listing(odd)}) must be renamed "
                f"(letters, digits, '_') or written in backticks in the formula"
            )
        raise InputError(
            f"config 'design' uses {listing(missing)}, which the sample sheet '{path}' "
            f"has no column for{hints} (columns: {listing(sheet.columns[1:])}). Add the "
            f"column or change the design."
        )
    unknown_categorical = [c for c in categorical if c not in sheet.columns]
    if unknown_categorical:
        raise InputError(
            f"config 'categorical_variables' lists {listing(unknown_categorical)}, which "
            f"sample sheet '{path}' has no column for"
            f"{did_you_mean(unknown_categorical[0], sheet.columns[1:])}."
        )
    sheet = sheet.set_index("sample", drop=False)
    sheet.index.name = None
    for variable in variables:
        values = sheet[variable]
        blank = np.flatnonzero(values.isin(MISSING_VALUES).to_numpy())
        if len(blank):
            raise InputError(
                f"Sample sheet '{path}', row {blank[0] + 2} (sample '{sheet.index[blank[0]]}'): "
                f"design variable '{variable}' is missing ('{values.iloc[blank[0]]}'; "
                f"{len(blank)} sample(s) in all). Fill it in, or drop the sample from the "
                f"sheet and the counts."
            )
        numeric = pd.to_numeric(values, errors="coerce")
        if variable not in categorical and numeric.notna().all():
            sheet[variable] = numeric.astype(float)
            continue
        if variable not in categorical and numeric.notna().mean() >= 0.8 and numeric.nunique() > 3:
            # Mostly numbers: a typo (age '6O'), not a label column.
            row = int(np.flatnonzero(numeric.isna().to_numpy())[0])
            raise InputError(
                f"Sample sheet '{path}', row {row + 2} (sample '{sheet.index[row]}'): "
                f"'{values.iloc[row]}' in column '{variable}' is not a number, but most of "
                f"the column is. Fix the value, or list '{variable}' under "
                f"'categorical_variables' if the column holds labels."
            )
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


def warn_level_typos(sheet: pd.DataFrame, variables: list[str], path: str) -> list[str]:
    """Levels that differ only in case, spaces, '-' or '_' ('Responder' and 'responder')
    are probably one level typed two ways."""
    warnings = []
    for variable in variables:
        column = sheet[variable]
        if not isinstance(column.dtype, pd.CategoricalDtype):
            continue
        groups: dict[str, list[str]] = {}
        for level in column.cat.categories:
            groups.setdefault(re.sub(r"[\s_-]+", "", str(level)).lower(), []).append(level)
        for same in (g for g in groups.values() if len(g) > 1):
            warnings.append(
                f"sample sheet '{path}', column '{variable}': levels {listing(same)} differ "
                f"only in case, spaces or '-'/'_', and are treated as different levels. "
                f"Write them the same way if they are one level."
            )
    return warnings


# ---------------------------------------------------------------- counts


# What to do with estimated (fractional) counts: both ways forward.
FRACTIONAL_FIX = (
    "The workflow needs raw read counts, not normalised values, TPM or estimated "
    "counts. For estimated counts of salmon, kallisto or RSEM (such as nf-core/rnaseq's "
    "salmon.merged.gene_counts.tsv), best give the quantification files themselves in a "
    "'quantifications:' block of the config (see config/README.md), so that tximport's "
    "transcript-length offsets enter the model; or, for a table that is already "
    "length-scaled (nf-core/rnaseq's salmon.merged.gene_counts_length_scaled.tsv), set "
    "'round_counts: true' to round it to whole numbers"
)


def check_counts(
    table: pd.DataFrame,
    path: str,
    round_counts: bool = False,
    warnings: list[str] | None = None,
) -> pd.DataFrame:
    """Return the counts as int64 after checking every cell is a non-negative integer.

    With `round_counts`, fractional counts (a length-scaled table of estimated counts)
    are rounded half to even, as R's round() in DESeqDataSetFromTximport, and a note
    saying how many cells were rounded is appended to `warnings`.

    Memory: when pandas parsed every column as int64 (the usual case), the checks run
    on the parsed matrix itself and it is returned without a copy; only a table with
    text or decimal cells goes through one float copy.
    """
    if table.shape[0] == 0 or table.shape[1] == 0:
        raise InputError(
            f"Counts file '{path}' has {table.shape[0]} gene rows and {table.shape[1]} "
            f"sample columns: it needs at least one of each (genes as rows, the gene ID "
            f"first, then one column per sample)."
        )
    index = table.index
    if index.hasnans or (index == "nan").any() or (index == "").any():
        row = int(np.flatnonzero(index.isna() | (index == "nan") | (index == ""))[0])
        raise InputError(
            f"Counts file '{path}', row {row + 2}: the gene ID (first column) is empty or NA. "
            f"Every row needs a gene ID."
        )
    if index.has_duplicates:
        duplicated = index[index.duplicated()].unique()
        rows = np.flatnonzero(index == duplicated[0]) + 2
        raise InputError(
            f"Counts file '{path}': gene ID(s) {listing(duplicated)} appear more than once "
            f"in the first column ('{duplicated[0]}' on rows {', '.join(map(str, rows[:5]))}; "
            f"{len(duplicated)} ID(s) in all). Sum or remove the duplicated rows."
        )
    for column in table.columns:
        values = table[column]
        if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
            table[column] = _numeric_column(values, column, index, path)
    kinds = {dtype.kind for dtype in table.dtypes}
    if kinds <= {"i", "u"}:
        values = table.to_numpy()  # a view of the parsed block, no copy
        if values.min() < 0:
            _report_cells(values < 0, "is negative", "Counts must be non-negative whole numbers", table, values, path)
        counts = table if kinds == {"i"} and (table.dtypes == np.int64).all() else table.astype(np.int64)
    else:
        values = table.to_numpy(dtype=float)
        fractional = np.zeros(values.shape, dtype=bool)
        np.not_equal(np.mod(values, 1, where=np.isfinite(values), out=np.zeros_like(values)), 0, out=fractional)
        fractional |= np.isinf(values)
        fractional &= ~np.isnan(values)
        problems = [
            (np.isnan(values), "is missing", "Fill in the count (0 if none were seen)"),
            (values < 0, "is negative", "Counts must be non-negative whole numbers"),
        ]
        if round_counts:
            problems.append((np.isinf(values), "is infinite", "Counts must be finite"))
        else:
            problems.append((fractional, "is not a whole number", FRACTIONAL_FIX))
        for mask, what, fix in problems:
            if mask.any():
                _report_cells(mask, what, fix, table, values, path)
        if round_counts:
            _round_counts(values, fractional, path, warnings)
        counts = pd.DataFrame(values.astype(np.int64), index=table.index, columns=table.columns)
        del values
    all_zero = counts.columns[~counts.to_numpy().any(axis=0)]
    if len(all_zero):
        raise InputError(
            f"Counts file '{path}': sample(s) {listing(all_zero)} have zero counts for every "
            f"gene. Remove them from the counts and the sample sheet (a failed library?)."
        )
    return counts


def _round_counts(values: np.ndarray, fractional: np.ndarray, path: str, warnings) -> None:
    """Round `values` in place (half to even, as R's round) and say so."""
    n = int(fractional.sum())
    if not n:
        log.info("round_counts: the counts in '%s' are whole numbers already", path)
        return
    rounded = np.rint(values)
    change = float(np.abs(rounded - values).max())
    values[...] = rounded
    message = (
        f"Counts file '{path}': {n:,} of {values.size:,} counts were not whole numbers and "
        f"were rounded (round_counts: true; largest change {change:.3g}). Rounding suits a "
        f"length-scaled table of estimated counts; for salmon, kallisto or RSEM output the "
        f"'quantifications:' block, with tximport's offsets, is better."
    )
    if warnings is None:
        log.warning(message)
    else:
        warnings.append(message)


def _numeric_column(values: pd.Series, column: str, index: pd.Index, path: str) -> pd.Series:
    numeric = pd.to_numeric(values, errors="coerce")
    bad = np.flatnonzero(numeric.isna().to_numpy() & values.notna().to_numpy())
    if not len(bad):
        return numeric
    if len(bad) > 0.5 * len(values):
        raise InputError(
            f"Counts file '{path}': column '{column}' holds text (e.g. "
            f"{listing(values.iloc[bad[:3]])}), not counts. The counts file must have the "
            f"gene ID as its first column and then only one column of counts per sample: "
            f"remove annotation columns such as '{column}'."
        )
    row = bad[0]
    raise InputError(
        f"Counts file '{path}', gene '{index[row]}' (row {row + 2}), sample '{column}': "
        f"'{values.iloc[row]}' is not a number ({len(bad)} cell(s) in that column). Counts "
        f"must be non-negative whole numbers."
    )


def _report_cells(mask, what, fix, table, values, path) -> None:
    rows, cols = np.nonzero(mask)
    row, col = rows[0], cols[0]
    shown = "" if what == "is missing" else f"{values[row, col]:g} "
    raise InputError(
        f"Counts file '{path}', gene '{table.index[row]}' (row {row + 2}), sample "
        f"'{table.columns[col]}': the count {shown}{what} ({len(rows)} cell(s) in all). {fix}."
    )


# Gene symbols Excel turns into dates (MARCH1 -> 1-Mar, SEPT2 -> 2-Sep, DEC1 -> 1-Dec),
# also as ISO dates or Excel's day numbers after re-export.
_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
EXCEL_DATE = re.compile(
    rf"^(\d{{1,2}}-({_MONTHS})|({_MONTHS})-\d{{1,2}}|\d{{4}}-\d{{2}}-\d{{2}}( 00:00:00)?"
    rf"|\d{{1,2}}/\d{{1,2}}/\d{{2,4}})$",
    re.IGNORECASE,
)


def warn_gene_ids(gene_ids: pd.Index, path: str) -> list[str]:
    """Warn about gene IDs that look like dates: the table went through Excel."""
    dated = gene_ids[pd.Series(gene_ids, dtype=str).str.match(EXCEL_DATE).to_numpy()]
    if not len(dated):
        return []
    return [
        f"Counts file '{path}': {len(dated)} gene ID(s) look like dates ({listing(dated)}): "
        f"the table was probably opened in Excel, which turns symbols such as MARCH1 or "
        f"SEPT2 into dates (1-Mar, 2-Sep). These genes cannot be matched to annotation or "
        f"gene sets; regenerate the counts without Excel, or use Ensembl IDs."
    ]


def match_samples(
    counts: pd.DataFrame,
    sheet: pd.DataFrame,
    counts_path: str,
    sheet_path: str,
    extra_columns: str = "drop",
) -> tuple[pd.DataFrame, list[str]]:
    """Put the counts' columns in the sheet's sample order (no copy when they already are).

    Samples in the sheet must all have counts. Count columns not in the sheet are
    dropped with a warning (`extra_columns='drop'`) or are an error ('error').
    """
    warnings = []
    columns = set(counts.columns)
    missing = [s for s in sheet.index if s not in columns]
    if missing:
        if len(set(missing) & set(counts.index)) >= max(1, len(missing) // 2):
            raise InputError(
                f"Counts file '{counts_path}' has sample(s) {listing(missing)} of sample "
                f"sheet '{sheet_path}' as rows, not columns: it looks transposed. The counts "
                f"must have genes as rows and samples as columns."
            )
        match = closest(missing[0], counts.columns)
        hint = f" For '{missing[0]}', did you mean '{match}'?" if match else ""
        raise InputError(
            f"Sample sheet '{sheet_path}' lists sample(s) {listing(missing)} that have no "
            f"column in counts file '{counts_path}' (its columns: {listing(counts.columns)}).{hint} "
            f"Fix the names so they match exactly, or remove the rows from the sheet."
        )
    wanted = set(sheet.index)
    extra = [c for c in counts.columns if c not in wanted]
    if extra:
        message = (
            f"Counts file '{counts_path}' has column(s) {listing(extra)} that are not in "
            f"sample sheet '{sheet_path}'"
        )
        if extra_columns == "error":
            raise InputError(
                message + ". Add them to the sheet, remove them from the counts, or set "
                "'extra_count_columns: drop' in the config."
            )
        warnings.append(message + "; they are left out of the analysis.")
    if list(counts.columns) == list(sheet.index):
        return counts, warnings
    return counts[list(sheet.index)], warnings


# ---------------------------------------------------------------- the whole sheet


@dataclass
class SheetCheck:
    """The sample sheet typed, with its warnings and any design-structure problems
    (which stop the run only after the design audit is written)."""

    sheet: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    design_problems: list[str] = field(default_factory=list)


def check_sheet(
    samples_path: str,
    design: str,
    contrasts: dict,
    categorical: tuple[str, ...] = (),
) -> SheetCheck:
    """Every check that needs only the sample sheet and the config.

    Raises InputError for problems that make the sheet or config unusable; returns
    the design-structure problems (see `design_problems`) for the caller to raise.
    """
    variables = design_variables(design)
    parsed = parse_contrasts(contrasts)
    raw = read_sample_sheet(samples_path)
    sheet = coerce_sample_sheet(raw, samples_path, variables, categorical)
    check_contrasts(sheet, design, parsed, samples_path)
    warnings = warn_numeric_with_few_values(sheet, variables)
    warnings += warn_level_typos(sheet, variables, samples_path)
    return SheetCheck(sheet, warnings, design_problems(sheet, design, samples_path))

