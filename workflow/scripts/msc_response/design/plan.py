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


def smallest_group(sheet: pd.DataFrame, contrasts: list[Contrast]) -> int:
    """Size of the smallest group among the levels compared by any of `contrasts`:
    the DESeq2 vignette's `smallestGroupSize`, for one pre-filter per design."""
    return min(
        int(sheet[c.variable].astype(str).value_counts()[[c.test, c.reference]].min())
        for c in contrasts
    )


def fit_plan(sheet: pd.DataFrame, contrasts: list[Contrast], min_samples: int | None) -> dict:
    """What the one fit of the design needs to know about the contrasts:
    `reference_levels`, each contrast variable's reference level (that of the first
    contrast on it, so that contrast is one model coefficient; other contrasts on the
    variable are tested with a contrast vector), and the pre-filter's `min_samples`
    (`min_samples` if set, else the smallest group among all contrasts' levels).

    A new contrast that changes neither needs no refit.
    """
    references: dict[str, str] = {}
    for contrast in contrasts:
        references.setdefault(contrast.variable, contrast.reference)
    return {
        "reference_levels": references,
        "min_samples": int(min_samples or smallest_group(sheet, contrasts)),
    }
