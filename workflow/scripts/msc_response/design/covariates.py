"""Removing covariate effects (batch, tissue source, ...) from expression values.

As limma's `removeBatchEffect`: fit each gene by least squares on the design (the
variable of interest and the covariates together), then subtract only the
covariates' part. The covariate columns are centred first, so a gene's mean over
the fitted samples is unchanged and values stay on their own scale. Used for
figures and per-gene AUROCs (the model itself keeps the covariates) and, inside each
training fold, by the signature's classifier.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd


def _mentions(expression: str, variable: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(variable)}(?![\w])", expression) is not None


@dataclass
class DesignParts:
    """A design's model matrix split into what is kept and what is removed."""

    kept: np.ndarray  # intercept and every term with the variable of interest
    covariates: np.ndarray  # every other term, uncentred
    covariate_names: list[str]


def design_parts(obs: pd.DataFrame, design: str, variable: str) -> DesignParts:
    """Split the model matrix of `design` on `obs` into the terms that involve
    `variable` (kept, with the intercept) and the covariate terms (to remove)."""
    from formulaic import model_matrix

    obs = obs.copy()
    for column in obs.columns:
        if isinstance(obs[column].dtype, pd.CategoricalDtype):
            obs[column] = obs[column].cat.remove_unused_categories()
    matrix = model_matrix(design, obs)
    kept, covariate = [], []
    for term, columns in matrix.model_spec.term_slices.items():
        factors = [str(f) for f in term.factors]
        of_interest = any(_mentions(f, variable) for f in factors) or factors == ["1"]
        (kept if of_interest else covariate).extend(range(columns.start, columns.stop))
    values = matrix.to_numpy(dtype=float)
    return DesignParts(
        kept=values[:, kept],
        covariates=values[:, covariate],
        covariate_names=[matrix.columns[i] for i in covariate],
    )


@dataclass
class CovariateFit:
    """Covariate effects fitted on some samples; `remove` applies them to any."""

    centre: np.ndarray  # covariate column means of the fitted samples
    coef: np.ndarray  # covariate columns x genes

    def remove(self, values: np.ndarray, covariates: np.ndarray) -> np.ndarray:
        if covariates.shape[1] == 0:
            return np.array(values, dtype=float, copy=True)
        return values - (covariates - self.centre) @ self.coef


def fit_covariates(values: np.ndarray, kept: np.ndarray, covariates: np.ndarray) -> CovariateFit:
    """Least-squares fit of `values` (samples x genes) on [kept, centred covariates].

    Unidentifiable columns (a level absent from these samples) get the minimum-norm
    solution, i.e. no correction, instead of an error. The pseudo-inverse of the small
    design matrix times the values is the least-squares fit for all genes at once
    (much faster than `lstsq` with thousands of right-hand sides).
    """
    centre = covariates.mean(axis=0) if covariates.shape[0] else np.zeros(covariates.shape[1])
    if covariates.shape[1] == 0:
        return CovariateFit(centre, np.zeros((0, values.shape[1])))
    full = np.hstack([kept, covariates - centre])
    coef = np.linalg.pinv(full) @ values
    return CovariateFit(centre, coef[kept.shape[1]:])


def remove_covariates(
    values: np.ndarray, obs: pd.DataFrame, design: str, variable: str
) -> np.ndarray:
    """`values` (samples x genes, e.g. VST) with the covariate terms of `design`
    removed and the terms of `variable` kept (limma removeBatchEffect-style)."""
    parts = design_parts(obs, design, variable)
    fit = fit_covariates(values, parts.kept, parts.covariates)
    return fit.remove(values, parts.covariates)
