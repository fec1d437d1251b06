"""Reading the user's files: count matrices, sample sheets and gene annotation.

Every reader returns plain pandas objects and raises `InputError` with the file name
and the offending row or column when the file cannot be used as it is.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pandas as pd

from msc_response.common.errors import InputError

FEATURECOUNTS_ANNOTATION_COLUMNS = ["Chr", "Start", "End", "Strand", "Length"]
# Suffixes aligners and featureCounts leave on sample names taken from BAM paths.
BAM_SUFFIXES = re.compile(
    r"(\.bam|\.sam|\.cram|Aligned\.sortedByCoord\.out|Aligned\.out|\.sorted|\.dedup)+$"
)


# File signatures of things users pass by mistake instead of text tables.
BINARY_SIGNATURES = {
    b"PK\x03\x04": "an Excel workbook (.xlsx) or another zip archive",
    b"\xd0\xcf\x11\xe0": "an old-style Excel workbook (.xls)",
    b"\x89HDF": "an HDF5 file (.h5/.h5ad)",
    b"BZh": "a bzip2 archive",
    b"\xfd7zXZ": "an xz archive",
}
# Header labels that name a gene-ID column rather than a sample.
GENE_ID_LABELS = {
    "", "gene", "genes", "gene_id", "geneid", "gene_ids", "id", "ids", "ensembl",
    "ensembl_id", "ensembl_gene_id", "gene_name", "gene_symbol", "symbol", "name",
    "feature", "features", "feature_id", "target_id", "x",
}


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def _open_text(path: Path):
    # utf-8-sig drops a byte-order mark (Excel's "CSV UTF-8"); universal newlines turn
    # Windows line endings into plain ones.
    if _is_gzip(path):
        return gzip.open(path, "rt", encoding="utf-8-sig")
    return open(path, "rt", encoding="utf-8-sig")


def _check_is_text(path: Path, what: str) -> None:
    """Reject spreadsheets and other binary files with a message saying what to do."""
    opener = gzip.open if _is_gzip(path) else open
    try:
        with opener(path, "rb") as handle:
            start = handle.read(4096)
    except (OSError, EOFError) as err:
        raise InputError(_unreadable(path, what, err)) from None
    if start.startswith(b"\x89HDF") and what == "Counts file":
        raise InputError(
            f"{what} '{path}' is an HDF5 file (.h5/.h5ad), not a text table. For "
            f"single-cell data (a cells x genes AnnData), add a 'single_cell:' block to "
            f"the config (its sample_column names each cell's sample; see "
            f"config/README.md); otherwise export the counts as tab-separated text."
        )
    for signature, kind in BINARY_SIGNATURES.items():
        if start.startswith(signature):
            raise InputError(
                f"{what} '{path}' is {kind}, not a text table. Export it as tab-separated "
                f"text (Excel: File > Save As > 'Text (Tab delimited)' or 'CSV UTF-8')."
            )
    if b"\x00" in start:
        raise InputError(
            f"{what} '{path}' is a binary file, not a text table (TSV or CSV). "
            f"If it is UTF-16 text, save it again as UTF-8."
        )


def _first_lines(path: Path, n: int = 3, what: str = "File") -> list[str]:
    _check_is_text(path, what)
    try:
        with _open_text(path) as handle:
            lines = []
            for line in handle:
                lines.append(line.rstrip("\r\n"))
                if len(lines) >= n:
                    break
            return lines
    except UnicodeDecodeError as err:
        raise InputError(_not_utf8(path, what, err)) from None
    except (OSError, EOFError) as err:
        raise InputError(_unreadable(path, what, err)) from None


def _unreadable(path: Path, what: str, err: Exception) -> str:
    if isinstance(err, (EOFError, gzip.BadGzipFile)) or "end-of-stream" in str(err):
        return (
            f"{what} '{path}' cannot be read to the end ({err}): is it truncated? "
            f"Copy or download it again."
        )
    return f"{what} '{path}' cannot be read ({err})."


def _not_utf8(path: Path, what: str, err: UnicodeDecodeError) -> str:
    return (
        f"{what} '{path}' is not UTF-8 text (byte {err.object[err.start:err.start + 1]!r} "
        f"at position {err.start}); Excel on Windows saves Latin-1/Windows-1252. Save it "
        f"again as UTF-8 (Excel: 'CSV UTF-8' or 'Unicode Text'; or `iconv -f cp1252 -t utf-8`)."
    )


FIELDS_ERROR = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _parser_error(path: Path, what: str, err: Exception, sep: str) -> str:
    """Rephrase pandas' tokenizer message ('Expected 3 fields in line 7, saw 4')."""
    kind = {"\t": "tab", ",": "comma", ";": "semicolon"}.get(sep, repr(sep))
    found = FIELDS_ERROR.search(str(err))
    if found:
        expected, line, seen = found.groups()
        return (
            f"{what} '{path}', line {line}: {seen} {kind}-separated fields, but the header "
            f"(and the lines before) have {expected}. Check that line for a stray "
            f"{kind}, a value containing a {kind}, or a missing header name."
        )
    return f"{what} '{path}' cannot be parsed as a {kind}-separated table: {err}"


