"""Reading the stage tables the report shows: each with the columns the report relies
on, or an error that names the file and says to rerun its stage; and the labels the
sections share."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

import pandas as pd

from msc_response.common.errors import InputError
from msc_response.report.blocks import (
    Column,
    format_p,
    format_text,
    missing,
)


def read_tsv(path: str | Path, required: Iterable[str] = (), what: str = "") -> pd.DataFrame:
    """A result table; an error naming the file and the missing columns if it does not
    have the columns the report relies on (a stage wrote something else)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Report input '{path}' does not exist; rerun the workflow.")
    if path.stat().st_size == 0:
        frame = pd.DataFrame()
    else:
        try:
            frame = pd.read_csv(path, sep="\t", keep_default_na=True, na_values=["NA"])
        except pd.errors.EmptyDataError:
            frame = pd.DataFrame()
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(
            f"Report input '{path}'{f' ({what})' if what else ''} lacks the column(s) "
            f"{', '.join(missing)}; it was written by an older or different version of the "
            f"stage that makes it. Delete it and rerun the workflow."
        )
    return frame


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", str(text)).strip("-").lower() or "x"


def level_label(value) -> str:
    return format_text(value).replace("_", " ")


def contrast_label(contrast: dict) -> str:
    return f"{level_label(contrast['test'])} vs {level_label(contrast['reference'])}"


# audit.COLUMNS; not imported, as audit.py would bring formulaic into the report env
DESIGN_AUDIT_REQUIRED = [
    "section",
    "variable",
    "level",
    "covariate",
    "measure",
    "value",
    "flag",
    "message",
]


def categorical_design_variables(audit: pd.DataFrame) -> list[str]:
    """The design's categorical variables, in formula order, as the design audit found
    them (it counts samples per level of each)."""
    if not len(audit):
        return []
    levels = audit[audit["section"] == "samples_per_level"]
    return list(dict.fromkeys(levels["variable"].astype(str)))


def padj_column(alpha: float, help: str = "") -> Column:
    """Adjusted p-values, marked significant below `alpha`."""
    return Column(
        "padj",
        "adjusted p",
        format_p,
        numeric=True,
        help=help,
        css=lambda v: "sig" if not missing(v) and float(v) < alpha else "",
    )
