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
    if "label" in contrast:
        return contrast["label"]
    return f"{level_label(contrast['test'])} vs {level_label(contrast['reference'])}"


def shown_contrast(spec: dict, design: str = "") -> dict:
    """A contrast of any kind (msc_response.design.contrasts) as the report's sections
    show it: `variable`, `test` and `reference` (the two sides of its log2 fold
    changes), `label`, `kind` and `meaning` (a sentence on what it estimates). A
    two-level contrast comes back as it is, with kind and meaning added."""
    spec = dict(spec)
    if str(spec.get("test", "")).upper() == "LRT" and "reduced" in spec:
        reduced = spec["reduced"]
        return dict(
            variable="LRT", test="the last coefficient's direction", reference="the other",
            label=f"LRT: {design} against {reduced}" if design else f"LRT against {reduced}",
            kind="lrt",
            meaning=(
                f"A likelihood-ratio test of the design {design} against {reduced}: "
                f"a gene is significant if the terms the reduced design drops explain "
                f"its expression, in any direction. The log2 fold change shown is the "
                f"design's last coefficient (as R DESeq2 shows it); up and down refer to it."
            ),
        )
    variable = format_text(spec["variable"])
    if "test" not in spec:
        return dict(
            variable=variable, test=f"samples with higher {variable}",
            reference=f"samples with lower {variable}", label=f"per unit of {variable}",
            kind="continuous",
            meaning=(
                f"log2 fold changes are per unit of {variable} (a continuous variable): "
                f"positive means expression rises with {variable}."
            ),
        )
    test, reference = format_text(spec["test"]), format_text(spec["reference"])
    within = spec.get("within") or {}
    where = "".join(f" among samples with {f} = {format_text(v)}" for f, v in within.items())
    shown = dict(spec, variable=variable, test=test, reference=reference,
                 kind="within" if within else "wald",
                 meaning=(f"log2 fold changes are {test} over {reference} in "
                          f"{variable}{where}: positive means higher in {test}."))
    if within:
        shown["label"] = (
            f"{level_label(test)} vs {level_label(reference)} in "
            + ", ".join(f"{level_label(v)}" for v in within.values())
        )
    return shown


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
