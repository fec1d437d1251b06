"""Results of the contrast kinds beyond two levels of a factor (rule deseq2_contrast):
a two-level contrast within a level of an interacting factor, a continuous
variable's per-unit effect, and the likelihood-ratio test (see
design.contrasts for the kinds and design.estimable for their weights).

- `within`, `continuous`: a Wald test of the contrast's weights on the coefficients
  (R: `results(contrast = list(c(main, interaction)))`, `results(name = variable)`),
  then the Cook's filter and independent filtering as for any Wald contrast. Their
  shrunken LFCs shrink the contrast itself: the model is reparametrised so the
  contrast is one coefficient (new coefficients M beta, M the identity with one
  row replaced by the weights; design X M^-1), which leaves the fitted means and
  dispersions as they are, as `shrink_lfc` does for a releveled factor; continuous
  columns are centred first (`centred`), another exact reparametrisation.
- `lrt`: de.lrt; its shrunken columns shrink the last coefficient, the one whose
  Wald estimate the log2FoldChange column shows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_response.de.engines import make_inference
from msc_response.de.fit import DesignFit, DESettings, FittedModel
from msc_response.de.results import (
    ContrastResult,
    _with_filtered_genes,
    adjust_pvalues,
    shrink_coefficient,
    contrast_status,
    wald_results,
)
from msc_response.design.contrasts import Contrast


def weight_vector(model: FittedModel, contrast: Contrast, weights: dict) -> np.ndarray:
    """The contrast's weights (coefficient name -> weight, from
    design.estimable.contrast_weights when the workflow was parsed) in the order of
    the fitted model's coefficients."""
    columns = list(model.design_matrix.columns)
    unknown = [name for name in weights if name not in columns]
    if unknown or not weights:
        raise KeyError(
            f"contrast {contrast.name!r}: coefficient(s) {unknown} are not in the fitted "
            f"design {columns}; refit with `snakemake --forcerun deseq2_fit`"
        )
    return np.array([float(weights.get(name, 0.0)) for name in columns])


def reparametrised(model: FittedModel, vector: np.ndarray):
    """(design X', MLEs B', index) with coefficient `index` of the model X' equal to
    the contrast `vector`'s value: beta' = M beta, M the identity with row `index`
    replaced by `vector` (index: the largest weight, the first of equals)."""
    index = int(np.argmax(np.abs(vector)))
    M = np.eye(len(vector))
    M[index] = vector
    X = model.design_matrix
    lfc = model.lfc.to_numpy(dtype=float)
    if np.allclose(M, np.eye(len(vector))):
        return X, lfc, index
    X_new = pd.DataFrame(
        X.to_numpy(dtype=float) @ np.linalg.inv(M), index=X.index, columns=X.columns
    )
    return X_new, lfc @ M.T, index


def centred(X: pd.DataFrame, lfc: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """The same model with its continuous columns (values other than 0 and 1)
    centred, the intercept absorbing their means: fitted means and every other
    coefficient unchanged. Shrinkage's optimiser needs it: on an uncentred variable
    such as age in years (mean ~70) it stopped far from the optimum (shrunken
    log2FC 0.24 for an MLE of -0.03 on the example cohort)."""
    values = X.to_numpy(dtype=float)
    intercept = np.flatnonzero(np.all(values == 1.0, axis=0))
    continuous = [j for j in range(values.shape[1]) if not np.isin(values[:, j], (0.0, 1.0)).all()]
    if not len(intercept) or not continuous:
        return X, lfc
    means = values[:, continuous].mean(axis=0)
    values = values.copy()
    values[:, continuous] -= means
    lfc = lfc.copy()
    lfc[:, intercept[0]] += lfc[:, continuous] @ means
    return pd.DataFrame(values, index=X.index, columns=X.columns), lfc


def kind_result(
    fit: DesignFit, contrast: Contrast, settings: DESettings, weights: dict | None = None
) -> ContrastResult:
    """One contrast of kind within, continuous or lrt: the table of
    `results.wald_contrast_result` (same columns and status values)."""
    model = fit.model
    inference = make_inference(settings.inference, settings.n_cpus)
    if contrast.kind == "lrt":
        from msc_response.de.lrt import lrt_results

        table = lrt_results(model, contrast.reduced, settings, inference, adjust_pvalues)
        se = table["lfcSE"].to_numpy() * np.log(2)
        index = model.design_matrix.shape[1] - 1
        X, lfc = model.design_matrix, model.lfc.to_numpy(dtype=float)
    else:
        vector = weight_vector(model, contrast, weights or {})
        table, wald = wald_results(
            model, [contrast.name], settings, inference, vector=vector
        )
        se = wald.se
        X, lfc, index = reparametrised(model, vector)
    table["status"] = contrast_status(table, model, settings)
    if settings.lfc_shrinkage:
        X, lfc = centred(X, lfc)
        shrunk, shrunk_se = shrink_coefficient(model, X, lfc, index, se, inference)
        table["log2FoldChange_shrunk"] = shrunk / np.log(2)
        table["lfcSE_shrunk"] = shrunk_se / np.log(2)
    size_factors = model.size_factors.rename("size_factor")
    return ContrastResult(_with_filtered_genes(table, fit.genes), size_factors)
