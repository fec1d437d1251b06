"""The dispersion trend: a gamma GLM with identity link, mean dispersion ~ a0 + a1 / mean.

``dispersion_trend_gamma_glm`` is DefaultInference's fit: scipy's L-BFGS-B on the
mean gamma negative log-likelihood, with the same start, bounds and formulas, so
both engines stop at the same point. ``gamma_identity_glm`` is the exact maximum-likelihood fit R DESeq2's
``parametricDispersionFit`` computes (``glm(family=Gamma("identity"))``), for
r_compat's ``DeseqDataSetR``.

Held by ``test_close_for_expressed_genes`` (dispersions, through the trend) in
tests/unit/test_fast_inference.py and ``test_r_trend_uses_genes_above_100_min_disp``
in tests/unit/test_r_compat.py.
"""

from __future__ import annotations

import numpy as np


def dispersion_trend_gamma_glm(covariates, targets) -> tuple[np.ndarray, np.ndarray, bool]:
    """``Inference.dispersion_trend_gamma_glm``, as DefaultInference."""
    # One 2-parameter problem: use the same L-BFGS-B set-up as DefaultInference
    # so both engines stop at the same point (R's exact IRLS fit is
    # `gamma_identity_glm`, used by r_compat.DeseqDataSetR).
    from scipy.optimize import minimize

    x = np.asarray(covariates, dtype=float)
    y = np.asarray(targets, dtype=float)
    X = np.column_stack([np.ones_like(x), x])

    def loss(coeffs):
        mu = X @ coeffs
        return np.nanmean(y / mu + np.log(mu), axis=0)

    def grad(coeffs):
        mu = X @ coeffs
        return -np.nanmean(((y / mu - 1)[:, None] * X) / mu[:, None], axis=0)

    try:
        res = minimize(
            loss,
            x0=np.array([1.0, 1.0]),
            jac=grad,
            method="L-BFGS-B",
            bounds=[(1e-12, np.inf)],
        )
    except RuntimeWarning:  # only when warnings are errors, as DefaultInference
        return np.array([np.nan, np.nan]), np.array([np.nan, np.nan]), False
    return res.x, X @ res.x, bool(res.success)


def gamma_identity_glm(
    x: np.ndarray, y: np.ndarray, start=(1.0, 1.0), maxit: int = 100, tol: float = 1e-10
) -> tuple[np.ndarray, bool]:
    """Gamma GLM with identity link, y ~ b0 + b1 * x, by Fisher scoring (IRLS).

    This is the maximum-likelihood fit R's ``glm(family=Gamma("identity"), start=)``
    computes (step-halving when a step leaves the valid region or raises the
    deviance, like ``glm.fit``) and the optimum PyDESeq2's L-BFGS-B approximates.
    Non-finite pairs are ignored.
    """
    keep = np.isfinite(x) & np.isfinite(y) & (y > 0)
    x, y = x[keep], y[keep]
    X = np.column_stack([np.ones_like(x), x])

    def deviance(mu):
        return 2.0 * np.sum(-np.log(y / mu) + (y - mu) / mu)

    b = np.asarray(start, dtype=float)
    mu = X @ b
    if len(y) < 2 or np.any(mu <= 0):
        return np.array([np.nan, np.nan]), False
    dev = deviance(mu)
    for _ in range(maxit):
        w = 1.0 / mu**2
        XtW = X.T * w
        try:
            b_new = np.linalg.solve(XtW @ X, XtW @ y)
        except np.linalg.LinAlgError:
            return b, False
        for _half in range(60):
            mu_new = X @ b_new
            if np.all(mu_new > 0):
                dev_new = deviance(mu_new)
                if np.isfinite(dev_new) and dev_new <= dev * (1 + 1e-12) + 1e-12:
                    break
            b_new = 0.5 * (b_new + b)
        else:
            return b, False
        b, mu = b_new, mu_new
        change = abs(dev_new - dev) / (abs(dev_new) + 0.1)
        dev = dev_new
        if change < tol:
            return b, True
    return b, False