def require_file(path: str | Path, what: str) -> Path:
    """The path, if it names a non-empty file; else an InputError saying what is wrong."""
    path = Path(path)
    if not path.exists():
        raise InputError(
            f"{what} file '{path}' does not exist. Check the path in your config "
            f"(relative paths are resolved from the directory you run snakemake in)."
        )
    if path.is_dir():
        raise InputError(f"{what} file '{path}' is a directory, not a file.")
    if path.stat().st_size == 0:
        raise InputError(f"{what} file '{path}' is empty (0 bytes).")
    return path


def sniff_separator(header: str) -> str:
    """Tab if the header has tabs, else comma, else semicolon (European Excel CSV),
    else tab."""
    for sep in ("\t", ",", ";"):
        if sep in header:
            return sep
    return "\t"


def _split_header(line: str, sep: str) -> list[str]:
    return [field.strip().strip('"').strip() for field in line.split(sep)]


def is_featurecounts(lines: list[str]) -> bool:
    """featureCounts writes a '# Program:featureCounts' line, then Geneid/Chr/... columns."""
    body = [line for line in lines if not line.startswith("#")]
    return bool(body) and body[0].split("\t")[:6] == ["Geneid", *FEATURECOUNTS_ANNOTATION_COLUMNS]


def sample_name_from_bam(column: str) -> str:
    """'/data/bam/S01Aligned.sortedByCoord.out.bam' -> 'S01'."""
    return BAM_SUFFIXES.sub("", Path(column).name)


def read_counts(path: str | Path, warnings: list[str] | None = None) -> pd.DataFrame:
    """Read a genes x samples count table (TSV/CSV, optionally gzipped, or featureCounts).

    Returns a DataFrame indexed by gene ID (str) with one column per sample, as read:
    the values are not yet checked (see `validation.check_counts`), so a bad cell
    stays visible as a non-numeric column or a NaN. Things worth telling the user
    that do not stop the run are appended to `warnings`.
    """
    warnings = [] if warnings is None else warnings
    path = require_file(path, "Counts")
    lines = _first_lines(path, 3, "Counts file")
    featurecounts = is_featurecounts(lines)
    body = [line for line in lines if not (featurecounts and line.startswith("#"))]
    if not body or not body[0].strip():
        raise InputError(f"Counts file '{path}' is empty: its first line should be the header.")
    sep = "\t" if featurecounts else sniff_separator(body[0])
    header = _split_header(body[0], sep)
    _reject_duplicate_columns(header[1:], path)
    if len(body) > 1 and body[1].strip():
        _check_header_width(path, header, len(body[1].split(sep)), sep, warnings)
    table = _parse_table(
        path,
        "Counts file",
        sep,
        comment="#" if featurecounts else None,
        index_col=0,
        dtype={0: str},
    )
    if featurecounts:
        table = table.drop(columns=FEATURECOUNTS_ANNOTATION_COLUMNS)
        table.columns = [sample_name_from_bam(c) for c in table.columns]
    table.index = table.index.astype(str)
    table.index.name = "gene_id"
    table.columns = [str(c).strip() for c in table.columns]
    return _drop_unnamed_columns(table, path, warnings)


def _parse_table(path: Path, what: str, sep: str, **kwargs) -> pd.DataFrame:
    import warnings as python_warnings

    try:
        with python_warnings.catch_warnings():
            # low_memory parsing (chunks; about half the peak memory of one pass) warns
            # about mixed types when a column has a bad cell; check_counts reports it.
            python_warnings.simplefilter("ignore", pd.errors.DtypeWarning)
            return pd.read_csv(path, sep=sep, encoding="utf-8-sig", **kwargs)
    except UnicodeDecodeError as err:
        raise InputError(_not_utf8(path, what, err)) from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{what} '{path}' is empty.") from None
    except pd.errors.ParserError as err:
        raise InputError(_parser_error(path, what, err, sep)) from None
    except (EOFError, OSError) as err:
        raise InputError(_unreadable(path, what, err)) from None


