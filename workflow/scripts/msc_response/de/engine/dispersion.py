"""Dispersions: PyDESeq2's ``fit_alpha_mle`` for all genes at once (``alpha_mle``).

PyDESeq2 runs scipy's L-BFGS-B on log(alpha) per gene (bounds log(min_disp),
log(max_disp)) and its answer depends on that optimiser's stopping rules (pgtol
1e-5, relative reduction 2.2e-9, line-search details), not only on the optimum. Here
the same L-BFGS-B runs on the same objective (NB negative log-likelihood, Cox-Reid
adjustment, optional log-normal prior), so it stops where scipy stops, including
L-BFGS-B's stop-at-start rule (alpha stays at 1e-8 when the projected gradient
there is below pgtol):

* large problems (``FastInference.numba_min_cells`` genes x samples and more): the
  numba kernel ``_lbfgsb_1d``, a scalar transcription of L-BFGS-B 3.0 (in one
  dimension the Cauchy point and subspace step coincide and the quasi-Newton matrix
  is y/s of the last pair) with the Moré-Thuente line search, parallel over genes;
* small ones: ``lbfgsb.lbfgsb_lockstep``, the same algorithm in numpy lockstep over
  genes, which avoids numba's import and start-up (~0.4 s per process).

The objective is computed stably: for 1/alpha >= 1e4 the
``gammaln(y + 1/alpha) - gammaln(1/alpha)`` differences use asymptotic expansions
written with ``log1p``, so they do not cancel near alpha = 1e-8.

Near alpha = 1e-8 PyDESeq2's own objective is rounding noise (~1e-6), and whether
its L-BFGS-B stops after the first step is decided by that noise. Genes started at
the lower bound that move are therefore replayed with scipy's L-BFGS-B (its
reverse-communication ``setulb``, many genes in lockstep) on PyDESeq2's exact
formulas (``_pydeseq2_disp_loss``). Where the inputs (e.g. IRLS means) differ from
DefaultInference's in the last bits, such genes can still end elsewhere than with
DefaultInference. Genes whose fit fails get PyDESeq2's grid search, as in
``fit_alpha_mle``.

``r_dispersion_log_posterior`` is R DESeq2's per-gene log posterior (C++
``fitDisp``), for r_compat's ``noIncrease`` rule.

Held by ``test_close_for_expressed_genes`` (dispersions against DefaultInference),
``test_numba_and_numpy_dispersion_kernels_agree``,
``test_alpha_mle_and_wald_with_edge_genes`` and
``test_pipeline_with_single_count_and_zero_genes`` in
tests/unit/test_fast_inference.py; R's log posterior by tests/unit/test_r_compat.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .kernels import cholesky, cholesky_solve, digamma, jit, prange
from .lbfgsb import FTOL, PGTOL, lbfgsb_lockstep, scipy_lbfgsb_lockstep
from .linalg import gram, outer_rows, safe_inv
from .linesearch import dcstep

# Above this size parameter r = 1/alpha, use asymptotic expansions.
_R_ASYMPTOTIC = 1.0e4


@jit(cache=True)
def _disp_fg(
    y, mu, logmu, XXt, t, lgy1, cr_reg, prior_reg, t_hat, prior_var, M, M1, L, tri, tri1, z
):
    """Objective of fit_alpha_mle (NB nll + Cox-Reid + prior) and its t-derivative.

    ``logmu``: log(mu), fixed while t moves. ``XXt``: the lower triangles of the
    design rows' outer products, (n, p(p+1)/2) in ``np.tril_indices`` order (the
    Cox-Reid matrices are symmetric: half the work).
    Returns (f, g, ok). ``M``, ``M1``, ``L`` are (p, p), ``tri``, ``tri1`` (p(p+1)/2,) and
    ``z`` (p,) scratch arrays.
    """
    n = XXt.shape[0]
    p = M.shape[0]
    a = math.exp(t)
    r = 1.0 / a
    big = r >= _R_ASYMPTOTIC
    lg_r = 0.0
    dg_r = 0.0
    if not big:
        lg_r = math.lgamma(r)
        dg_r = digamma(r)
    sl = 0.0
    sd1 = 0.0
    for j in range(n):
        yj = y[j]
        m = mu[j]
        l1pm = math.log1p(m / r)
        if yj > 0.0:
            if big:
                yr = yj + r
                l1py = math.log1p(yj / r)
                ds = (1.0 / yr - 1.0 / r) / 12.0 - (
                    1.0 / (yr * yr * yr) - 1.0 / (r * r * r)
                ) / 360.0
                sl += yj * (l1py - l1pm) + (r - 0.5) * l1py - yj + ds - r * l1pm + yj * logmu[j]
                dg = l1py + 0.5 * yj / (r * yr) + yj * (2.0 * r + yj) / (12.0 * r * r * yr * yr)
            else:
                # log(r + m) = log(r) + log1p(m / r), and log(r) = -t
                sl += math.lgamma(yj + r) - lg_r - r * l1pm + yj * (logmu[j] + t - l1pm)
                dg = digamma(yj + r) - dg_r
            sd1 += dg - l1pm + (m - yj) / (r + m)
        else:
            sl -= r * l1pm
            sd1 += -l1pm + m / (r + m)
    f = -sl + lgy1
    g = r * sd1
    if cr_reg:
        T = XXt.shape[1]
        for q in range(T):
            tri[q] = 0.0
            tri1[q] = 0.0
        for j in range(n):
            w = mu[j] / (1.0 + a * mu[j])
            w1 = -a * w * w
            for q in range(T):
                tri[q] += w * XXt[j, q]
                tri1[q] += w1 * XXt[j, q]
        q = 0
        for i in range(p):
            for k in range(i + 1):
                M[i, k] = tri[q]
                M1[i, k] = tri1[q]
                M1[k, i] = tri1[q]
                q += 1
        if not cholesky(M, L):
            return np.nan, np.nan, False
        logdet = 0.0
        for i in range(p):
            logdet += 2.0 * math.log(L[i, i])
        # tr(M^-1 M1) = sum_k e_k^T M^-1 M1 e_k: solve M z = M1[:, k]
        tr = 0.0
        for k in range(p):
            for i in range(p):
                z[i] = M1[i, k]
            cholesky_solve(L, z)
            tr += z[k]
        f += 0.5 * logdet
        g += 0.5 * tr
    if prior_reg:
        dt = t - t_hat
        f += dt * dt / (2.0 * prior_var)
        g += dt / prior_var
    ok = np.isfinite(f) and np.isfinite(g)
    return f, g, ok


@jit(cache=True)
def _lbfgsb_1d(y, mu, X, XXt, t0, lo, hi, lgy1, cr_reg, prior_reg, t_hat, prior_var, B0, it0):
    """Minimise the dispersion objective in t = log(alpha) on [lo, hi].

    A scalar transcription of L-BFGS-B 3.0 as scipy runs it (m = 10, factr such that
    ftol = 2.22e-9, pgtol = 1e-5, maxls = 20): generalised Cauchy point and subspace
    step (which coincide in one dimension, with B = y/s of the last accepted pair),
    Moré-Thuente line search (ftol 1e-3, gtol 0.9, xtol 0.1; lnsrlb's first step and
    largest step, as in ``lbfgsb.lbfgsb_lockstep``), and the same stopping rules.
    Returns (t, status): 0 converged, 1 abnormal, 2 the objective was not finite.
    """
    p = X.shape[1]
    M = np.empty((p, p))
    M1 = np.empty((p, p))
    L = np.zeros((p, p))
    tri = np.empty(XXt.shape[1])
    tri1 = np.empty(XXt.shape[1])
    z = np.empty(p)
    logmu = np.log(mu)
    eps = 2.220446049250313e-16
    ftol_rel = 2.220446049250313e-09
    cnstnd = lo > -np.inf or hi < np.inf
    boxed = lo > -np.inf and hi < np.inf
    x = min(max(t0, lo), hi)
    f, g, ok = _disp_fg(
        y, mu, logmu, XXt, x, lgy1, cr_reg, prior_reg, t_hat, prior_var, M, M1, L, tri, tri1, z
    )
    if not ok:
        return x, 2

    def projgr(x, g):
        if g < 0.0:
            return abs(max(x - hi, g))
        return abs(min(x - lo, g))

    if projgr(x, g) <= 1e-5:
        return x, 0
    # B0/it0 let a run resume after iterations replayed elsewhere (B0 = y/s).
    B = B0
    have_pair = it0 > 0 and B0 != 1.0
    it = it0
    for _outer in range(15000):
        # search direction (Cauchy point == subspace minimiser in 1-D)
        target = min(max(x - g / B, lo), hi)
        d = target - x
        # line search set-up (lnsrlb)
        if it == 0 and cnstnd:
            stpmx = 1.0
        else:
            stpmx = 1e10
            if d < 0.0:
                a2 = lo - x
                if a2 >= 0.0:
                    stpmx = 0.0
                elif d * stpmx < a2:
                    stpmx = a2 / d
            elif d > 0.0:
                a2 = hi - x
                if a2 <= 0.0:
                    stpmx = 0.0
                elif d * stpmx > a2:
                    stpmx = a2 / d
        stp = 1.0
        t_start = x
        f_old = f
        g_old = g
        gd = g * d
        if gd >= 0.0:
            # not a descent direction: restart memory, or give up
            if have_pair:
                have_pair = False
                B = 1.0
                continue
            return x, 1
        if it == 0 and not boxed:
            dnorm = math.sqrt(d * d)  # as scipy's ddot; 1/0 -> inf, as numpy's
            stp = min(1.0 / dnorm, stpmx) if dnorm > 0.0 else stpmx
        gdold = gd
        # dcsrch START
        ftol_ls = 1e-3
        gtol_ls = 0.9
        xtol_ls = 0.1
        brackt = False
        stage = 1
        finit = f
        ginit = gd
        gtest = ftol_ls * ginit
        width = stpmx - 0.0
        width1 = width / 0.5
        stx = 0.0
        fx = finit
        gx = ginit
        sty = 0.0
        fy = finit
        gy = ginit
        stmin = 0.0
        stmax = stp + 4.0 * stp
        nfev = 0
        ls_ok = False
        while True:
            xn = t_start + stp * d
            if stp == 1.0:
                xn = target
            f, g, ok = _disp_fg(
                y, mu, logmu, XXt, xn, lgy1, cr_reg, prior_reg, t_hat, prior_var, M, M1, L, tri, tri1, z
            )
            nfev += 1
            if not ok:
                return t_start, 2
            gd = g * d
            ftest = finit + stp * gtest
            done = False
            if stage == 1 and f <= ftest and gd >= 0.0:
                stage = 2
            if brackt and (stp <= stmin or stp >= stmax):
                done = True
            if brackt and stmax - stmin <= xtol_ls * stmax:
                done = True
            if stp == stpmx and f <= ftest and gd <= gtest:
                done = True
            if stp == 0.0 and (f > ftest or gd >= gtest):
                done = True
            if f <= ftest and abs(gd) <= gtol_ls * (-ginit):
                done = True
            if done:
                ls_ok = True
                x = xn
                break
            if nfev >= 20:
                break
            if stage == 1 and f <= fx and f > ftest:
                fm = f - stp * gtest
                fxm = fx - stx * gtest
                fym = fy - sty * gtest
                gm = gd - gtest
                gxm = gx - gtest
                gym = gy - gtest
                stx, fxm, gxm, sty, fym, gym, stp, brackt = dcstep(
                    stx, fxm, gxm, sty, fym, gym, stp, fm, gm, brackt, stmin, stmax
                )
                fx = fxm + stx * gtest
                fy = fym + sty * gtest
                gx = gxm + gtest
                gy = gym + gtest
            else:
                stx, fx, gx, sty, fy, gy, stp, brackt = dcstep(
                    stx, fx, gx, sty, fy, gy, stp, f, gd, brackt, stmin, stmax
                )
            if brackt:
                if abs(sty - stx) >= 0.66 * width1:
                    stp = stx + 0.5 * (sty - stx)
                width1 = width
                width = abs(sty - stx)
                stmin = min(stx, sty)
                stmax = max(stx, sty)
            else:
                stmin = stp + 1.1 * (stp - stx)
                stmax = stp + 4.0 * (stp - stx)
            stp = max(stp, 0.0)
            stp = min(stp, stpmx)
            if (brackt and (stp <= stmin or stp >= stmax)) or (
                brackt and stmax - stmin <= xtol_ls * stmax
            ):
                stp = stx
        if not ls_ok:
            # restore and restart with fresh memory, or stop abnormally
            x = t_start
            f = f_old
            g = g_old
            if have_pair:
                have_pair = False
                B = 1.0
                continue
            return x, 1
        it += 1
        if projgr(x, g) <= 1e-5:
            return x, 0
        ddum = max(abs(f_old), abs(f), 1.0)
        if f_old - f <= ftol_rel * ddum:
            return x, 0
        # BFGS update (1-D: B = y/s of the last accepted pair)
        if stp == 1.0:
            dr = gd - gdold
            ddum = -gdold
        else:
            dr = (gd - gdold) * stp
            ddum = -gdold * stp
        if dr > eps * ddum:
            s_ = x - t_start
            y_ = g - g_old
            B = y_ / s_
            have_pair = True
    return x, 1


@jit(cache=True, parallel=True)
def _alpha_mle_lbfgsb(
    Y, MU, X, XXt, t0, lo, hi, lgy1, cr_reg, prior_reg, t_hat, prior_var, rows, B0, it0
):
    k = rows.shape[0]
    t_out = np.empty(k)
    status = np.empty(k, dtype=np.int64)
    for i in prange(k):
        gi = rows[i]
        t_out[i], status[i] = _lbfgsb_1d(
            Y[gi], MU[gi], X, XXt, t0[gi], lo, hi, lgy1[gi], cr_reg, prior_reg, t_hat[gi],
            prior_var, B0[gi], it0[gi],
        )
    return t_out, status


def _disp_fg_vec(Y, MU, X, XX, t, lgy1, cr_reg, prior_reg, t_hat, prior_var):
    """``_disp_fg`` for a stack of genes (rows of Y, MU); returns (f, g, ok)."""
    from scipy.special import gammaln, psi

    p = X.shape[1]
    a = np.exp(t)
    r = (1.0 / a)[:, None]
    big = r[:, 0] >= _R_ASYMPTOTIC
    l1pm = np.log1p(MU / r)
    rm = r + MU
    sl = np.empty_like(MU)
    sd = np.empty_like(MU)
    small = ~big
    if small.any():
        y, m, rr, lp, rmm = Y[small], MU[small], r[small], l1pm[small], rm[small]
        sl[small] = gammaln(y + rr) - gammaln(rr) - rr * lp + y * (np.log(m) - np.log(rmm))
        sd[small] = (psi(y + rr) - psi(rr)) - lp + (m - y) / rmm
    if big.any():
        y, m, rr, lp, rmm = Y[big], MU[big], r[big], l1pm[big], rm[big]
        yr = y + rr
        l1py = np.log1p(y / rr)
        ds = (1.0 / yr - 1.0 / rr) / 12.0 - (1.0 / (yr * yr * yr) - 1.0 / (rr * rr * rr)) / 360.0
        with np.errstate(divide="ignore", invalid="ignore"):
            ylogm = np.where(y > 0, y * np.log(m), 0.0)
        sl[big] = y * (l1py - lp) + (rr - 0.5) * l1py - y + ds - rr * lp + ylogm
        dg = l1py + 0.5 * y / (rr * yr) + y * (2.0 * rr + y) / (12.0 * rr * rr * yr * yr)
        sd[big] = dg - lp + (m - y) / rmm
    f = -sl.sum(axis=1) + lgy1
    g = r[:, 0] * sd.sum(axis=1)
    ok = np.ones(len(t), dtype=bool)
    if cr_reg:
        w = MU / (1.0 + a[:, None] * MU)
        M = w @ XX
        M1 = (-a[:, None] * w * w) @ XX
        if p <= 2:  # closed forms
            if p == 1:
                det, tr = M[:, 0], M1[:, 0] / M[:, 0]
            else:
                det = M[:, 0] * M[:, 3] - M[:, 1] * M[:, 2]
                tr = (M[:, 3] * M1[:, 0] - M[:, 1] * M1[:, 2] - M[:, 2] * M1[:, 1]
                      + M[:, 0] * M1[:, 3]) / det
            ok &= det > 0
            logdet = np.log(np.where(det > 0, det, 1.0))
        else:
            M, M1 = M.reshape(-1, p, p), M1.reshape(-1, p, p)
            sign, logdet = np.linalg.slogdet(M)
            ok &= sign > 0
            tr = (safe_inv(M) * M1).sum(axis=(1, 2))
        f = f + 0.5 * logdet
        g = g + 0.5 * tr
    if prior_reg:
        dt = t - t_hat
        f = f + dt * dt / (2.0 * prior_var)
        g = g + dt / prior_var
    ok &= np.isfinite(f) & np.isfinite(g)
    return f, g, ok


def _alpha_mle_lockstep(Y, MU, X, t0, lo, hi, lgy1, cr_reg, prior_reg, t_hat, prior_var):
    """``_lbfgsb_1d`` for all genes (rows) at once, in numpy: ``lbfgsb_lockstep`` on
    ``_disp_fg_vec``. Returns (t, status) as the numba kernel: 0 converged, 1
    abnormal, 2 the objective was not finite."""
    XX = outer_rows(X)
    th = np.zeros(Y.shape[0]) if t_hat is None else t_hat

    def fg(idx, T):
        f, g, ok = _disp_fg_vec(Y[idx], MU[idx], X, XX, T[:, 0], lgy1[idx], cr_reg, prior_reg,
                                th[idx], prior_var)
        return np.where(ok, f, np.nan), g[:, None]  # e.g. Cox-Reid det <= 0: not finite

    t, status = lbfgsb_lockstep(fg, t0[:, None], lo, hi, ftol=FTOL, gtol=PGTOL)
    return t[:, 0], status


def _pydeseq2_disp_loss(Y, MU, X, t, cr_reg, prior_reg, t_hat, prior_var):
    """fit_alpha_mle's loss and gradient for genes in rows, with PyDESeq2's formulas.

    Same elementwise operations as ``pydeseq2.utils.nb_nll``/``dnb_nll`` (so the same
    rounding), vectorised over genes.
    """
    from scipy.special import gammaln, polygamma

    n = Y.shape[1]
    alpha = np.exp(t)[:, None]
    alpha_neg1 = 1 / alpha
    logbinom = gammaln(Y + alpha_neg1) - gammaln(Y + 1) - gammaln(alpha_neg1)
    nll = n * alpha_neg1[:, 0] * np.log(alpha[:, 0]) + (
        -logbinom + (Y + alpha_neg1) * np.log(alpha_neg1 + MU) - Y * np.log(MU)
    ).sum(axis=1)
    dnll = -(
        alpha_neg1[:, 0] ** 2
        * (
            polygamma(0, alpha_neg1)
            - polygamma(0, Y + alpha_neg1)
            + np.log(1 + MU * alpha)
            + (Y - MU) / (MU + alpha_neg1)
        ).sum(axis=1)
    )
    reg = np.zeros_like(t)
    reg_grad = np.zeros_like(t)
    if cr_reg:
        W = MU / (1 + MU * alpha)
        XT = X.T[None, :, :]
        M = (XT * W[:, None, :]) @ X
        M1 = (XT * (-(W**2))[:, None, :]) @ X
        reg += 0.5 * np.linalg.slogdet(M)[1]
        reg_grad += (0.5 * (safe_inv(M) * M1).sum(axis=(1, 2))) * alpha[:, 0]
    if prior_reg:
        reg += (t - t_hat) ** 2 / (2 * prior_var)
        reg_grad += (t - t_hat) / prior_var
    return nll + reg, alpha[:, 0] * dnll + reg_grad


def alpha_mle(
    counts: np.ndarray,
    design_matrix: np.ndarray,
    mu: np.ndarray,
    alpha_hat: np.ndarray,
    min_disp: float,
    max_disp: float,
    prior_disp_var: float | None,
    cr_reg: bool,
    prior_reg: bool,
    optimizer: str,
    use_numba: Callable[[int], bool],
) -> tuple[np.ndarray, np.ndarray]:
    """``Inference.alpha_mle`` (see ``FastInference``); ``use_numba(cells)`` says whether
    a problem of that many genes x samples runs the numba kernel (compiled when so)."""
    if prior_reg and prior_disp_var is None:
        raise ValueError("Sigma_prior is required for prior regularization")
    X = np.ascontiguousarray(np.asarray(design_matrix, dtype=float))
    Yt = np.ascontiguousarray(np.asarray(counts, dtype=float).T)
    MUt = np.ascontiguousarray(np.asarray(mu, dtype=float).T)
    alpha_hat = np.asarray(alpha_hat, dtype=float).reshape(-1)
    G, n = Yt.shape
    lo, hi = math.log(min_disp), math.log(max_disp)
    t_hat = np.log(alpha_hat)
    bounded = optimizer == "L-BFGS-B"

    usable = (
        np.isfinite(t_hat)
        & np.isfinite(MUt).all(axis=1)
        & (MUt > 0).all(axis=1)
        & np.isfinite(Yt).all(axis=1)
    )
    if not bounded:
        # BFGS: no bounds. PyDESeq2 then runs scipy's BFGS, whose first line search
        # starts at min(1, 1.01/|g|) and whose 1-D update is the secant y/s. L-BFGS-B
        # with its rules for bounded variables (first step 1, at most 1) follows it
        # more closely than with its rules for free ones (first step 1/|g|): median
        # relative difference to fit_alpha_mle(optimizer="BFGS") 1e-14 vs 3e-7 (1,500
        # genes). Hence bounds that never bind rather than none.
        lo, hi = -np.finfo(float).max, np.finfo(float).max
    from scipy.special import gammaln

    lgy1 = gammaln(Yt + 1.0).sum(axis=1)
    rows = np.flatnonzero(usable)
    t = np.where(usable, t_hat, 0.0)
    pvar = float(prior_disp_var) if prior_reg else 1.0
    ones = np.ones(G)
    zeros = np.zeros(G, dtype=np.int64)
    if use_numba(rows.size * n):
        lower = np.tril_indices(X.shape[1])
        XXt = np.ascontiguousarray(X[:, lower[0]] * X[:, lower[1]])
        t_rows, status = _alpha_mle_lbfgsb(
            Yt, MUt, X, XXt, t, lo, hi, lgy1, bool(cr_reg), bool(prior_reg), t_hat, pvar,
            rows, ones, zeros,
        )
    else:  # small problems: numpy lockstep, no numba start-up (~0.4 s per process)
        t_rows, status = _alpha_mle_lockstep(
            Yt[rows], MUt[rows], X, t[rows], lo, hi, lgy1[rows], bool(cr_reg),
            bool(prior_reg), t_hat[rows] if prior_reg else None, pvar,
        )
    t[rows] = t_rows
    converged = np.zeros(G, dtype=bool)
    converged[rows] = status == 0
    failed = rows[status != 0]

    # Genes started at the lower bound that moved. There L-BFGS-B's first
    # steps are tiny and whether it stops (relative reduction < ftol) is decided
    # by the rounding noise of PyDESeq2's objective (gammaln cancellation near
    # alpha = 1e-8). Those genes, and any the kernel could not finish, are
    # replayed with scipy's L-BFGS-B on PyDESeq2's own formulas.
    if bounded:
        t0 = np.clip(t_hat, lo, hi)
        at_lo = rows[t0[rows] <= lo]
        edge = at_lo[:0]
        if at_lo.size:
            # scipy's first test: stay at the bound unless PyDESeq2's own
            # (noisy) gradient there is below -pgtol.
            _, g_py = _pydeseq2_disp_loss(
                Yt[at_lo], MUt[at_lo], X, t0[at_lo], cr_reg, prior_reg,
                t_hat[at_lo] if prior_reg else None, pvar,
            )
            stays = g_py >= -PGTOL
            t[at_lo[stays]] = t0[at_lo[stays]]
            converged[at_lo[stays]] = True
            failed = np.setdiff1d(failed, at_lo[stays])
            edge = at_lo[~stays]
        replay = np.union1d(edge, failed)
        if replay.size:
            Yr, MUr = Yt[replay], MUt[replay]
            th_r = t_hat[replay] if prior_reg else None

            def loss(idx, tt):  # PyDESeq2's formulas
                th = None if th_r is None else th_r[idx]
                return _pydeseq2_disp_loss(Yr[idx], MUr[idx], X, tt, cr_reg, prior_reg, th, pvar)

            t_r, ok_r = scipy_lbfgsb_lockstep(loss, t0[replay], lo, hi)
            t[replay] = t_r
            converged[replay] = ok_r
            failed = replay[~ok_r]

    alpha = np.exp(t)
    if failed.size:
        # As fit_alpha_mle: when L-BFGS-B fails, grid search (without prior).
        from pydeseq2.grid_search import grid_fit_alpha

        for gidx in np.unique(failed):
            alpha[gidx] = np.exp(
                grid_fit_alpha(Yt[gidx], X, MUt[gidx], alpha_hat[gidx], min_disp, max_disp)
            )
            converged[gidx] = False
    alpha[~usable] = np.nan
    converged[~usable] = False
    return alpha, converged


def r_dispersion_log_posterior(counts, mu, design_matrix, alpha, cr_reg=True):
    """R DESeq2's ``log_posterior`` without prior (C++ ``fitDisp``), per gene.

    counts, mu: (samples, genes); alpha: (genes,). Same formula as R's (including its
    ``lgamma`` differences), vectorised.
    """
    from scipy.special import gammaln

    Y = np.asarray(counts, dtype=float)
    MU = np.asarray(mu, dtype=float)
    X = np.asarray(design_matrix, dtype=float)
    a = np.asarray(alpha, dtype=float)[None, :]
    r = 1.0 / a
    ll = (
        gammaln(Y + r) - gammaln(r) - Y * np.log(MU + r) - r * np.log1p(MU * a)
    ).sum(axis=0)
    if cr_reg:
        W = (1.0 / (1.0 / MU + a)).T  # (G, n)
        sign, logdet = np.linalg.slogdet(gram(W, outer_rows(X), X.shape[1]))
        ll -= 0.5 * np.where(sign > 0, logdet, np.nan)
    return ll


def r_dispersion_dlog_posterior(counts, mu, design_matrix, alpha, cr_reg=True):
    """Derivative of ``r_dispersion_log_posterior`` with respect to log(alpha), per
    gene (R's C++ ``dlog_posterior`` without prior)."""
    from scipy.special import digamma as psi

    Y = np.asarray(counts, dtype=float)
    MU = np.asarray(mu, dtype=float)
    X = np.asarray(design_matrix, dtype=float)
    a = np.asarray(alpha, dtype=float)[None, :]
    r = 1.0 / a
    d_alpha = (
        np.log1p(MU * a) + (Y - MU) / (MU + r) - psi(Y + r) + psi(r)
    ).sum(axis=0) / a[0] ** 2
    if cr_reg:
        XX = outer_rows(X)
        p = X.shape[1]
        B = gram((1.0 / (1.0 / MU + a)).T, XX, p)
        dB = gram((-1.0 / (1.0 / MU + a) ** 2).T, XX, p)
        d_alpha -= 0.5 * np.einsum("gij,gji->g", safe_inv(B), dB)
    return d_alpha * a[0]


def r_fit_disp(counts, mu, design_matrix, log_alpha, min_log_alpha, kappa_0=1.0,
               tol=1e-6, maxit=100, prior_mean=None, prior_var=None):
    """R DESeq2's gene-wise dispersion search (C++ ``fitDisp``, no prior), genes in
    lockstep: gradient ascent on log(alpha) with an Armijo backtracking step that
    starts at ``kappa_0``, grows by 1.1 after an accepted step and halves every fifth
    accepted step; stops when the log posterior rises by less than ``tol``.

    Its answer depends on where it starts: from a start near the 1e-8 floor the
    gradient in log(alpha) is tiny, so R stops there where an optimiser such as
    L-BFGS-B moves on. With ``prior_mean`` (log alpha, per gene) and ``prior_var``
    the log posterior has R's normal prior on log(alpha) (the MAP step).
    Returns (log alpha, iterations, initial and last log posterior), as R's
    ``log_alpha``, ``iter``, ``initial_lp`` and ``last_lp``.
    """
    # genes are columns: Fortran order makes each iteration's gather of the active
    # genes a copy of contiguous blocks
    Y = np.asfortranarray(counts, dtype=float)
    MU = np.asfortranarray(mu, dtype=float)
    a = np.asarray(log_alpha, dtype=float).copy()
    G = a.size
    m = None if prior_mean is None else np.asarray(prior_mean, dtype=float)

    def lp_of(cols, values):
        lp = r_dispersion_log_posterior(Y[:, cols], MU[:, cols], design_matrix, np.exp(values))
        if m is not None:
            lp = lp - 0.5 * (values - m[cols]) ** 2 / prior_var
        return lp

    def dlp_of(cols, values):
        dlp = r_dispersion_dlog_posterior(Y[:, cols], MU[:, cols], design_matrix,
                                          np.exp(values))
        if m is not None:
            dlp = dlp - (values - m[cols]) / prior_var
        return dlp

    everyone = np.arange(G)
    lp = lp_of(everyone, a)
    initial_lp = lp.copy()
    dlp = dlp_of(everyone, a)
    kappa = np.full(G, float(kappa_0))
    iters = np.zeros(G, dtype=int)
    accepted = np.zeros(G, dtype=int)
    active = np.isfinite(lp) & np.isfinite(dlp)
    for _ in range(maxit):
        idx = np.flatnonzero(active)
        if not idx.size:
            break
        iters[idx] += 1
        step = a[idx] + kappa[idx] * dlp[idx]
        with np.errstate(divide="ignore", invalid="ignore"):
            low, high = step < -30.0, step > 10.0
            kappa[idx[low]] = (-30.0 - a[idx[low]]) / dlp[idx[low]]
            kappa[idx[high]] = (10.0 - a[idx[high]]) / dlp[idx[high]]
        proposal = a[idx] + kappa[idx] * dlp[idx]
        theta = -lp_of(idx, proposal)
        theta_hat = -lp[idx] - kappa[idx] * 1e-4 * dlp[idx] ** 2
        ok = theta <= theta_hat
        rejected = idx[~ok]
        kappa[rejected] /= 2.0
        acc = idx[ok]
        if not acc.size:
            continue
        accepted[acc] += 1
        a[acc] = proposal[ok]
        lp_new = -theta[ok]
        change = lp_new - lp[acc]
        done = change < tol
        lp[acc[done]] = lp_new[done]
        active[acc[done]] = False
        going, lp_going = acc[~done], lp_new[~done]
        below = a[going] < min_log_alpha  # R stops without taking the new value
        active[going[below]] = False
        going, lp_going = going[~below], lp_going[~below]
        lp[going] = lp_going
        if going.size:
            dlp[going] = dlp_of(going, a[going])
            kappa[going] = np.minimum(kappa[going] * 1.1, kappa_0)
            fifth = accepted[going] % 5 == 0
            kappa[going[fifth]] /= 2.0
    return a, iters, initial_lp, lp


def r_fit_disp_grid(counts, mu, design_matrix, n_samples: int, n_grid: int = 20,
                    prior_mean=None, prior_var=None):
    """R DESeq2's grid fall-back for gene-wise dispersions (``fitDispGridWrapper``,
    no prior): the best of ``n_grid`` log(alpha) values from log(1e-8) to
    log(max(10, n_samples)), then the best of ``n_grid`` values within one grid step
    of it. Returns log alpha per gene (a grid value, as R's)."""
    Y = np.asarray(counts, dtype=float)
    MU = np.asarray(mu, dtype=float)
    grid = np.linspace(math.log(1e-8), math.log(max(10.0, n_samples)), n_grid)
    delta = grid[1] - grid[0]

    def score(row):
        lp = r_dispersion_log_posterior(Y, MU, design_matrix, np.exp(row))
        if prior_mean is not None:
            lp = lp - 0.5 * (row - prior_mean) ** 2 / prior_var
        return lp

    def best(points):  # points: (n_grid, genes); first maximum, as Armadillo's index_max
        scores = np.stack([score(row) for row in points])
        scores = np.where(np.isnan(scores), -np.inf, scores)
        return points[np.argmax(scores, axis=0), np.arange(points.shape[1])]

    G = Y.shape[1]
    coarse = best(np.repeat(grid[:, None], G, axis=1))
    fine = np.linspace(coarse - delta, coarse + delta, n_grid)
    return best(fine)
