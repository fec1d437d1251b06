"""What a contrast estimates, in coefficients of the design (run when the workflow is
parsed, from the sample sheet and the config alone).

- `contrast_weights`: the contrast as weights on the model's coefficients, by name,
  found as the difference of two model-matrix rows (the same samples with the test
  and with the reference level, or with the variable one unit higher), so that it
  is right for any parametrisation formulaic builds: `response[T.responder]` for a
  plain two-level contrast, `response[T.responder] + source[T.wj]:response[T.responder]`
  within a level of an interacting factor (R's `list(c(main, interaction))`), the
  coefficient named after a continuous variable for its per-unit effect;
- `reduced_model`: the reduced design of an LRT, checked to be nested in the full one;
- `check_estimable`: a contrast the design cannot estimate stops the run, before any
  fit, with the design's coefficients listed by name;
- `describe`: what the contrast estimates, in words (results/qc/contrasts.tsv).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_response.common.errors import InputError
from msc_response.design.formula import design_variables

TOLERANCE = 1e-9


def _typed(sheet: pd.DataFrame, references: dict[str, str] | None) -> pd.DataFrame:
    """The sheet with each variable in `references` having that first level (as
    de.fit.with_reference_levels, which rule deseq2_fit uses)."""
    sheet = sheet.copy()
    for variable, reference in (references or {}).items():
        column = sheet[variable].astype("category")
        levels = [reference] + [c for c in column.cat.categories if c != reference]
        sheet[variable] = column.cat.reorder_categories(levels)
    return sheet


def model(sheet: pd.DataFrame, design: str, references: dict[str, str] | None = None):
    """formulaic's model matrix of `design` on the sheet, each variable in
    `references` with that reference level (as rule deseq2_fit builds it)."""
    from formulaic import model_matrix

    return model_matrix(design, _typed(sheet, references))


def coefficients(sheet, design, references=None) -> list[str]:
    return list(model(sheet, design, references).columns)


def _estimable_note(sheet, design, references=None) -> str:
    try:
        names = coefficients(sheet, design, references)
    except Exception:  # noqa: BLE001 - the design's own checks report it
        return ""
    return f" The design '{design}' estimates these coefficients: " + ", ".join(
        f"'{name}'" for name in names
    ) + "."


def _rows(spec, frame: pd.DataFrame) -> np.ndarray:
    return np.asarray(spec.get_model_matrix(frame), dtype=float)


def _set(frame: pd.DataFrame, variable: str, value) -> None:
    column = frame[variable]
    if isinstance(column.dtype, pd.CategoricalDtype):
        frame[variable] = pd.Categorical(
            [value] * len(frame), categories=column.cat.categories
        )
    else:
        frame[variable] = float(value)


def contrast_weights(
    sheet: pd.DataFrame, design: str, contrast, references: dict[str, str] | None = None
) -> dict[str, float]:
    """The contrast (kinds wald, within, continuous) as {coefficient: weight}; zero
    weights left out. Raises InputError when the effect is not one number: it
    depends on a variable the contrast does not fix (an interaction without
    `within:`), or `within:` names a factor that does not interact with it."""
    matrix = model(sheet, design, references)
    spec, names = matrix.model_spec, list(matrix.columns)
    where = f"config 'contrasts: {contrast.name}'"
    base = _typed(sheet, references)[design_variables(design)].copy()
    for factor, level in contrast.within.items():
        _set(base, factor, level)
    high, low = base.copy(), base.copy()
    if contrast.kind == "continuous":
        values = base[contrast.variable].to_numpy(dtype=float)
        high[contrast.variable] = values + 1.0
        low[contrast.variable] = values
    else:
        _set(high, contrast.variable, contrast.test)
        _set(low, contrast.variable, contrast.reference)
    difference = _rows(spec, high) - _rows(spec, low)
    varies = np.ptp(difference, axis=0) > TOLERANCE
    if varies.any():
        moving = [names[i] for i in np.flatnonzero(varies)]
        others = [
            v for v in design_variables(design)
            if v != contrast.variable and v not in contrast.within
            and any(v in name for name in moving)
        ]
        raise InputError(
            f"{where}: the effect of '{contrast.variable}' is not one number in the design "
            f"'{design}': it depends on {', '.join(repr(o) for o in others) or 'other variables'} "
            f"through coefficient(s) {', '.join(repr(m) for m in moving)}. Fix the level "
            f"it is estimated in with 'within: {{{(others or ['factor'])[0]}: <level>}}' "
            f"(for a categorical variable), or drop the interaction."
            + _estimable_note(sheet, design, references)
        )
    row = difference[0]
    weights = {names[i]: float(row[i]) for i in np.flatnonzero(np.abs(row) > TOLERANCE)}
    if not weights:
        raise InputError(
            f"{where}: the design '{design}' has no coefficient for this contrast."
            + _estimable_note(sheet, design, references)
        )
    if contrast.kind == "within":
        plain = type(contrast)(contrast.name, contrast.variable, contrast.test,
                               contrast.reference, kind="wald")
        try:
            main = _main_effect(sheet, design, plain, references)
        except InputError:
            main = None  # the effect depends on the within factor: an interaction
        if main is not None:
            factor = ", ".join(contrast.within)
            raise InputError(
                f"{where}: 'within: {contrast.within}' needs an interaction of "
                f"'{contrast.variable}' with '{factor}' in the design (for example "
                f"'~ {factor} * {contrast.variable}' or '... + {factor}:{contrast.variable}'); "
                f"in '{design}' the effect of '{contrast.variable}' is the same in every "
                f"level of '{factor}', so drop 'within:'."
                + _estimable_note(sheet, design, references)
            )
    return weights


def _main_effect(sheet, design, contrast, references):
    """The weights of a plain two-level contrast (an error if they vary)."""
    return contrast_weights(sheet, design, contrast, references)


def reduced_model(sheet: pd.DataFrame, design: str, reduced: str, where: str):
    """(reduced model matrix, rank difference) of an LRT; InputError if `reduced` is
    not a formula, uses a variable the design does not, or is not nested in it."""
    try:
        reduced_variables = design_variables(reduced)
    except InputError:
        raise InputError(
            f"{where}: reduced '{reduced}' is not a formula. Write the design without "
            f"the terms to test, such as '~ batch + response' for a design "
            f"'~ batch + source + response'." + _estimable_note(sheet, design)
        ) from None
    extra = [v for v in reduced_variables if v not in design_variables(design)]
    if extra:
        raise InputError(
            f"{where}: the reduced design '{reduced}' uses {', '.join(repr(v) for v in extra)}, "
            f"which the design '{design}' does not: the reduced design must be the full "
            f"design with terms removed." + _estimable_note(sheet, design)
        )
    full = model(sheet, design).to_numpy(dtype=float)
    small = model(sheet, reduced).to_numpy(dtype=float)
    solution = np.linalg.lstsq(full, small, rcond=None)[0]
    if np.abs(full @ solution - small).max() > 1e-8 * max(1.0, np.abs(small).max()):
        raise InputError(
            f"{where}: the reduced design '{reduced}' is not nested in the design "
            f"'{design}' (some of its columns are not combinations of the design's), so "
            f"the likelihood-ratio test does not apply." + _estimable_note(sheet, design)
        )
    df = int(np.linalg.matrix_rank(full)) - int(np.linalg.matrix_rank(small))
    if df <= 0:
        raise InputError(
            f"{where}: the reduced design '{reduced}' removes nothing from the design "
            f"'{design}' (same rank): there is nothing to test. Remove the terms to test "
            f"from it." + _estimable_note(sheet, design)
        )
    return model(sheet, reduced), df


def check_estimable(sheet: pd.DataFrame, design: str, contrast, where: str) -> None:
    """InputError (with the design's coefficients by name) if the design cannot
    estimate `contrast`."""
    if contrast.kind == "lrt":
        reduced_model(sheet, design, contrast.reduced, where)
        return
    references = {contrast.variable: contrast.reference} if contrast.two_level else {}
    contrast_weights(sheet, design, contrast, references)


def dropped_coefficients(sheet, design, reduced, references=None) -> list[str]:
    """The design's coefficients whose terms the reduced design does not have."""
    full = model(sheet, design, references)
    kept = set(model(sheet, reduced, references).columns)
    return [name for name in full.columns if name not in kept]


def _adjusted_for(design: str, contrast) -> str:
    others = [
        v for v in design_variables(design)
        if v != contrast.variable and v not in contrast.within
    ]
    return f", adjusted for {', '.join(others)}" if others else ""


def describe(sheet: pd.DataFrame, design: str, contrast, references=None) -> dict:
    """What `contrast` estimates: {kind, coefficients (weights by name, or the
    dropped coefficients of an LRT), df, description in words}."""
    if contrast.kind == "lrt":
        _, df = reduced_model(sheet, design, contrast.reduced, f"contrast {contrast.name}")
        dropped = dropped_coefficients(sheet, design, contrast.reduced, references)
        last = coefficients(sheet, design, references)[-1]
        words = (
            f"likelihood-ratio test of '{design}' against '{contrast.reduced}': does any "
            f"of the removed coefficients ({', '.join(dropped)}) explain expression? "
            f"Chi-squared with {df} degree(s) of freedom; no direction. The log2FoldChange "
            f"column is the Wald estimate of the design's last coefficient, '{last}', as R "
            f"DESeq2 shows it."
        )
        return dict(kind="lrt", coefficients=" - ".join(dropped), df=df, description=words)
    weights = contrast_weights(sheet, design, contrast, references)
    terms = " + ".join(
        (f"{w:g} * " if w != 1 else "") + name for name, w in weights.items()
    )
    if contrast.kind == "continuous":
        words = (
            f"log2 fold change per unit of '{contrast.variable}'{_adjusted_for(design, contrast)}"
            f" (Wald test of coefficient {terms})."
        )
    else:
        place = "".join(f" among samples with {f} = {level}" for f, level in contrast.within.items())
        words = (
            f"log2 fold change of {contrast.variable} = {contrast.test} over "
            f"{contrast.variable} = {contrast.reference}{place}"
            f"{_adjusted_for(design, contrast)} (Wald test of {terms})."
        )
    return dict(kind=contrast.kind, coefficients=terms, df=1, description=words)


def contrasts_table(sheet: pd.DataFrame, design: str, contrasts, references=None) -> pd.DataFrame:
    """results/qc/contrasts.tsv: one row per contrast with its kind, the coefficients
    it tests (weights by name; for an LRT the removed ones), its degrees of freedom
    and what it estimates in words."""
    rows = []
    for contrast in contrasts:
        try:
            row = describe(sheet, design, contrast, references)
        except InputError as error:  # the run stops at check_inputs; say why here
            row = dict(kind=contrast.kind, coefficients="", df=np.nan,
                       description=f"cannot be estimated: {error}")
        rows.append({"contrast": contrast.name, **row})
    return pd.DataFrame(rows, columns=["contrast", "kind", "coefficients", "df", "description"])
