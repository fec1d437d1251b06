"""The likelihood-ratio test (R DESeq2's `nbinomLRT` and `results()` on it).

PyDESeq2 0.5.4 has no LRT; this module adds it on top of a fitted design, without
touching the Wald path:

- `reduced_logliks` (rule deseq2_fit, once per distinct reduced formula): fits the
  reduced design for all genes at once with the engine's IRLS (R's `fitNbinomGLMs`:
  minimum mean 0.5 inside the iterations, beta tolerance 1e-8, ridge 1e-6; an
  intercept-only design in closed form, as R) and the *full* design's dispersions,
  as `nbinomLRT` does, and returns each gene's log-likelihood under the full and the
  reduced model, from means not floored at 0.5 (as R's logLike). Genes whose outlier counts were replaced (Cook's
  refit) use the replaced counts for both, as R's `refitWithoutOutliers` does.
- `lrt_results` (rule deseq2_contrast): statistic 2 * (logLik full - logLik
  reduced), p-value from the chi-squared distribution with df = rank difference,
  Cook's filter and independent filtering as R's `results()`; the log2FoldChange
  and lfcSE columns are the Wald estimate and standard error of the design's last
  coefficient, which is what R's `results()` shows for an LRT.

Held to R DESeq2 1.38 by tests/unit/test_de_kinds_r.py (needs_r).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MIN_MU = 0.5  # R's fitNbinomGLMs minmu, PyDESeq2's min_mu (inside the IRLS only)
BETA_TOL = 1e-8


@dataclass
class ReducedFits:
    """Log-likelihoods of the kept genes under the full and each reduced design."""

    full: np.ndarray  # genes
    reduced: dict  # formula -> genes
    df: dict  # formula -> rank difference


def nb_loglik(counts: np.ndarray, mu: np.ndarray, disp: np.ndarray) -> np.ndarray:
    """Per-gene sum over samples of R's `dnbinom(y, mu = mu, size = 1 / disp, log =
    TRUE)`; counts and mu are samples x genes. As R's `dnbinom_mu`, counts far below
    the size use the Poisson-like form, which keeps tiny dispersions accurate."""
    from scipy.special import gammaln

    y = np.asarray(counts, dtype=float)
    mu = np.asarray(mu, dtype=float)
    size = 1.0 / np.asarray(disp, dtype=float)[None, :]
    size = np.broadcast_to(size, y.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = -size * np.log1p(mu / size)  # size * log(size / (size + mu))
        general = (
            gammaln(y + size) - gammaln(size) - gammaln(y + 1)
            + log_ratio + y * (np.log(mu) - np.log(size + mu))
        )
        poisson_like = (
            y * np.log(size * mu / (size + mu)) - mu - gammaln(y + 1)
            + np.log1p(y * (y - 1) / (2 * size))
        )
    small = y < 1e-10 * size
    out = np.where(small, poisson_like, general)
    out = np.where(y == 0, log_ratio, out)
    return out.sum(axis=0)


def fitted_mu(design: np.ndarray, beta: np.ndarray, size_factors: np.ndarray) -> np.ndarray:
    """Fitted means (samples x genes) as R's fitNbinomGLMs computes its logLike: from
    the coefficients, not floored at the IRLS's minimum mean. `size_factors`:
    samples, or normalisation factors samples x genes."""
    return _scale(size_factors) * np.exp(design @ beta.T)


def _scale(size_factors: np.ndarray) -> np.ndarray:
    return size_factors if size_factors.ndim == 2 else size_factors[:, None]


def _intercept_only(matrix: np.ndarray) -> bool:
    return matrix.shape[1] == 1 and np.all(matrix == 1.0)


def reduced_logliks(
    counts: np.ndarray,
    size_factors: np.ndarray,
    design: np.ndarray,
    lfc: np.ndarray,
    dispersions: np.ndarray,
    reduced: dict,
    inference,
) -> ReducedFits:
    """Full and reduced log-likelihoods of every gene.

    counts: samples x genes as the model was fitted (replaced outliers included);
    design, lfc: the full model matrix and its natural-log coefficients (genes x
    coefficients); reduced: formula -> reduced model matrix (samples x coefficients).
    """
    counts = np.asarray(counts, dtype=float)
    sf = np.asarray(size_factors, dtype=float)
    full = nb_loglik(counts, fitted_mu(design, lfc, sf), dispersions)
    rank = int(np.linalg.matrix_rank(design))
    out, df = {}, {}
    for formula, matrix in reduced.items():
        matrix = np.asarray(matrix, dtype=float)
        if _intercept_only(matrix):
            # R's fitNbinomGLMs takes the mean of the normalised counts here
            with np.errstate(divide="ignore"):
                beta = np.log((counts / _scale(sf)).mean(axis=0))[:, None]
        else:
            beta, _, _, _ = inference.irls(
                counts=counts, size_factors=sf, design_matrix=matrix, disp=dispersions,
                min_mu=MIN_MU, beta_tol=BETA_TOL,
            )
        out[formula] = nb_loglik(counts, fitted_mu(matrix, beta, sf), dispersions)
        df[formula] = rank - int(np.linalg.matrix_rank(matrix))
    return ReducedFits(full, out, df)


def lrt_results(model, formula: str, settings, inference, adjust):
    """R's `results()` after `DESeq(test = "LRT", reduced = formula)`.

    `adjust(base_mean, pvalue, settings)` is the Wald path's Cook's-free p-value
    adjustment (independent filtering or BH). Returns the table with baseMean,
    log2FoldChange, lfcSE, stat, pvalue, padj.
    """
    from scipy.stats import chi2

    if formula not in model.reduced_loglik:
        raise KeyError(
            f"the fit has no reduced design {formula!r} (it was not an LRT's reduced "
            f"formula when the design was fitted); refit with `snakemake --forcerun deseq2_fit`"
        )
    df = model.reduced_df[formula]
    stat = 2.0 * (model.full_loglik - model.reduced_loglik[formula])
    pvalue = chi2.sf(stat, df)
    refit = model.all_zero_after_refit
    stat[refit], pvalue[refit] = 0.0, 1.0
    pvalue[~model.non_zero] = np.nan
    stat[~model.non_zero] = np.nan
    if settings.cooks_filter:
        pvalue[model.cooks_outlier] = np.nan
    X = model.design_matrix.to_numpy(dtype=float)
    lfc = model.lfc.to_numpy(dtype=float)
    last = np.zeros(X.shape[1])
    last[-1] = 1.0
    mu = np.exp(X @ lfc.T) * model.scale()
    _, _, se = inference.wald_test(
        design_matrix=X, disp=model.dispersions, lfc=lfc, mu=mu,
        ridge_factor=np.diag(np.repeat(1e-6, X.shape[1])), contrast=last,
        lfc_null=0.0, alt_hypothesis=None,
    )
    se = np.array(se, dtype=float)
    se[refit] = 0.0
    base_mean = model.base_mean.to_numpy()
    padj = adjust(base_mean, pvalue, settings)
    return pd.DataFrame(
        {
            "baseMean": base_mean,
            "log2FoldChange": lfc[:, -1] / np.log(2),
            "lfcSE": se / np.log(2),
            "stat": stat,
            "pvalue": pvalue,
            "padj": padj,
        },
        index=model.lfc.index,
    )


def fitted_counts(dds, counts: np.ndarray) -> np.ndarray:
    """The counts each gene's model was fitted on: `counts` (samples x genes, as
    read), with the Cook's-replaced counts of the genes PyDESeq2 refitted."""
    out = np.array(counts, dtype=float)
    if getattr(dds, "refit_cooks", False) and "replaced" in dds.var and dds.var["replaced"].sum():
        refit = dds.counts_to_refit
        columns = dds.var_names.get_indexer(refit.var_names)
        out[:, columns] = np.asarray(refit.X, dtype=float)
    return out


def fit_reduced(dds, model, metadata: pd.DataFrame, formulas: list[str], inference) -> ReducedFits:
    """`reduced_logliks` for the fitted dataset `dds` (its `FittedModel` `model`) and
    each reduced formula, built on `metadata` (with the fit's reference levels)."""
    from formulaic import model_matrix

    matrices = {f: np.asarray(model_matrix(f, metadata), dtype=float) for f in formulas}
    return reduced_logliks(
        fitted_counts(dds, model.counts),
        model.size_factors.to_numpy() if model.norm_factors is None else model.norm_factors,
        model.design_matrix.to_numpy(dtype=float),
        model.lfc.to_numpy(dtype=float),
        model.dispersions,
        matrices,
        inference,
    )
