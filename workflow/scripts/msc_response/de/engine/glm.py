"""The GLM coefficients: PyDESeq2's IRLS (``irls_solver``) and Wald test, all genes at once.

``irls`` is ``pydeseq2.utils.irls_solver``'s iteration, the same formulas and
stopping rule. Small problems run it as a numpy lockstep (``_irls_lockstep``) that
is bit-identical to irls_solver: stacked ``np.matmul`` and scipy's batched ``solve``
make the same BLAS/LAPACK calls per gene. Large ones (``FastInference.numba_min_cells``
genes x samples and more) run the numba kernel ``_irls_genes`` (one fused pass over
the samples per iteration, parallel over genes; at 60,000 genes x 200 samples ~3.5x
faster), whose sums run in another order, so betas differ in the last bits. Genes
whose IRLS diverges (|beta| > 30, e.g. a group of zeros) use PyDESeq2's per-gene
L-BFGS-B fall-back, as DefaultInference. Hat diagonals and the Wald test are batched
linear algebra on (genes, p, p) stacks.

Held by ``test_irls_edge_genes_do_not_break_the_batch`` (both paths against
DefaultInference), ``test_numba_and_numpy_irls_agree``,
``test_alpha_mle_and_wald_with_edge_genes`` and ``test_close_for_expressed_genes`` /
``test_same_calls`` (log2FoldChange, padj calls) in tests/unit/test_fast_inference.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .kernels import cholesky, cholesky_solve, jit, prange
from .linalg import gram, norm_sf, outer_rows, safe_inv, solve_stack


@jit(cache=True, parallel=True)
def _irls_genes(Y, SF, LOG_SF, X, disp, beta0, min_mu, beta_tol, max_beta, maxiter, rows):
    """pydeseq2.utils.irls_solver's iteration for the genes in ``rows`` (SF, LOG_SF:
    the size or normalisation factors per gene and sample, and their logs), fused: one
    pass over the samples per iteration builds X^T W X and X^T W z, a Cholesky solve
    gives the new betas, a second pass the new means and the NB deviance.

    Returns (beta, status): status 0 converged, 1 diverged (|beta| > max_beta, a
    non-finite or not positive definite system, or maxiter reached; the caller then
    runs PyDESeq2's fall-back on that gene).
    """
    n, p = X.shape
    k = rows.shape[0]
    beta_out = np.empty((k, p))
    status = np.zeros(k, dtype=np.int64)
    for i in prange(k):
        g = rows[i]
        y = Y[g]
        sf = SF[g]
        log_sf = LOG_SF[g]
        d = disp[g]
        r = 1.0 / d
        beta = beta0[g].copy()
        mu = np.empty(n)
        log_mu_sf = np.empty(n)
        H = np.empty((p, p))
        L = np.empty((p, p))
        b = np.empty(p)
        # nb_nll's terms that do not change over the iterations
        lg_r = math.lgamma(r)
        nll_const = n * r * math.log(d)
        for j in range(n):
            nll_const -= math.lgamma(y[j] + r) - math.lgamma(y[j] + 1.0) - lg_r
        for j in range(n):
            eta = 0.0
            for a in range(p):
                eta += X[j, a] * beta[a]
            mu[j] = sf[j] * math.exp(eta)
            log_mu_sf[j] = eta  # log(mu / sf), kept to save a log per sample
            if mu[j] < min_mu:
                mu[j] = min_mu
                log_mu_sf[j] = math.log(min_mu / sf[j])
        dev = 1000.0
        it = 0
        while True:
            it += 1
            for a in range(p):
                b[a] = 0.0
                for c in range(p):
                    H[a, c] = 0.0
            for j in range(n):
                m = mu[j]
                w = m / (1.0 + m * d)
                wz = w * (log_mu_sf[j] + (y[j] - m) / m)
                for a in range(p):
                    xa = X[j, a]
                    b[a] += xa * wz
                    wx = w * xa
                    for c in range(a + 1):
                        H[a, c] += wx * X[j, c]
            for a in range(p):
                H[a, a] += 1e-6  # irls_solver's ridge
            if not cholesky(H, L):
                status[i] = 1
                break
            cholesky_solve(L, b)
            ok = True
            for a in range(p):
                if not abs(b[a]) <= max_beta:  # also catches NaN
                    ok = False
            if not ok or it >= maxiter:
                status[i] = 1
                break
            for a in range(p):
                beta[a] = b[a]
            nll = nll_const
            for j in range(n):
                eta = 0.0
                for a in range(p):
                    eta += X[j, a] * beta[a]
                m = sf[j] * math.exp(eta)
                log_mu_sf[j] = eta
                if m < min_mu:
                    m = min_mu
                    log_mu_sf[j] = math.log(min_mu / sf[j])
                mu[j] = m
                nll += (y[j] + r) * math.log(r + m) - y[j] * (log_mu_sf[j] + log_sf[j])
            new = -2.0 * nll
            ratio = abs(new - dev) / (abs(new) + 0.1)
            dev = new
            if not ratio > beta_tol:
                break
        for a in range(p):
            beta_out[i, a] = beta[a]
    return beta_out, status


def _irls_lockstep(Y, sf, X, disp, beta, min_mu, beta_tol, max_beta, maxiter):
    """``_irls_genes`` in numpy, all rows of Y at once (genes leave the loop as they
    converge or diverge); same (beta, status) contract. ``sf``: size factors (n,) or
    normalisation factors in Y's shape.

    Operation for operation as pydeseq2.utils.irls_solver: np.matmul on (G, p, n)
    stacks and scipy's batched solve make the same BLAS/LAPACK calls per gene, and
    the elementwise and row-sum steps round the same way, so betas are bit-identical
    to DefaultInference's. That matters on small problems, where a few genes' fate
    at alpha = 1e-8 (and through them the dispersion trend) hangs on the last bits
    of their means.
    """
    from scipy.special import gammaln

    G, n = Y.shape
    XT = X.T  # a view, as ``design_matrix.T`` in irls_solver
    ridge = np.diag(np.repeat(1e-6, X.shape[1]))
    beta = beta.copy()
    status = np.zeros(G, dtype=np.int64)
    r = 1 / disp
    # nb_nll's terms that do not change over the iterations (same expressions)
    logbinom = gammaln(Y + r[:, None]) - gammaln(Y + 1) - gammaln(r[:, None])
    nll_const = n * r * np.log(disp)
    dev = np.full(G, 1000.0)
    mu = np.maximum(sf * np.exp(beta @ XT), min_mu)
    per_gene = sf.ndim == 2
    active = np.arange(G)
    it = 0
    while active.size:
        it += 1
        m = mu[active]
        y = Y[active]
        W = m / (1.0 + m * disp[active, None])
        z = np.log(m / (sf[active] if per_gene else sf)) + (y - m) / m
        H = np.matmul(XT * W[:, None, :], X) + ridge
        rhs = np.matmul(XT, (W * z)[:, :, None])
        beta_hat = solve_stack(H, rhs, "pos")[..., 0]
        diverged = ~(np.abs(beta_hat) <= max_beta).all(axis=1)  # NaN included
        if it >= maxiter:
            diverged[:] = True
        status[active[diverged]] = 1
        keep = ~diverged
        act = active[keep]
        beta[act] = beta_hat[keep]
        mu_new = np.maximum((sf[act] if per_gene else sf) * np.exp(beta[act] @ XT), min_mu)
        mu[act] = mu_new
        ra = r[act, None]
        y = y[keep]
        nll = nll_const[act] + (
            -logbinom[act] + (y + ra) * np.log(ra + mu_new) - y * np.log(mu_new)
        ).sum(axis=1)
        new = -2 * nll
        ratio = np.abs(new - dev[act]) / (np.abs(new) + 0.1)
        dev[act] = new
        active = act[ratio > beta_tol]
    return beta, status


def irls(
    counts: np.ndarray,
    size_factors: np.ndarray,
    design_matrix: np.ndarray,
    disp: np.ndarray,
    min_mu: float,
    beta_tol: float,
    min_beta: float,
    max_beta: float,
    optimizer: str,
    maxiter: int,
    use_numba: Callable[[int], bool],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``Inference.irls`` (see ``FastInference``); ``use_numba(cells)`` says whether a
    problem of that many genes x samples runs the numba kernel (compiled when so)."""
    # pydeseq2.utils.irls_solver's iteration for every gene: the numba kernel
    # _irls_genes (sums in another order than irls_solver's BLAS calls: betas
    # differ in the last bits) or, for small problems, _irls_lockstep (bit-identical).
    X = np.asarray(design_matrix, dtype=float)
    sf = np.asarray(size_factors, dtype=float)
    Yt = np.ascontiguousarray(np.asarray(counts, dtype=float).T)  # (G, n)
    # size factors (n,), or normalisation factors (n, G) as R's with tximport offsets
    per_gene = sf.ndim == 2
    if per_gene:
        sf = np.ascontiguousarray(sf.T)  # (G, n), as Yt
    disp = np.asarray(disp, dtype=float).reshape(-1)
    G, n = Yt.shape
    p = X.shape[1]
    XT = X.T
    XX = outer_rows(X)
    ridge = np.diag(np.repeat(1e-6, p))
    numba = use_numba(G * n)
    # Initial betas: QR least squares on log(y/s + 0.1), as irls_solver.
    if np.linalg.matrix_rank(X) == p:
        Q, R = np.linalg.qr(X)
        logy = np.log(Yt / sf + 0.1)
        if numba:  # one product and one triangular solve for all genes
            from scipy.linalg import solve_triangular

            beta = solve_triangular(R, Q.T @ logy.T, check_finite=False).T
        else:  # per gene, as irls_solver (bit-identical)
            qty = np.matmul(Q.T, logy[:, :, None])
            beta = solve_stack(np.broadcast_to(R, (G, p, p)), qty, None)[..., 0]
    else:
        beta = np.zeros((G, p))
        with np.errstate(divide="ignore"):
            beta[:, 0] = np.log(Yt / sf).mean(axis=1)

    bad = ~np.isfinite(disp) | ~np.isfinite(beta).all(axis=1) | (disp <= 0)
    converged = np.ones(G, dtype=bool)
    fallback = np.zeros(G, dtype=bool)

    rows = np.flatnonzero(~bad)
    if numba:
        SF = sf if per_gene else np.broadcast_to(sf, (G, n))
        beta_rows, status = _irls_genes(
            Yt, SF, np.log(SF), X, disp, np.ascontiguousarray(beta), min_mu, beta_tol, max_beta,
            maxiter, rows,
        )
    else:  # small problems: numpy lockstep, no numba start-up (~0.4 s per process)
        beta_rows, status = _irls_lockstep(
            Yt[rows], sf[rows] if per_gene else sf, X, disp[rows], beta[rows], min_mu, beta_tol, max_beta, maxiter
        )
    beta[rows] = beta_rows
    fallback[rows[status != 0]] = True
    mu_thr = np.maximum(sf * np.exp(beta @ XT), min_mu)

    # Per-gene PyDESeq2 routine (L-BFGS-B + grid) where IRLS diverged.
    if fallback.any():
        from pydeseq2.utils import irls_solver

        for g in np.flatnonzero(fallback):
            b, _, _, conv = irls_solver(
                counts=Yt[g],
                size_factors=sf[g] if per_gene else sf,
                design_matrix=X,
                disp=disp[g],
                min_mu=min_mu,
                beta_tol=beta_tol,
                min_beta=min_beta,
                max_beta=max_beta,
                optimizer=optimizer,
                maxiter=maxiter,
            )
            beta[g] = b
            converged[g] = conv
        mu_thr[fallback] = np.maximum(
            (sf[fallback] if per_gene else sf) * np.exp(beta[fallback] @ XT), min_mu
        )

    # Hat diagonals: W^1/2 X (X^T W X + ridge)^-1 X^T W^1/2.
    W = mu_thr / (1.0 + mu_thr * disp[:, None])
    Hinv = safe_inv(gram(W, XX, p) + ridge)
    # x_i^T Hinv x_i for every gene g and sample i, as one product
    hat = W * (Hinv.reshape(G, p * p) @ XX.T)

    beta[bad] = np.nan
    converged[bad] = False
    mu = sf * np.exp(beta @ XT)  # unthresholded, as PyDESeq2
    return beta, mu.T, hat.T, converged


def wald_test(
    design_matrix: np.ndarray,
    disp: np.ndarray,
    lfc: np.ndarray,
    mu: np.ndarray,
    ridge_factor: np.ndarray,
    contrast: np.ndarray,
    lfc_null: np.ndarray,
    alt_hypothesis: str | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``Inference.wald_test`` (see ``FastInference``)."""
    X = np.asarray(design_matrix, dtype=float)
    MUt = np.asarray(mu, dtype=float).T
    disp = np.asarray(disp, dtype=float).reshape(-1)
    lfc = np.asarray(lfc, dtype=float)
    c = np.asarray(contrast, dtype=float)
    G = MUt.shape[0]
    p = X.shape[1]
    pvals = np.full(G, np.nan)
    stats = np.full(G, np.nan)
    se = np.full(G, np.nan)
    ok = np.isfinite(disp) & np.isfinite(MUt).all(axis=1) & np.isfinite(lfc).all(axis=1)
    if not ok.any():
        return pvals, stats, se
    m = MUt[ok]
    W = m / (1.0 + m * disp[ok, None])
    M = gram(W, outer_rows(X), p)
    H = safe_inv(M + np.asarray(ridge_factor, dtype=float))
    Hc = H @ c
    se_ok = np.sqrt(np.einsum("gi,gij,gj->g", Hc, M, Hc))
    b = lfc[ok]

    def greater(null):
        st = np.fmax((b - null) / se_ok[:, None], 0) @ c
        return st, norm_sf(st)

    def less(null):
        st = np.fmin((b - null) / se_ok[:, None], 0) @ c
        return st, norm_sf(np.abs(st))

    if alt_hypothesis is None:
        st = ((b - lfc_null) @ c) / se_ok
        pv = 2.0 * norm_sf(np.abs(st))
    elif alt_hypothesis == "greater":
        st, pv = greater(lfc_null)
    elif alt_hypothesis == "less":
        st, pv = less(lfc_null)
    elif alt_hypothesis == "greaterAbs":
        st = (np.sign(b) * np.fmax((np.abs(b) - lfc_null) / se_ok[:, None], 0)) @ c
        pv = 2.0 * norm_sf(np.abs(st))
    elif alt_hypothesis == "lessAbs":
        st_a, pv_a = greater(-abs(lfc_null))
        st_b, pv_b = less(abs(lfc_null))
        st = np.where(np.abs(st_b) < np.abs(st_a), st_b, st_a)
        pv = np.maximum(pv_a, pv_b)
    else:
        raise ValueError(f"unknown alt_hypothesis {alt_hypothesis!r}")
    pvals[ok], stats[ok], se[ok] = pv, st, se_ok
    return pvals, stats, se
