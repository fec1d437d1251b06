"""Contrasts as the config names them (`contrasts:`), and their checks against the
design and the sample sheet (run when the workflow is parsed)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from msc_response.common.errors import InputError, closest, did_you_mean, listing
from msc_response.design.formula import design_variables


@dataclass
class Contrast:
    name: str
    variable: str
    test: str
    reference: str

    def as_list(self) -> list[str]:
        return [self.variable, self.test, self.reference]


def _level(value) -> str:
    # YAML reads `test: 1` as an int and `test: 1.0` as a float; the sheet holds text.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def parse_contrasts(contrasts: dict) -> list[Contrast]:
    return [
        Contrast(name, spec["variable"], _level(spec["test"]), _level(spec["reference"]))
        for name, spec in contrasts.items()
    ]


def check_contrasts(
    sheet: pd.DataFrame,
    design: str,
    contrasts: list[Contrast],
    sheet_path: str,
) -> None:
    """Each contrast compares two levels, that occur, of a categorical design variable."""
    variables = design_variables(design)
    for contrast in contrasts:
        where = f"config 'contrasts: {contrast.name}'"
        if contrast.variable not in variables:
            in_sheet = contrast.variable in sheet.columns
            raise InputError(
                f"{where}: variable '{contrast.variable}' is not in the design '{design}'"
                f"{'' if in_sheet else did_you_mean(contrast.variable, variables)}. "
                + (
                    "Add it to the design (last, as the variable of interest)."
                    if in_sheet
                    else f"Sample sheet '{sheet_path}' has no such column either."
                )
            )
        column = sheet[contrast.variable]
        if not isinstance(column.dtype, pd.CategoricalDtype):
            raise InputError(
                f"{where}: variable '{contrast.variable}' holds numbers in sample sheet "
                f"'{sheet_path}' ({listing(sorted(column.unique()))}), so it is a "
                f"continuous covariate; a contrast compares two levels of a categorical "
                f"variable. If the numbers are labels (such as 0/1 for non-responder/"
                f"responder), add 'categorical_variables: [{contrast.variable}]' to the config."
            )
        if contrast.test == contrast.reference:
            raise InputError(
                f"{where}: test and reference are both '{contrast.test}'. Set reference to "
                f"the other level ({listing(c for c in column.cat.categories if c != contrast.test)})."
            )
        for role in ("test", "reference"):
            level = getattr(contrast, role)
            if level not in column.cat.categories:
                match = closest(level, column.cat.categories)
                raise InputError(
                    f"{where}: {role} level '{level}' does not occur in column "
                    f"'{contrast.variable}' of sample sheet '{sheet_path}' (levels: "
                    f"{listing(column.cat.categories)}). "
                    + (f"Did you mean '{match}'? " if match is not None else "")
                    + "Levels must match exactly, including case."
                )


def order_reference_first(sheet: pd.DataFrame, contrast: Contrast) -> pd.DataFrame:
    """Make the contrast's reference the first level, so the contrast is one
    coefficient of the model (LFC shrinkage works on a single coefficient)."""
    sheet = sheet.copy()
    column = sheet[contrast.variable]
    levels = [contrast.reference] + [c for c in column.cat.categories if c != contrast.reference]
    sheet[contrast.variable] = column.cat.reorder_categories(levels)
    return sheet
