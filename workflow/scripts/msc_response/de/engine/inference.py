"""``FastInference``: PyDESeq2's ``Inference`` interface, wired to the engine's modules.

Every method of :class:`pydeseq2.inference.Inference` runs on all genes at once:
``glm`` (IRLS, Wald test), ``dispersion`` (``alpha_mle``), ``trend`` (the gamma GLM
dispersion trend), ``shrinkage`` (``lfc_shrink_nbinom_glm``); the moment and
least-squares initial estimates are here. Problems of ``numba_min_cells`` genes x
samples and more run numba kernels, compiled on first use (``kernels``); smaller
ones the numpy lockstep versions of the same algorithms, which avoid numba's import
and start-up (~0.4 s per process). BLAS is limited to one thread per call: the
batched work is many tiny matrices.

Held by tests/unit/test_fast_inference.py, which runs PyDESeq2's ``DeseqDataSet`` /
``DeseqStats`` pipeline with FastInference and with DefaultInference on pasilla and
synthetic data (``test_size_factors_identical``, ``test_close_for_expressed_genes``,
``test_same_calls``, ``test_deterministic``), and by
tests/external/test_pydeseq2_suite.py (PyDESeq2's own test suite with FastInference
in place of DefaultInference).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydeseq2.inference import Inference

from . import dispersion, glm, shrinkage, trend
from .kernels import compile_kernels
from .linalg import one_blas_thread

__all__ = ["FastInference"]


class FastInference(Inference):
    """Gene-vectorised DESeq2 inference (drop-in for ``DefaultInference``).

    Parameters
    ----------
    n_cpus : int, optional
        Number of threads for the numba kernels (``None``: numba's default). The
        numpy/BLAS parts follow the usual BLAS thread settings.
    """

    #: irls, alpha_mle and lfc_shrink_nbinom_glm run their numba kernels (parallel,
    #: compiled once per machine but ~0.4 s to load per process) from this many
    #: genes x samples; below, the numpy lockstep versions of the same algorithms.
    numba_min_cells: int = 300_000

    def __init__(self, n_cpus: int | None = None, **_ignored):
        self._n_cpus = n_cpus

    @property
    def n_cpus(self) -> int | None:
        return self._n_cpus

    @n_cpus.setter
    def n_cpus(self, n_cpus: int | None) -> None:
        self._n_cpus = n_cpus

    def _threads(self):
        """Context manager-free helper: set numba's thread count if asked to."""
        if self._n_cpus:
            import numba

            numba.set_num_threads(max(1, min(int(self._n_cpus), numba.config.NUMBA_NUM_THREADS)))

    def _use_numba(self, cells: int) -> bool:
        """Whether a problem of ``cells`` genes x samples runs the numba kernels; if
        so, they are compiled (once per process) and numba's threads set."""
        if cells < self.numba_min_cells:
            return False
        compile_kernels()
        self._threads()
        return True

    # ------------------------------------------------------------------ moments / init
    @one_blas_thread
    def fit_rough_dispersions(
        self, normed_counts: np.ndarray, design_matrix: np.ndarray
    ) -> np.ndarray:
        X = np.asarray(design_matrix, dtype=float)
        num_samples, num_vars = X.shape
        if num_samples == num_vars:
            raise ValueError(
                "The number of samples and the number of design variables are "
                "equal, i.e., there are no replicates to estimate the "
                "dispersion. Please use a design with fewer variables."
            )
        Y = np.asarray(normed_counts, dtype=float)
        coef = np.linalg.lstsq(X, Y, rcond=None)[0]
        y_hat = np.maximum(X @ coef, 1.0)
        alpha_rde = (((Y - y_hat) ** 2 - y_hat) / ((num_samples - num_vars) * y_hat**2)).sum(
            axis=0
        )
        return np.maximum(alpha_rde, 0.0)

    def fit_moments_dispersions(
        self, normed_counts: np.ndarray, size_factors: np.ndarray
    ) -> np.ndarray:
        Y = np.asarray(normed_counts, dtype=float)
        Y = Y[:, ~(Y == 0).all(axis=0)]
        s_mean_inv = np.mean(1.0 / np.asarray(size_factors, dtype=float))
        mu = Y.mean(0)
        sigma = Y.var(0, ddof=1)
        return np.nan_to_num((sigma - s_mean_inv * mu) / mu**2)

    @one_blas_thread
    def lin_reg_mu(
        self,
        counts: np.ndarray,
        size_factors: np.ndarray,
        design_matrix: np.ndarray,
        min_mu: float,
    ) -> np.ndarray:
        X = np.asarray(design_matrix, dtype=float)
        sf = np.asarray(size_factors, dtype=float)
        # size factors (n,), or normalisation factors (n, genes): R's
        # linearModelMuNormalized fits counts / nf and multiplies back by nf
        scale = sf if sf.ndim == 2 else sf[:, None]
        Y = np.asarray(counts, dtype=float) / scale
        coef = np.linalg.lstsq(X, Y, rcond=None)[0]
        mu_hat = scale * (X @ coef)
        return np.maximum(mu_hat, min_mu)


    # ------------------------------------------------------------------ IRLS
    @one_blas_thread
    def irls(
        self,
        counts: np.ndarray,
        size_factors: np.ndarray,
        design_matrix: np.ndarray,
        disp: np.ndarray,
        min_mu: float,
        beta_tol: float,
        min_beta: float = -30,
        max_beta: float = 30,
        optimizer: Literal["BFGS", "L-BFGS-B"] = "L-BFGS-B",
        maxiter: int = 250,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return glm.irls(
            counts, size_factors, design_matrix, disp, min_mu, beta_tol, min_beta, max_beta,
            optimizer, maxiter, self._use_numba,
        )

    # ------------------------------------------------------------------ dispersions
    @one_blas_thread
    def alpha_mle(
        self,
        counts: np.ndarray,
        design_matrix: np.ndarray,
        mu: np.ndarray,
        alpha_hat: np.ndarray,
        min_disp: float,
        max_disp: float,
        prior_disp_var: float | None = None,
        cr_reg: bool = True,
        prior_reg: bool = False,
        optimizer: Literal["BFGS", "L-BFGS-B"] = "L-BFGS-B",
    ) -> tuple[np.ndarray, np.ndarray]:
        return dispersion.alpha_mle(
            counts, design_matrix, mu, alpha_hat, min_disp, max_disp, prior_disp_var, cr_reg,
            prior_reg, optimizer, self._use_numba,
        )

    # ------------------------------------------------------------------ Wald test
    @one_blas_thread
    def wald_test(
        self,
        design_matrix: np.ndarray,
        disp: np.ndarray,
        lfc: np.ndarray,
        mu: np.ndarray,
        ridge_factor: np.ndarray,
        contrast: np.ndarray,
        lfc_null: np.ndarray,
        alt_hypothesis: (
            Literal["greaterAbs", "lessAbs", "greater", "less"] | None
        ) = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return glm.wald_test(
            design_matrix, disp, lfc, mu, ridge_factor, contrast, lfc_null, alt_hypothesis
        )

    # ------------------------------------------------------------------ trend
    def dispersion_trend_gamma_glm(
        self, covariates: pd.Series, targets: pd.Series
    ) -> tuple[np.ndarray, np.ndarray, bool]:
        return trend.dispersion_trend_gamma_glm(covariates, targets)

    # ------------------------------------------------------------------ apeGLM-like shrinkage
    @one_blas_thread
    def lfc_shrink_nbinom_glm(
        self,
        design_matrix: np.ndarray,
        counts: np.ndarray,
        size: np.ndarray,
        offset: np.ndarray,
        prior_no_shrink_scale: float,
        prior_scale: float,
        optimizer: str,
        shrink_index: int,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return shrinkage.lfc_shrink_nbinom_glm(
            design_matrix, counts, size, offset, prior_no_shrink_scale, prior_scale,
            shrink_index, self._use_numba,
        )
