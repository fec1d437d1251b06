"""What the one DE fit of a design needs from the config, decided when the workflow is
parsed (so this module imports no model library): the fit-stage settings, each
contrast variable's reference level and the per-design pre-filter."""

from __future__ import annotations

import pandas as pd

from msc_response.design.contrasts import Contrast


def fit_stage(section: dict) -> dict:
    """The part of the config's `diffexp` section the fit depends on (the rest is
    per contrast): a change elsewhere, such as `alpha`, needs no refit."""
    fit_keys = ("inference", "dispersion_prior", "prefilter", "fit_type", "size_factors_fit_type")
    stage = {key: section[key] for key in fit_keys if key in section}
    if "refit" in section.get("cooks", {}):
        stage["cooks"] = {"refit": section["cooks"]["refit"]}
    return stage


# The pre-filter's `min_samples` when no contrast compares groups (only continuous
# variables): the DESeq2 vignette's example `smallestGroupSize`.
DEFAULT_MIN_SAMPLES = 3


def _group_sizes(sheet: pd.DataFrame, contrast: Contrast, design: str | None) -> list[int]:
    """Sizes of the groups of samples `contrast` compares: its two levels (within
    the `within` level), the levels of the categorical variables an LRT drops, none
    for a continuous variable."""
    if contrast.kind == "continuous":
        return []
    if contrast.kind == "lrt":
        from msc_response.design.formula import design_variables

        kept = set(design_variables(contrast.reduced))
        sizes = []
        for variable in design_variables(design) if design else []:
            column = sheet[variable]
            if variable not in kept and isinstance(column.dtype, pd.CategoricalDtype):
                sizes += list(column.astype(str).value_counts().to_numpy())
        return [int(s) for s in sizes]
    rows = pd.Series(True, index=sheet.index)
    for factor, level in contrast.within.items():
        rows &= sheet[factor].astype(str) == level
    counts = sheet.loc[rows, contrast.variable].astype(str).value_counts()
    return [int(counts.get(contrast.test, 0)), int(counts.get(contrast.reference, 0))]


def smallest_group(
    sheet: pd.DataFrame, contrasts: list[Contrast], design: str | None = None
) -> int:
    """Size of the smallest group among the levels compared by any of `contrasts`:
    the DESeq2 vignette's `smallestGroupSize`, for one pre-filter per design
    (`DEFAULT_MIN_SAMPLES` when no contrast compares groups)."""
    sizes = [size for c in contrasts for size in _group_sizes(sheet, c, design)]
    return min(sizes) if sizes else DEFAULT_MIN_SAMPLES


def fit_plan(
    sheet: pd.DataFrame,
    contrasts: list[Contrast],
    min_samples: int | None,
    design: str | None = None,
) -> dict:
    """What the one fit of the design needs to know about the contrasts:
    `reference_levels`, each contrast variable's reference level (that of the first
    contrast on it, so that contrast is one model coefficient; other contrasts on the
    variable are tested with a contrast vector), and the pre-filter's `min_samples`
    (`min_samples` if set, else the smallest group among all contrasts' levels),
    and, when there are LRT contrasts, `reduced_designs`: their distinct reduced
    formulas, each fitted once with the full design's dispersions (as R's
    `nbinomLRT`).

    A new contrast that changes none of these needs no refit.
    """
    references: dict[str, str] = {}
    for contrast in contrasts:
        if contrast.two_level:
            references.setdefault(contrast.variable, contrast.reference)
    plan = {
        "reference_levels": references,
        "min_samples": int(min_samples or smallest_group(sheet, contrasts, design)),
    }
    reduced = sorted({c.reduced for c in contrasts if c.kind == "lrt"})
    if reduced:  # only then, so that a design without one keeps its plan (and fit)
        plan["reduced_designs"] = reduced
    return plan
