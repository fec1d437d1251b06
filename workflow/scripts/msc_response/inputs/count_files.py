"""One count file per sample: STAR's `ReadsPerGene.out.tab` or HTSeq-count output,
named in a column of the sample sheet (config `count_files`).

- STAR (`--quantMode GeneCounts`): four tab-separated columns, gene ID and the counts
  of an unstranded, a forward-stranded (htseq-count -s yes) and a reverse-stranded
  (-s reverse) library; the first four rows are N_unmapped, N_multimapping,
  N_noFeature and N_ambiguous.
- HTSeq-count: two columns, gene ID and count; its last rows `__no_feature`,
  `__ambiguous`, `__too_low_aQual`, `__not_aligned`, `__alignment_not_unique`.

The rows that are not genes are taken out and returned per sample (the QC table
shows them). Every file must list the same genes: files of different annotations
stop the run.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from msc_response.common.errors import InputError, listing
from msc_response.inputs.readers import _check_is_text, _open_text, require_file

log = logging.getLogger(__name__)

STAR_COLUMNS = {"unstranded": 1, "forward": 2, "reverse": 3}
# A strand column holding less than this fraction of the reads of the fullest one
# points at a wrong strandedness setting (an unstranded library read as stranded
# keeps about half; a stranded one read on the wrong strand a few percent).
STRAND_WARNING_FRACTION = 0.6
FORMATS = {"star": 4, "htseq": 2}
FORMAT_NAMES = {"star": "STAR ReadsPerGene.out.tab", "htseq": "HTSeq-count"}


@dataclass
class CountFiles:
    """The config's `count_files` block."""

    column: str
    format: str
    strand: str = "unstranded"

    @classmethod
    def from_config(cls, block: dict) -> "CountFiles":
        return cls(block["column"], block["format"], block.get("strand") or "unstranded")


def resolve(value: str, sheet_path: str) -> Path:
    """A path from the sample sheet: as written (absolute, or relative to the directory
    the workflow runs in), else relative to the sample sheet's folder."""
    path = Path(value)
    if path.is_absolute() or path.exists():
        return path
    beside = Path(sheet_path).parent / path
    return beside if beside.exists() else path


def sample_paths(sheet: pd.DataFrame, column: str, sheet_path: str, what: str) -> dict[str, Path]:
    """Sample -> path of its file, from sheet column `column`; each file must exist."""
    if column not in sheet.columns:
        raise InputError(
            f"config names sample-sheet column '{column}' for the {what} files, but sample "
            f"sheet '{sheet_path}' has no such column (columns: "
            f"{listing(c for c in sheet.columns if c != 'sample')}). Add a column with each "
            f"sample's file, or fix the name in the config."
        )
    paths = {}
    for row, (sample, value) in enumerate(zip(sheet["sample"], sheet[column]), start=2):
        value = str(value).strip()
        if not value or value.lower() in ("na", "nan"):
            raise InputError(
                f"Sample sheet '{sheet_path}', row {row} (sample '{sample}'): column "
                f"'{column}' is empty; it must name the sample's {what} file."
            )
        path = resolve(value, sheet_path)
        if not path.exists():
            raise InputError(
                f"Sample sheet '{sheet_path}', row {row} (sample '{sample}'): {what} file "
                f"'{value}' does not exist (looked for it relative to the directory the "
                f"workflow runs in and to the sample sheet's folder). Fix the path."
            )
        paths[str(sample)] = path
    return paths


def read_count_file(path: Path, fmt: str, sample: str) -> pd.DataFrame:
    """One file as a table: gene ID index, one column per count column (as int64)."""
    what = f"{FORMAT_NAMES[fmt]} file"
    path = require_file(path, f"{FORMAT_NAMES[fmt]} (sample '{sample}')")
    _check_is_text(path, what)
    width = FORMATS[fmt]
    ids, rows = [], []
    with _open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) != width:
                other = next((f for f, w in FORMATS.items() if w == len(fields)), None)
                hint = (
                    f" It looks like a {FORMAT_NAMES[other]} file: set count_files.format "
                    f"to '{other}'." if other else ""
                )
                raise InputError(
                    f"{what} '{path}' (sample '{sample}'), line {number}: {len(fields)} "
                    f"tab-separated column(s), but a {FORMAT_NAMES[fmt]} file has {width} "
                    f"({'gene ID, unstranded, forward and reverse counts' if fmt == 'star' else 'gene ID and count'}).{hint}"
                )
            ids.append(fields[0].strip())
            rows.append(fields[1:])
    if not ids:
        raise InputError(f"{what} '{path}' (sample '{sample}') has no lines.")
    raw = np.array(rows, dtype=object)
    values = np.empty(raw.shape, dtype=np.int64)
    for j in range(raw.shape[1]):
        numbers = pd.to_numeric(pd.Series(raw[:, j]), errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(numbers) | (numbers < 0) | (numbers % 1 != 0))
        if len(bad):
            i = bad[0]
            raise InputError(
                f"{what} '{path}' (sample '{sample}'), line {i + 1}, gene '{ids[i]}': "
                f"'{raw[i, j]}' is not a count ({len(bad)} such value(s) in column {j + 2}). "
                f"Counts must be non-negative whole numbers: is the file complete and "
                f"unchanged?"
            )
        values[:, j] = numbers.astype(np.int64)
    table = pd.DataFrame(values, index=pd.Index(ids, name="gene_id"))
    if table.index.has_duplicates:
        duplicated = table.index[table.index.duplicated()].unique()
        raise InputError(
            f"{what} '{path}' (sample '{sample}'): gene ID(s) {listing(duplicated)} appear "
            f"more than once. Each gene must have one line."
        )
    return table


