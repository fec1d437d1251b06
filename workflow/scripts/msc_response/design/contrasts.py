"""Contrasts as the config names them (`contrasts:`), and their checks against the
design and the sample sheet (run when the workflow is parsed).

Four kinds (`Contrast.kind`):

- `wald`: two levels of a categorical design variable, `{variable, test,
  reference}` (R: `results(contrast = c(variable, test, reference))`);
- `within`: the same, in one level of another factor that interacts with it,
  `{variable, test, reference, within: {factor: level}}` (R: the main effect plus
  the interaction, `results(contrast = list(c(main, interaction)))`);
- `continuous`: a numeric design variable, `{variable}`: log2 fold change per unit
  (R: `results(name = variable)`);
- `lrt`: a likelihood-ratio test of the design against a nested one, `{test: LRT,
  reduced: "~ ..."}` (R: `DESeq(dds, test = "LRT", reduced = ...)`).

What each kind estimates, in coefficients of the design, is in `design.estimable`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from msc_response.common.errors import InputError, closest, did_you_mean, listing
from msc_response.design.formula import design_variables

KINDS = ("wald", "within", "continuous", "lrt")
TWO_LEVEL = ("wald", "within")  # kinds that compare two groups of samples


@dataclass
class Contrast:
    name: str
    variable: str  # "" for an LRT
    test: str = ""  # "LRT" for an LRT; "" for a continuous variable
    reference: str = ""  # the reduced formula for an LRT
    kind: str = "wald"
    within: dict = field(default_factory=dict)  # {factor: level} for kind 'within'

    def as_list(self) -> list[str]:
        return [self.variable, self.test, self.reference]

    @property
    def reduced(self) -> str:
        """The reduced formula of an LRT."""
        return self.reference if self.kind == "lrt" else ""

    @property
    def two_level(self) -> bool:
        return self.kind in TWO_LEVEL


def _level(value) -> str:
    # YAML reads `test: 1` as an int and `test: 1.0` as a float; the sheet holds text.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def contrast_kind(spec: dict) -> str:
    """The kind of a contrast as the config writes it (see the module docstring)."""
    if str(spec.get("test", "")).upper() == "LRT" and "reduced" in spec:
        return "lrt"
    if "test" not in spec and "reference" not in spec:
        return "continuous"
    return "within" if spec.get("within") else "wald"


FORMS = (
    "two levels: {variable: response, test: responder, reference: non_responder}, "
    "optionally with 'within: {source: wharton_jelly}' (needs an interaction in the "
    "design); a continuous variable: {variable: abi_change}; a likelihood-ratio test: "
    "{test: LRT, reduced: \"~ batch + response\"}"
)


def _check_form(name: str, spec: dict) -> None:
    """The keys of a contrast make one of the kinds (see FORMS)."""
    where = f"config 'contrasts: {name}'"
    keys = set(spec or {})
    lrt = str(spec.get("test", "")).upper() == "LRT" if spec else False
    problem = None
    if "reduced" in keys and not lrt:
        problem = "'reduced' is for a likelihood-ratio test: add 'test: LRT'"
    elif lrt and "reduced" not in keys and "reference" not in keys:
        problem = "a likelihood-ratio test needs 'reduced' (the design without the terms to test)"
    elif lrt and "reduced" in keys and keys - {"test", "reduced"}:
        problem = (
            f"a likelihood-ratio test takes 'test' and 'reduced' only, not "
            f"{', '.join(repr(k) for k in sorted(keys - {'test', 'reduced'}))}"
        )
    elif lrt and "reduced" in keys:
        return
    elif "variable" not in keys:
        problem = "'variable' is missing"
    elif ("test" in keys) != ("reference" in keys):
        problem = (
            "give both 'test' and 'reference' (two levels of a categorical variable), or "
            "neither (a continuous variable)"
        )
    elif "within" in keys and "test" not in keys:
        problem = "'within' is for two levels of a categorical variable ('test' and 'reference')"
    if problem:
        raise InputError(f"{where}: {problem}. The kinds of contrast: {FORMS}.")


def parse_contrast(name: str, spec: dict) -> Contrast:
    _check_form(name, spec)
    kind = contrast_kind(spec)
    if kind == "lrt":
        return Contrast(name, "", "LRT", str(spec["reduced"]).strip(), kind="lrt")
    if kind == "continuous":
        return Contrast(name, spec["variable"], kind="continuous")
    within = {str(k): _level(v) for k, v in (spec.get("within") or {}).items()}
    return Contrast(
        name, spec["variable"], _level(spec["test"]), _level(spec["reference"]),
        kind=kind, within=within,
    )


def parse_contrasts(contrasts: dict) -> list[Contrast]:
    return [parse_contrast(name, spec) for name, spec in contrasts.items()]


def contrast_variables(contrasts: list[Contrast], design: str) -> list[str]:
    """The design variables the contrasts are about (for the design audit): the
    contrast variable, the `within` factor, and the variables an LRT drops."""
    variables: list[str] = []
    for contrast in contrasts:
        if contrast.kind == "lrt":
            try:
                reduced = set(design_variables(contrast.reduced))
            except InputError:
                continue
            variables += [v for v in design_variables(design) if v not in reduced]
        else:
            variables += [contrast.variable, *contrast.within]
    return list(dict.fromkeys(variables))


def check_contrasts(
    sheet: pd.DataFrame,
    design: str,
    contrasts: list[Contrast],
    sheet_path: str,
) -> None:
    """Each contrast can be estimated by the design on this sheet (see the kinds in
    the module docstring); raises InputError naming the contrast, what is wrong and
    the design's estimable coefficients."""
    from msc_response.design.estimable import check_estimable

    variables = design_variables(design)
    for contrast in contrasts:
        where = f"config 'contrasts: {contrast.name}'"
        if contrast.kind == "lrt":
            check_estimable(sheet, design, contrast, where)
            continue
        _check_variable(sheet, design, variables, contrast.variable, where, sheet_path)
        column = sheet[contrast.variable]
        if contrast.kind == "continuous":
            if isinstance(column.dtype, pd.CategoricalDtype):
                raise InputError(
                    f"{where}: variable '{contrast.variable}' is categorical in sample sheet "
                    f"'{sheet_path}' (levels: {listing(column.cat.categories)}), so a "
                    f"contrast on it needs 'test' and 'reference' levels; a contrast with "
                    f"'variable' alone is for a numeric (continuous) variable."
                )
            check_estimable(sheet, design, contrast, where)
            continue
        if not isinstance(column.dtype, pd.CategoricalDtype):
            raise InputError(
                f"{where}: variable '{contrast.variable}' holds numbers in sample sheet "
                f"'{sheet_path}' ({listing(sorted(column.unique()))}), so it is a "
                f"continuous covariate; a contrast compares two levels of a categorical "
                f"variable. If the numbers are labels (such as 0/1 for non-responder/"
                f"responder), add 'categorical_variables: [{contrast.variable}]' to the "
                f"config; for a log2 fold change per unit, give 'variable' alone."
            )
        if contrast.test == contrast.reference:
            raise InputError(
                f"{where}: test and reference are both '{contrast.test}'. Set reference to "
                f"the other level ({listing(c for c in column.cat.categories if c != contrast.test)})."
            )
        for role in ("test", "reference"):
            _check_level(sheet, contrast.variable, getattr(contrast, role), where,
                         f"{role} level", sheet_path)
        for factor, level in contrast.within.items():
            _check_variable(sheet, design, variables, factor, f"{where} within", sheet_path)
            if not isinstance(sheet[factor].dtype, pd.CategoricalDtype):
                raise InputError(
                    f"{where}: 'within: {{{factor}: {level}}}' needs a categorical variable; "
                    f"'{factor}' holds numbers in sample sheet '{sheet_path}'."
                )
            _check_level(sheet, factor, level, where, "within level", sheet_path)
        # every two-level contrast: with an interaction, a plain one is not one number
        check_estimable(sheet, design, contrast, where)


def _check_variable(sheet, design, variables, variable, where, sheet_path) -> None:
    if variable in variables:
        return
    in_sheet = variable in sheet.columns
    raise InputError(
        f"{where}: variable '{variable}' is not in the design '{design}'"
        f"{'' if in_sheet else did_you_mean(variable, variables)}. "
        + (
            "Add it to the design (last, as the variable of interest)."
            if in_sheet
            else f"Sample sheet '{sheet_path}' has no such column either."
        )
    )


def _check_level(sheet, variable, level, where, role, sheet_path) -> None:
    column = sheet[variable]
    if level in column.cat.categories:
        return
    match = closest(level, column.cat.categories)
    raise InputError(
        f"{where}: {role} '{level}' does not occur in column "
        f"'{variable}' of sample sheet '{sheet_path}' (levels: "
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
