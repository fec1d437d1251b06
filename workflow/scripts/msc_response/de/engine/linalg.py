"""Batched linear algebra on (genes, p, p) stacks, and BLAS thread control.

All-zero genes, non-finite inputs and singular ``X^T W X`` are masked per gene, so
one bad gene never breaks a batched solve or inverse (held by
``test_singular_gram_matrix_is_masked`` and
``test_alpha_mle_and_wald_with_edge_genes`` in tests/unit/test_fast_inference.py).
``solve_stack`` is scipy's batched ``solve``, which makes the same LAPACK call per
gene as a loop over genes would: the IRLS lockstep relies on that to be
bit-identical to PyDESeq2's ``irls_solver``.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np


def outer_rows(X: np.ndarray) -> np.ndarray:
    """(n, p*p) matrix of row outer products, so that W @ XX = X^T diag(w) X flattened."""
    n, p = X.shape
    return np.einsum("ni,nj->nij", X, X).reshape(n, p * p)


def gram(W: np.ndarray, XX: np.ndarray, p: int) -> np.ndarray:
    """Stack of X^T diag(W[g]) X for W of shape (G, n)."""
    return (W @ XX).reshape(W.shape[0], p, p)


def safe_inv(M: np.ndarray) -> np.ndarray:
    """Batched inverse; singular or non-finite matrices give pseudo-inverses / NaN."""
    out = np.full_like(M, np.nan)
    finite = np.isfinite(M).all(axis=(1, 2))
    if not finite.any():
        return out
    Mf = M[finite]
    try:
        inv = np.linalg.inv(Mf)
    except np.linalg.LinAlgError:
        inv = np.empty_like(Mf)
        for i in range(Mf.shape[0]):
            try:
                inv[i] = np.linalg.inv(Mf[i])
            except np.linalg.LinAlgError:
                inv[i] = np.linalg.pinv(Mf[i])
    out[finite] = inv
    return out


def solve_stack(M: np.ndarray, b: np.ndarray, assume_a) -> np.ndarray:
    """``scipy.linalg.solve`` on a (G, p, p) stack, with b of shape (G, p, k).

    scipy batches the per-matrix LAPACK call, so each result is bit-identical to
    solving that system alone. Non-finite or singular systems give NaN (only those).
    """
    from scipy.linalg import LinAlgError, LinAlgWarning, solve

    out = np.full(b.shape, np.nan)
    finite = np.isfinite(M).all(axis=(1, 2)) & np.isfinite(b).all(axis=(1, 2))
    if not finite.any():
        return out
    Mf, bf = M[finite], b[finite]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LinAlgWarning)
        try:
            out[finite] = solve(Mf, bf, assume_a=assume_a, check_finite=False)
        except (LinAlgError, ValueError):
            x = np.full(bf.shape, np.nan)
            for i in range(Mf.shape[0]):
                try:
                    x[i] = solve(Mf[i], bf[i], assume_a=assume_a, check_finite=False)
                except (LinAlgError, ValueError):
                    pass
            out[finite] = x
    return out


def safe_solve(M: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Batched solve of M[g] x = b[g]; singular systems fall back to least squares."""
    out = np.full(b.shape, np.nan)
    finite = np.isfinite(M).all(axis=(1, 2)) & np.isfinite(b).all(axis=1)
    if not finite.any():
        return out
    Mf, bf = M[finite], b[finite]
    try:
        x = np.linalg.solve(Mf, bf[..., None])[..., 0]
    except np.linalg.LinAlgError:
        x = np.empty_like(bf)
        for i in range(Mf.shape[0]):
            try:
                x[i] = np.linalg.solve(Mf[i], bf[i])
            except np.linalg.LinAlgError:
                x[i] = np.linalg.lstsq(Mf[i], bf[i], rcond=None)[0]
    out[finite] = x
    return out


def norm_sf(x: np.ndarray) -> np.ndarray:
    """Standard normal survival function."""
    from scipy.special import ndtr

    return ndtr(-np.asarray(x, dtype=float))


_CONTROLLER: list = []


def _blas_controller():
    """One threadpoolctl controller per process (library discovery costs ~10 ms)."""
    if not _CONTROLLER:
        try:
            from threadpoolctl import ThreadpoolController

            _CONTROLLER.append(ThreadpoolController())
        except ImportError:  # pragma: no cover
            _CONTROLLER.append(None)
    return _CONTROLLER[0]


def one_blas_thread(method):
    """Run ``method`` with BLAS limited to one thread.

    The batched work here is many tiny matrices (and scipy's 1-D L-BFGS-B); with
    OpenBLAS threads each tiny call pays thread wake-up costs and competes with the
    numba worker threads: measured 200x slower for the L-BFGS-B replay.
    """

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        controller = _blas_controller()
        if controller is None:  # pragma: no cover - threadpoolctl ships with scikit-learn
            return method(*args, **kwargs)
        with controller.limit(limits=1, user_api="blas"):
            return method(*args, **kwargs)

    return wrapper