def is_special(ids: pd.Index, fmt: str) -> np.ndarray:
    """The rows that are not genes: STAR's N_* rows, HTSeq's __* rows."""
    ids = pd.Series(ids, dtype=str)
    if fmt == "star":
        return ids.isin(["N_unmapped", "N_multimapping", "N_noFeature", "N_ambiguous"]).to_numpy()
    return ids.str.startswith("__").to_numpy()


def special_name(row: str) -> str:
    """'__too_low_aQual' -> 'unassigned_too_low_aqual'; 'N_noFeature' -> 'unassigned_no_feature'."""
    bare = re.sub(r"^(N_|__)", "", row)
    # STAR's names are camelCase, HTSeq's snake_case already
    snake = bare.lower() if "_" in bare else re.sub(r"(?<=[a-z])(?=[A-Z])", "_", bare).lower()
    return f"unassigned_{snake}"


def read_count_files(
    sheet: pd.DataFrame, spec: CountFiles, sheet_path: str, warnings: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Genes x samples counts (int64, in the sheet's sample order) and samples x
    'unassigned_*' counts of the rows that are not genes."""
    paths = sample_paths(sheet, spec.column, sheet_path, FORMAT_NAMES[spec.format])
    genes = None
    first = None
    columns, special_rows, fractions = {}, {}, {}
    for sample, path in paths.items():
        table = read_count_file(path, spec.format, sample)
        special = is_special(table.index, spec.format)
        gene_table = table.loc[~special]
        if genes is None:
            genes, first = gene_table.index, (sample, path)
        elif not gene_table.index.equals(genes):
            _check_same_genes(genes, gene_table.index, first, (sample, path), spec.format)
            gene_table = gene_table.loc[genes]
        column = STAR_COLUMNS[spec.strand] - 1 if spec.format == "star" else 0
        columns[sample] = gene_table.iloc[:, column].to_numpy()
        special_rows[sample] = {
            special_name(row): int(value)
            for row, value in zip(table.index[special], table.iloc[special, column])
        }
        if spec.format == "star":
            totals = gene_table.sum(axis=0).to_numpy()
            fractions[sample] = totals
    counts = pd.DataFrame(columns, index=genes)
    counts.index.name = "gene_id"
    unassigned = pd.DataFrame.from_dict(special_rows, orient="index").fillna(0).astype(np.int64)
    if fractions:
        warnings += strand_warnings(pd.DataFrame(fractions, index=list(STAR_COLUMNS)).T, spec.strand)
    log.info(
        "read %d %s files (%s): %d genes; rows that are not genes (%s) left out and "
        "reported in the QC table",
        len(paths),
        FORMAT_NAMES[spec.format],
        spec.column,
        len(genes),
        ", ".join(unassigned.columns) or "none",
    )
    return counts, unassigned


def _check_same_genes(genes, other, first, second, fmt) -> None:
    missing = genes.difference(other)
    extra = other.difference(genes)
    if not len(missing) and not len(extra):
        return
    (sample_a, path_a), (sample_b, path_b) = first, second
    parts = []
    if len(missing):
        parts.append(f"{len(missing)} gene(s) of '{path_a}' are missing (e.g. {listing(missing[:3])})")
    if len(extra):
        parts.append(f"{len(extra)} gene(s) are not in '{path_a}' (e.g. {listing(extra[:3])})")
    raise InputError(
        f"{FORMAT_NAMES[fmt]} file '{path_b}' (sample '{sample_b}') lists other genes than "
        f"'{path_a}' (sample '{sample_a}'): {'; '.join(parts)}. The files were made with "
        f"different annotations (GTF versions); count every sample against the same one."
    )


def strand_warnings(totals: pd.DataFrame, strand: str) -> list[str]:
    """Samples whose chosen STAR strand column holds far fewer gene-assigned reads than
    another column: a wrong `strand` setting. `totals`: samples x strand columns."""
    chosen = totals[strand].to_numpy(dtype=float)
    best = totals.to_numpy(dtype=float).max(axis=1)
    low = chosen < STRAND_WARNING_FRACTION * best
    if not low.any():
        return []
    likely = totals.loc[low].sum(axis=0)
    stranded = likely[["forward", "reverse"]]
    suggestion = stranded.idxmax() if stranded.max() >= 0.8 * likely["unstranded"] else "unstranded"
    samples = totals.index[low]
    share = np.median(chosen[low] / best[low])
    return [
        f"count_files.strand is '{strand}', but in {len(samples)} of {len(totals)} STAR "
        f"files ({listing(samples)}) that column holds only {share:.0%} (median) of the "
        f"gene-assigned reads of the fullest column: the library's strandedness is "
        f"probably '{suggestion}'. Check how the library was made, and set "
        f"count_files.strand accordingly."
    ]

