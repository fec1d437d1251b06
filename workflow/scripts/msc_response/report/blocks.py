"""Building blocks of the HTML report: numbers formatted for reading, tables that
the page can sort, search and download (their data embedded), and PNG figures
embedded at their physical size. Nothing here knows the workflow's files; see
`report.py` for that.
"""

from __future__ import annotations

import base64
import gzip
import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

# A table whose TSV is larger than this is embedded gzip-compressed (the page
# decompresses it on download with the browser's DecompressionStream).
COMPRESS_ABOVE_BYTES = 50_000


# ---------------------------------------------------------------------------
# Numbers for reading


def missing(value) -> bool:
    if value is None or value is pd.NA:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def format_p(value) -> str:
    """p-values and FDRs: 3 significant digits, scientific below 0.001."""
    if missing(value):
        return "NA"
    value = float(value)
    if value == 0:
        return "< 1e-300"
    if value < 1e-3:
        mantissa, exponent = f"{value:.2e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    return f"{value:.3g}"


def format_fixed(digits: int) -> Callable[[object], str]:
    def formatter(value) -> str:
        if missing(value):
            return "NA"
        text = f"{float(value):.{digits}f}"
        return "0" + text[2:] if text.startswith("-0") and float(text) == 0 else text

    return formatter


def format_int(value) -> str:
    if missing(value):
        return "NA"
    return f"{int(round(float(value))):,}"


def format_mean(value) -> str:
    """Mean counts: whole numbers with thousands separators, one decimal below 10."""
    if missing(value):
        return "NA"
    value = float(value)
    return f"{value:.1f}" if abs(value) < 10 else f"{value:,.0f}"


def format_general(value) -> str:
    """A number of unknown scale: 3 significant digits."""
    if missing(value):
        return "NA"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    value = float(value)
    if value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:.3g}"


def format_text(value) -> str:
    if missing(value):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def format_genes(limit: int = 8) -> Callable[[object], str]:
    """A ';'-joined gene list, cut to its first `limit` genes."""

    def formatter(value) -> str:
        if missing(value) or value == "":
            return ""
        genes = [g for g in str(value).split(";") if g]
        more = len(genes) - limit
        return ", ".join(genes[:limit]) + (f" … (+{more})" if more > 0 else "")

    return formatter


def truthy(value) -> bool:
    """A flag column as written by pandas ('True'/'False'), or by hand ('yes', '1')."""
    if missing(value):
        return False
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.number)):
        return value != 0
    return str(value).strip().lower() in {"true", "yes", "1", "t", "y"}


# ---------------------------------------------------------------------------
# Tables: displayed rows with sort keys, plus the data behind them for download


@dataclass
class Column:
    """How one column of a result table is shown: `key` in the frame, header label,
    formatter, and whether it sorts as a number."""

    key: str
    label: str
    format: Callable[[object], str] = format_text
    numeric: bool = False
    help: str = ""
    css: Callable[[object], str] | None = None


def p_column(key: str, label: str, help: str = "") -> Column:
    return Column(key, label, format_p, numeric=True, help=help)


def num_column(key: str, label: str, digits: int = 2, help: str = "") -> Column:
    return Column(key, label, format_fixed(digits), numeric=True, help=help)


@dataclass
class Table:
    id: str
    columns: list[dict]
    rows: list[list[dict]]
    n_total: int
    filename: str
    data: str
    encoding: str
    caption: str = ""

    @property
    def n_shown(self) -> int:
        return len(self.rows)


def tsv_text(frame: pd.DataFrame) -> str:
    """The table as the workflow writes TSVs (same float format as io.write_table)."""
    return frame.to_csv(sep="\t", index=False, float_format="%.8g", na_rep="NA")


def embed_tsv(data: bytes) -> tuple[str, str]:
    """base64 of a TSV's bytes, gzip-compressed when large; and the encoding's name."""
    if len(data) > COMPRESS_ABOVE_BYTES:
        return base64.b64encode(gzip.compress(data, mtime=0)).decode("ascii"), "gzip+base64"
    return base64.b64encode(data).decode("ascii"), "base64"


def _sort_key(value, numeric: bool) -> str:
    if missing(value):
        return ""
    if numeric:
        try:
            number = float(value)
        except (TypeError, ValueError):
            return ""
        return "" if math.isnan(number) else repr(number)
    return format_text(value)


def make_table(
    frame: pd.DataFrame,
    table_id: str,
    columns: list[Column],
    filename: str,
    max_rows: int | None = None,
    download: pd.DataFrame | bytes | None = None,
    caption: str = "",
) -> Table:
    """A displayable, sortable table of `frame`'s first `max_rows` rows.

    `download` is what the page's TSV link saves: the bytes of a result file (the
    file exactly as the workflow wrote it), another frame, or by default `frame`
    itself; so a reader gets the full table even when only its top is shown.
    """
    columns = [c for c in columns if c.key in frame.columns]
    shown = frame if max_rows is None else frame.head(max_rows)
    rows = []
    for record in shown.to_dict("records"):
        cells = []
        for column in columns:
            value = record[column.key]
            cells.append(
                {
                    "text": column.format(value),
                    "sort": _sort_key(value, column.numeric),
                    "css": column.css(value) if column.css else "",
                    "numeric": column.numeric,
                }
            )
        rows.append(cells)
    if not isinstance(download, bytes):
        download = tsv_text(frame if download is None else download).encode("utf-8")
    data, encoding = embed_tsv(download)
    return Table(
        id=table_id,
        columns=[{"label": c.label, "numeric": c.numeric, "help": c.help} for c in columns],
        rows=rows,
        n_total=len(frame),
        filename=filename,
        data=data,
        encoding=encoding,
        caption=caption,
    )


# ---------------------------------------------------------------------------
# Figures


def png_info(data: bytes) -> tuple[int, int, float | None] | None:
    """Width, height and DPI (from the pHYs chunk, if any) of a PNG; None if not a PNG."""
    if len(data) < 33 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    dpi = None
    position = 8
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        if kind == b"pHYs" and length == 9:
            x_per_metre, _, unit = struct.unpack(">IIB", data[position + 8 : position + 17])
            if unit == 1 and x_per_metre > 0:
                dpi = x_per_metre * 0.0254
            break
        if kind == b"IDAT":
            break
        position += 12 + length
    return width, height, dpi


def figure(path: str | Path, title: str, caption: str, size: str = "wide") -> dict:
    """A figure for the template: the PNG as a data URI, shown at its physical size
    (pixels x 96 / its DPI), never wider than the page. `size` ('wide', 'half')
    is a layout hint for the stylesheet. A missing or unreadable PNG gives a figure
    with `src=None`, which the template shows as a note instead of a broken image."""
    path = Path(path)
    data = path.read_bytes() if path.is_file() else b""
    info = png_info(data)
    if info is None:
        return {"title": title, "caption": caption, "src": None, "path": str(path), "size": size}
    width, height, dpi = info
    scale = 96 / dpi if dpi else 1.0
    return {
        "title": title,
        "caption": caption,
        "src": "data:image/png;base64," + base64.b64encode(data).decode("ascii"),
        "width": max(1, round(width * scale)),
        "height": max(1, round(height * scale)),
        "path": str(path),
        "size": size,
    }
