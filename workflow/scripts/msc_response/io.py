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

from .errors import InputError

FEATURECOUNTS_ANNOTATION_COLUMNS = ["Chr", "Start", "End", "Strand", "Length"]
# Suffixes aligners and featureCounts leave on sample names taken from BAM paths.
BAM_SUFFIXES = re.compile(
    r"(\.bam|\.sam|\.cram|Aligned\.sortedByCoord\.out|Aligned\.out|\.sorted|\.dedup)+$"
)


def _open_text(path: Path):
    with open(path, "rb") as handle:
        magic = handle.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt")
    return open(path, "rt")


def _first_lines(path: Path, n: int = 3) -> list[str]:
    try:
        with _open_text(path) as handle:
            lines = []
            for line in handle:
                lines.append(line.rstrip("\n"))
                if len(lines) >= n:
                    break
            return lines
    except (OSError, UnicodeDecodeError, EOFError) as err:
        raise InputError(f"{path}: cannot read the file ({err}).") from None


def _require_file(path: str | Path, what: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputError(
            f"{what} file '{path}' does not exist. Check the path in your config "
            f"(relative paths are resolved from the directory you run snakemake in)."
        )
    if path.is_dir():
        raise InputError(f"{what} file '{path}' is a directory, not a file.")
    return path


def sniff_separator(header: str) -> str:
    """Tab if the header has tabs, else comma if it has commas, else tab."""
    if "\t" in header:
        return "\t"
    if "," in header:
        return ","
    return "\t"


def is_featurecounts(lines: list[str]) -> bool:
    """featureCounts writes a '# Program:featureCounts' line, then Geneid/Chr/... columns."""
    body = [line for line in lines if not line.startswith("#")]
    return bool(body) and body[0].split("\t")[:6] == ["Geneid", *FEATURECOUNTS_ANNOTATION_COLUMNS]


def sample_name_from_bam(column: str) -> str:
    """'/data/bam/S01Aligned.sortedByCoord.out.bam' -> 'S01'."""
    return BAM_SUFFIXES.sub("", Path(column).name)


def read_counts(path: str | Path) -> pd.DataFrame:
    """Read a genes x samples count table (TSV/CSV, optionally gzipped, or featureCounts).

    Returns a DataFrame indexed by gene ID (str) with one column per sample, as read:
    the values are not yet checked (see `validation.check_counts`), so a bad cell
    stays visible as a non-numeric column or a NaN.
    """
    path = _require_file(path, "Counts")
    lines = _first_lines(path)
    if not lines or not lines[0].strip():
        raise InputError(f"Counts file '{path}' is empty.")
    featurecounts = is_featurecounts(lines)
    sep = "\t" if featurecounts else sniff_separator(lines[0])
    header = next(line for line in lines if not line.startswith("#")).split(sep)
    _reject_duplicate_columns(header[1:], path)
    try:
        table = pd.read_csv(
            path,
            sep=sep,
            comment="#" if featurecounts else None,
            index_col=0,
            dtype={0: str},
            low_memory=False,
        )
    except (pd.errors.ParserError, UnicodeDecodeError, EOFError, OSError) as err:
        raise InputError(
            f"Counts file '{path}' cannot be parsed as a "
            f"{'tab' if sep == chr(9) else 'comma'}-separated table: {err}"
        ) from None
    except pd.errors.EmptyDataError:
        raise InputError(f"Counts file '{path}' is empty.") from None
    if featurecounts:
        table = table.drop(columns=FEATURECOUNTS_ANNOTATION_COLUMNS)
        table.columns = [sample_name_from_bam(c) for c in table.columns]
    table.index = table.index.astype(str)
    table.index.name = "gene_id"
    table.columns = [str(c).strip() for c in table.columns]
    return table


def _reject_duplicate_columns(columns: list[str], path: Path) -> None:
    # pandas would silently rename a second 'S1' to 'S1.1'; catch it from the header.
    seen, duplicated = set(), []
    for column in (c.strip() for c in columns):
        if column in seen and column not in duplicated:
            duplicated.append(column)
        seen.add(column)
    if duplicated:
        raise InputError(
            f"Counts file '{path}': sample column(s) {', '.join(repr(d) for d in duplicated[:5])} appear "
            f"more than once in the header. Each sample must have one column."
        )


def read_sample_sheet(path: str | Path) -> pd.DataFrame:
    """Read the sample sheet (TSV; first column `sample`) with every column as text.

    Types are decided later, by `validation.coerce_sample_sheet`, so that '01' stays
    '01' and a typo in a numeric column can be reported by row.
    """
    path = _require_file(path, "Sample sheet")
    lines = _first_lines(path, 1)
    if not lines or not lines[0].strip():
        raise InputError(f"Sample sheet '{path}' is empty.")
    sep = sniff_separator(lines[0])
    try:
        sheet = pd.read_csv(
            path, sep=sep, dtype=str, keep_default_na=False, comment=None
        )
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise InputError(f"Sample sheet '{path}' cannot be parsed: {err}") from None
    sheet.columns = [str(c).strip() for c in sheet.columns]
    if sheet.columns[0] != "sample":
        raise InputError(
            f"Sample sheet '{path}': the first column must be named 'sample' "
            f"(found '{sheet.columns[0]}'). Rename it in the header line."
        )
    return sheet.apply(lambda col: col.str.strip())


GTF_ATTRIBUTE = re.compile(r'(\S+) "([^"]*)"')


def _read_gtf(path: Path) -> pd.DataFrame:
    ids, names = [], []
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
    path = _require_file(path, "Annotation")
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".gtf", ".gff", ".gff2")):
        table = _read_gtf(path)
    else:
        lines = _first_lines(path, 1)
        if not lines:
            raise InputError(f"Annotation file '{path}' is empty.")
        table = pd.read_csv(path, sep=sniff_separator(lines[0]), dtype=str)
        if table.shape[1] < 2:
            raise InputError(
                f"Annotation file '{path}' needs two columns: gene ID and symbol."
            )
        table = table.iloc[:, :2]
        table.columns = ["gene_id", "symbol"]
    # GENCODE IDs carry a version ('ENSG...1.5'); counts may or may not.
    table = table.dropna(subset=["gene_id"]).drop_duplicates("gene_id")
    table["symbol"] = table["symbol"].fillna(table["gene_id"])
    return table.reset_index(drop=True)


def strip_version(gene_ids: pd.Index) -> pd.Index:
    """'ENSG00000141510.17' -> 'ENSG00000141510' (only for Ensembl-style IDs)."""
    return pd.Index(
        [re.sub(r"^(ENS[A-Z]*G\d+)\.\d+$", r"\1", g) for g in gene_ids], name=gene_ids.name
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


def write_table(frame: pd.DataFrame, path: str | Path, index: bool = False) -> None:
    """Write a TSV (gzipped if the name ends in .gz) with a fixed float format and a
    zero gzip timestamp, so reruns give byte-identical files."""
    text = frame.to_csv(sep="\t", index=index, float_format="%.8g", na_rep="NA")
    data = text.encode()
    if str(path).endswith(".gz"):
        # gzip.compress stores neither a file name nor (with mtime=0) a time stamp.
        data = gzip.compress(data, mtime=0)
    Path(path).write_bytes(data)
