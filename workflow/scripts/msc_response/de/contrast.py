"""One contrast's table from a fitted design, whatever its kind (rule deseq2_contrast):
two levels of a factor (de.results), or within a level, per unit of a continuous
variable, or a likelihood-ratio test (de.kinds). Kept apart from both, so that
neither imports the other's dispatcher.
"""

from __future__ import annotations

import pandas as pd

from msc_response.de.fit import DesignFit, DESettings, fit_for_contrasts
from msc_response.de.kinds import kind_result
from msc_response.de.results import ContrastResult, wald_contrast_result
from msc_response.design.contrasts import Contrast
from msc_response.design.plan import fit_plan


def contrast_result(
    fit: DesignFit, contrast: Contrast, settings: DESettings, weights: dict | None = None
) -> ContrastResult:
    """One contrast's results from a fitted design (`weights`: the coefficients, by
    name, of a within or continuous contrast, from design.estimable.contrast_weights).

    Returns one row per input gene (pre-filtered genes included, with
    `status='low_counts'`), sorted by padj then p-value then gene ID.
    """
    if contrast.kind != "wald":
        return kind_result(fit, contrast, settings, weights)
    return wald_contrast_result(fit, contrast, settings)


def run_contrast(
    counts: pd.DataFrame,
    sheet: pd.DataFrame,
    design: str,
    contrast: Contrast,
    symbols: pd.Series,
    settings: DESettings,
) -> ContrastResult:
    """Fit the design for one contrast alone and test it (its own pre-filter and
    reference level): what a separate per-contrast run gives. `sheet`: typed design
    variables, indexed by sample (any kind of contrast)."""
    plan = fit_plan(sheet, [contrast], settings.min_samples, design)
    fit = fit_for_contrasts(counts, sheet, design, plan, symbols, settings)
    weights = None
    if contrast.kind in ("within", "continuous"):
        from msc_response.design.estimable import contrast_weights

        weights = contrast_weights(sheet, design, contrast, plan["reference_levels"])
    return contrast_result(fit, contrast, settings, weights)