def _check_header_width(
    path: Path, header: list[str], row_width: int, sep: str, warnings: list[str]
) -> None:
    if row_width == len(header) + 1:
        if header[0].lower() in GENE_ID_LABELS:
            raise InputError(
                f"Counts file '{path}': the header has {len(header)} fields but the rows "
                f"have {row_width}, and its first field '{header[0]}' names the gene ID "
                f"column, so a sample name is missing from the header. Add it."
            )
        # R's write.table(counts) writes no header field for the row names.
        warnings.append(
            f"Counts file '{path}': the header has one field fewer than the rows (as R's "
            f"write.table writes it); the first column is read as the gene IDs and "
            f"'{header[0]}' as the first sample."
        )
    elif row_width > len(header) + 1:
        raise InputError(
            f"Counts file '{path}': the header has {len(header)} fields but line 2 has "
            f"{row_width}. Every sample column needs a name in the header line."
        )


def _drop_unnamed_columns(table: pd.DataFrame, path: Path, warnings: list[str]) -> pd.DataFrame:
    unnamed = [c for c in table.columns if c == "" or c.startswith("Unnamed: ")]
    if not unnamed:
        return table
    empty = [c for c in unnamed if table[c].isna().all()]
    named = [c for c in unnamed if c not in empty]
    if named:
        position = list(table.columns).index(named[0]) + 2
        raise InputError(
            f"Counts file '{path}': column {position} has values but no sample name in the "
            f"header line. Name it, or remove the column."
        )
    warnings.append(
        f"Counts file '{path}': {len(empty)} empty column(s) without a header name (a "
        f"trailing separator on each line?) were ignored."
    )
    return table.drop(columns=empty)


def _reject_duplicate_columns(columns: list[str], path: Path, what: str = "Counts file") -> None:
    # pandas would silently rename a second 'S1' to 'S1.1'; catch it from the header.
    seen, duplicated = set(), []
    for column in (c.strip() for c in columns):
        if column in seen and column not in duplicated and column:
            duplicated.append(column)
        seen.add(column)
    if duplicated:
        kind = "sample column(s)" if what == "Counts file" else "column(s)"
        fix = "Each sample must have one column." if what == "Counts file" else "Rename or remove the copies."
        raise InputError(
            f"{what} '{path}': {kind} {', '.join(repr(d) for d in duplicated[:5])} appear "
            f"more than once in the header. {fix}"
        )


def read_sample_sheet(path: str | Path) -> pd.DataFrame:
    """Read the sample sheet (TSV or CSV; first column `sample`) with every column as text.

    Types are decided later, by `validation.coerce_sample_sheet`, so that '01' stays
    '01' and a typo in a numeric column can be reported by row. A byte-order mark,
    Windows line endings, quotes, blank lines and spaces around values are tolerated.
    """
    path = require_file(path, "Sample sheet")
    lines = _first_lines(path, 1, "Sample sheet")
    if not lines or not lines[0].strip():
        raise InputError(f"Sample sheet '{path}' is empty: its first line should be the header.")
    sep = sniff_separator(lines[0])
    header = _split_header(lines[0], sep)
    _reject_duplicate_columns(header, path, "Sample sheet")
    sheet = _parse_table(path, "Sample sheet", sep, dtype=str, keep_default_na=False)
    sheet.columns = [str(c).strip() for c in sheet.columns]
    if sheet.columns[0] != "sample":
        if "sample" in sheet.columns:
            hint = "Move the 'sample' column to the front."
        else:
            hint = "Rename it to 'sample' in the header line (lower case)."
        raise InputError(
            f"Sample sheet '{path}': the first column must be named 'sample' "
            f"(found '{sheet.columns[0]}'). {hint}"
        )
    sheet = sheet.apply(lambda col: col.str.strip())
    # Spreadsheets export rows of bare separators after the data; they are not samples.
    blank = sheet.eq("").all(axis=1)
    return sheet.loc[~blank].reset_index(drop=True) if blank.any() else sheet


GTF_ATTRIBUTE = re.compile(r'(\S+) "([^"]*)"')


def _read_gtf(path: Path) -> pd.DataFrame:
    ids, names = [], []
    _check_is_text(path, "Annotation GTF")
    with _open_text(path) as handle:
        for line in handle:
            if line.startswith("#"):
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 9 or fields[2] != "gene":
                continue
            attributes = dict(GTF_ATTRIBUTE.findall(fields[8]))
            if "gene_id" in attributes:
                ids.append(attributes["gene_id"])
                names.append(attributes.get("gene_name", attributes["gene_id"]))
    if not ids:
        raise InputError(
            f"Annotation GTF '{path}' has no 'gene' lines with a gene_id attribute."
        )
    return pd.DataFrame({"gene_id": ids, "symbol": names})


def read_annotation(path: str | Path) -> pd.DataFrame:
    """Read a gene ID -> symbol mapping from a GTF or a two-column table.

    Returns a DataFrame with columns `gene_id` and `symbol`, one row per gene ID
    (the first occurrence wins, as in a GTF).
    """
    path = require_file(path, "Annotation")
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".gtf", ".gff", ".gff2")):
        table = _read_gtf(path)
    else:
        lines = _first_lines(path, 1, "Annotation file")
        if not lines:
            raise InputError(f"Annotation file '{path}' is empty.")
        sep = sniff_separator(lines[0])
        if len(lines[0].split(sep)) < 2:
            raise InputError(
                f"Annotation file '{path}' needs two columns: gene ID and symbol."
            )
        table = _parse_table(path, "Annotation file", sep, dtype=str, usecols=[0, 1])
        table = table.iloc[:, :2]
        table.columns = ["gene_id", "symbol"]
    # GENCODE IDs carry a version ('ENSG...1.5'); counts may or may not.
    table = table.dropna(subset=["gene_id"]).drop_duplicates("gene_id")
    table["symbol"] = table["symbol"].fillna(table["gene_id"])
    return table.reset_index(drop=True)


ENSEMBL_VERSION = re.compile(r"^(ENS[A-Z]*G\d+)\.\d+$")


def strip_version(gene_ids: pd.Index) -> pd.Index:
    """'ENSG00000141510.17' -> 'ENSG00000141510' (only for Ensembl-style IDs)."""
    ids = pd.Series(gene_ids, dtype=object).astype(str)  # vectorised: 60k IDs in ms
    return pd.Index(
        ids.str.replace(ENSEMBL_VERSION, r"\1", regex=True).to_numpy(),
        name=gene_ids.name,
    )


def symbols_for(gene_ids: pd.Index, annotation: pd.DataFrame | None) -> pd.Series:
    """Symbol for each gene ID; IDs without an annotation keep their own ID."""
    if annotation is None:
        return pd.Series(np.asarray(gene_ids), index=gene_ids, name="symbol")
    mapping = dict(zip(annotation["gene_id"], annotation["symbol"]))
    # Match with and without Ensembl version suffixes on either side.
    mapping.update(zip(strip_version(pd.Index(annotation["gene_id"])), annotation["symbol"]))
    bare = strip_version(gene_ids)
    symbols = [mapping.get(g, mapping.get(b, g)) for g, b in zip(gene_ids, bare)]
    return pd.Series(symbols, index=gene_ids, name="symbol")


MISSING_VALUES = ["", "NA", "NaN", "nan", "N/A", "n/a", "NULL", "null", "-"]

# Columns of gene symbols beside the gene IDs, as nf-core/rnaseq's merged tables
# (salmon.merged.gene_counts.tsv: gene_id, gene_name, one column per sample) have.
SYMBOL_COLUMNS = {"gene_name", "gene_symbol"}


def split_symbol_column(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series | None]:
    """The counts without a `gene_name`/`gene_symbol` column, and that column as the
    genes' symbols (empty symbols keep the gene ID); None when there is no such column.
    """
    found = [c for c in table.columns if str(c).strip().lower() in SYMBOL_COLUMNS]
    if not found:
        return table, None
    column = found[0]
    symbols = table[column].astype(object)
    blank = symbols.isna() | symbols.astype(str).str.strip().isin(MISSING_VALUES)
    symbols = symbols.astype(str).str.strip().where(~blank, pd.Series(table.index, index=table.index))
    symbols.name = "symbol"
    return table.drop(columns=found), symbols

