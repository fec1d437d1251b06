"""Gene-vectorised drop-in replacement for PyDESeq2's ``DefaultInference``.

``FastInference`` implements every method of :class:`pydeseq2.inference.Inference`
on all genes at once: batched linear algebra on ``(G, p, p)`` stacks for the GLM
steps (hat diagonals, Wald tests, least-squares initial means), and numba
kernels (``cache=True``, so JIT compilation is paid once per machine) for the
per-gene dispersion fits and the IRLS, run in parallel over genes.

Dispersions (``alpha_mle``): PyDESeq2 runs scipy's L-BFGS-B on log(alpha) per gene
and its answer depends on that optimiser's stopping rules (pgtol 1e-5, relative
reduction 2.2e-9, line-search details), not only on the optimum. The kernel
``_lbfgsb_1d`` is a scalar transcription of L-BFGS-B 3.0 (in one dimension the
Cauchy point and subspace step coincide and the quasi-Newton matrix is y/s of the
last pair) with the Moré-Thuente line search, so it stops where scipy stops,
including L-BFGS-B's stop-at-start rule (alpha stays at 1e-8 when the projected
gradient there is below pgtol). Its objective is computed stably: for 1/alpha >= 1e4
the ``gammaln(y + 1/alpha) - gammaln(1/alpha)`` differences use asymptotic
expansions written with ``log1p``, so they do not cancel near alpha = 1e-8.

For problems under ``FastInference.numba_min_cells`` genes x samples the same
L-BFGS-B runs as a numpy lockstep over genes (``_alpha_mle_lockstep``), which avoids
numba's import and start-up (~0.4 s per process); numba is imported only when needed.

The IRLS (``irls``) is ``pydeseq2.utils.irls_solver``'s iteration, the same
formulas and stopping rule. Small problems run it as a numpy lockstep
(``_irls_lockstep``) that is bit-identical to irls_solver: stacked ``np.matmul`` and
scipy's batched ``solve`` make the same BLAS/LAPACK calls per gene. Large ones run
the numba kernel ``_irls_genes`` (one fused pass over the samples per iteration,
parallel over genes; at 60,000 genes x 200 samples ~3.5x faster), whose sums run in
another order, so betas differ in the last bits.

Near alpha = 1e-8 PyDESeq2's own objective is rounding noise (~1e-6), and whether
its L-BFGS-B stops after the first step is decided by that noise. Genes started at
the lower bound that move are therefore replayed with scipy's L-BFGS-B (its
reverse-communication ``setulb``, many genes in lockstep) on PyDESeq2's exact
formulas. Where the inputs (e.g. IRLS means) differ from DefaultInference's in the
last bits, such genes can still end elsewhere than with DefaultInference.

All-zero genes, non-finite inputs and singular ``X^T W X`` are masked per gene, so one
bad gene never breaks a batched solve; genes whose IRLS diverges (|beta| > 30, e.g. a
group of zeros) use PyDESeq2's per-gene L-BFGS-B fall-back, as DefaultInference.

LFC shrinkage (``lfc_shrink_nbinom_glm``) runs PyDESeq2's optimiser for all genes at
once: ``_lbfgs_lockstep`` is scipy's L-BFGS-B without bounds transcribed for many
problems in numpy lockstep, on the same objective divided by the same scale (its
value at beta = 0) with the same tolerances. Its stopping point matters: that scale
grows with the counts, so for highly expressed genes PyDESeq2 (and R's apeglm, whose
L-BFGS uses the same scaling) stops measurably short of the exact optimum, and an
exact solver would disagree with both (0.01 log2 for ~400,000 reads per sample).
The path matters too: with a narrow prior the posterior of a gene can have two modes
(near 0 and near the MLE), and which one is found depends on the optimiser (a Newton
solver differed from DefaultInference by up to 1.2 log2 on the example cohort).
Shrunken LFCs agree with DefaultInference's to ~1e-9. Deliberate departure: the
returned inverse Hessian is the exact one; PyDESeq2 0.5.4 adds the prior's diagonal
to whole Hessian columns (``np.diag`` applied twice), so shrunken standard errors
differ slightly.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd
from pydeseq2.inference import Inference

__all__ = ["FastInference"]

# Above this size parameter r = 1/alpha, use asymptotic expansions.
_R_ASYMPTOTIC = 1.0e4
_PGTOL = 1e-5  # scipy L-BFGS-B default, used by DefaultInference


# --------------------------------------------------------------------------------------
# numba kernels (compiled lazily: importing numba costs ~0.15 s, loading its target
# ~0.25 s; only large alpha_mle problems need them)
# --------------------------------------------------------------------------------------
_KERNELS: list = []
prange = range  # numba.prange once the kernels are compiled


def _jit(**options):
    """Mark a module-level function for ``numba.njit(**options)`` on first use."""

    def mark(func):
        _KERNELS.append((func.__name__, options))
        return func

    return mark


def _numba_kernels() -> None:
    """Replace the marked functions by their numba dispatchers (once)."""
    if not _KERNELS:
        return
    import numba

    g = globals()
    g["prange"] = numba.prange
    while _KERNELS:
        name, options = _KERNELS.pop(0)
        g[name] = numba.njit(**options)(g[name])


@_jit(cache=True, inline="always")
def _digamma(x):
    res = 0.0
    while x < 10.0:
        res -= 1.0 / x
        x += 1.0
    f = 1.0 / (x * x)
    series = f * (
        1.0 / 12
        - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f * (1.0 / 132))))
    )
    return res + math.log(x) - 0.5 / x - series


@_jit(cache=True, inline="always")
def _cholesky(M, L):
    """L L^T = M (p x p, lower triangle of M read, of L written); False when M is not
    positive definite or not finite."""
    p = M.shape[0]
    for i in range(p):
        for k in range(i + 1):
            acc = M[i, k]
            for q in range(k):
                acc -= L[i, q] * L[k, q]
            if i == k:
                if not acc > 0.0 or not np.isfinite(acc):
                    return False
                L[i, i] = math.sqrt(acc)
            else:
                L[i, k] = acc / L[k, k]
    return True


@_jit(cache=True, inline="always")
def _cholesky_solve(L, b):
    """Solve L L^T x = b in place (forward, then back substitution)."""
    p = L.shape[0]
    for i in range(p):
        acc = b[i]
        for q in range(i):
            acc -= L[i, q] * b[q]
        b[i] = acc / L[i, i]
    for i in range(p - 1, -1, -1):
        acc = b[i]
        for q in range(i + 1, p):
            acc -= L[q, i] * b[q]
        b[i] = acc / L[i, i]


# --------------------------------------------------------------------------------------
# 1-D L-BFGS-B on log-dispersion, step for step as scipy's (L-BFGS-B 3.0)
# --------------------------------------------------------------------------------------
@_jit(cache=True)
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
        dg_r = _digamma(r)
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
                dg = _digamma(yj + r) - dg_r
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
        if not _cholesky(M, L):
            return np.nan, np.nan, False
        logdet = 0.0
        for i in range(p):
            logdet += 2.0 * math.log(L[i, i])
        # tr(M^-1 M1) = sum_k e_k^T M^-1 M1 e_k: solve M z = M1[:, k]
        tr = 0.0
        for k in range(p):
            for i in range(p):
                z[i] = M1[i, k]
            _cholesky_solve(L, z)
            tr += z[k]
        f += 0.5 * logdet
        g += 0.5 * tr
    if prior_reg:
        dt = t - t_hat
        f += dt * dt / (2.0 * prior_var)
        g += dt / prior_var
    ok = np.isfinite(f) and np.isfinite(g)
    return f, g, ok


@_jit(cache=True, inline="always")
def _dcstep(stx, fx, dx, sty, fy, dy, stp, fp, dp, brackt, stpmin, stpmax):
    """MINPACK-2 dcstep (Moré-Thuente safeguarded step), scalar version."""
    sgnd = dp * (dx / abs(dx))
    if fp > fx:
        theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp
        s = max(abs(theta), abs(dx), abs(dp))
        gamma = s * math.sqrt((theta / s) ** 2 - (dx / s) * (dp / s))
        if stp < stx:
            gamma = -gamma
        p = (gamma - dx) + theta
        q = ((gamma - dx) + gamma) + dp
        r = p / q
        stpc = stx + r * (stp - stx)
        stpq = stx + ((dx / ((fx - fp) / (stp - stx) + dx)) / 2.0) * (stp - stx)
        if abs(stpc - stx) < abs(stpq - stx):
            stpf = stpc
        else:
            stpf = stpc + (stpq - stpc) / 2.0
        brackt = True
    elif sgnd < 0.0:
        theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp
        s = max(abs(theta), abs(dx), abs(dp))
        gamma = s * math.sqrt((theta / s) ** 2 - (dx / s) * (dp / s))
        if stp > stx:
            gamma = -gamma
        p = (gamma - dp) + theta
        q = ((gamma - dp) + gamma) + dx
        r = p / q
        stpc = stp + r * (stx - stp)
        stpq = stp + (dp / (dp - dx)) * (stx - stp)
        if abs(stpc - stp) > abs(stpq - stp):
            stpf = stpc
        else:
            stpf = stpq
        brackt = True
    elif abs(dp) < abs(dx):
        theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp
        s = max(abs(theta), abs(dx), abs(dp))
        gamma = s * math.sqrt(max(0.0, (theta / s) ** 2 - (dx / s) * (dp / s)))
        if stp > stx:
            gamma = -gamma
        p = (gamma - dp) + theta
        q = (gamma + (dx - dp)) + gamma
        r = p / q
        if r < 0.0 and gamma != 0.0:
            stpc = stp + r * (stx - stp)
        elif stp > stx:
            stpc = stpmax
        else:
            stpc = stpmin
        stpq = stp + (dp / (dp - dx)) * (stx - stp)
        if brackt:
            if abs(stpc - stp) < abs(stpq - stp):
                stpf = stpc
            else:
                stpf = stpq
            if stp > stx:
                stpf = min(stp + 0.66 * (sty - stp), stpf)
            else:
                stpf = max(stp + 0.66 * (sty - stp), stpf)
        else:
            if abs(stpc - stp) > abs(stpq - stp):
                stpf = stpc
            else:
                stpf = stpq
            stpf = min(stpmax, stpf)
            stpf = max(stpmin, stpf)
    else:
        if brackt:
            theta = 3.0 * (fp - fy) / (sty - stp) + dy + dp
            s = max(abs(theta), abs(dy), abs(dp))
            gamma = s * math.sqrt((theta / s) ** 2 - (dy / s) * (dp / s))
            if stp > sty:
                gamma = -gamma
            p = (gamma - dp) + theta
            q = ((gamma - dp) + gamma) + dy
            r = p / q
            stpc = stp + r * (sty - stp)
            stpf = stpc
        elif stp > stx:
            stpf = stpmax
        else:
            stpf = stpmin
    if fp > fx:
        sty = stp
        fy = fp
        dy = dp
    else:
        if sgnd < 0.0:
            sty = stx
            fy = fx
            dy = dx
        stx = stp
        fx = fp
        dx = dp
    return stx, fx, dx, sty, fy, dy, stpf, brackt


@_jit(cache=True)
def _lbfgsb_1d(y, mu, X, XXt, t0, lo, hi, lgy1, cr_reg, prior_reg, t_hat, prior_var, B0, it0):
    """Minimise the dispersion objective in t = log(alpha) on [lo, hi].

    A scalar transcription of L-BFGS-B 3.0 as scipy runs it (m = 10, factr such that
    ftol = 2.22e-9, pgtol = 1e-5, maxls = 20): generalised Cauchy point and subspace
    step (which coincide in one dimension, with B = y/s of the last accepted pair),
    Moré-Thuente line search (ftol 1e-3, gtol 0.9, xtol 0.1, first step bounded by
    1), and the same stopping rules. Returns (t, status): 0 converged, 1 abnormal.
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
        if it == 0:
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
                stx, fxm, gxm, sty, fym, gym, stp, brackt = _dcstep(
                    stx, fxm, gxm, sty, fym, gym, stp, fm, gm, brackt, stmin, stmax
                )
                fx = fxm + stx * gtest
                fy = fym + sty * gtest
                gx = gxm + gtest
                gy = gym + gtest
            else:
                stx, fx, gx, sty, fy, gy, stp, brackt = _dcstep(
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


@_jit(cache=True, parallel=True)
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


# --------------------------------------------------------------------------------------
# IRLS for the GLM coefficients, one gene per iteration of a parallel loop
# --------------------------------------------------------------------------------------
@_jit(cache=True, parallel=True)
def _irls_genes(Y, sf, log_sf, X, disp, beta0, min_mu, beta_tol, max_beta, maxiter, rows):
    """pydeseq2.utils.irls_solver's iteration for the genes in ``rows``, fused: one
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
            if not _cholesky(H, L):
                status[i] = 1
                break
            _cholesky_solve(L, b)
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
    converge or diverge); same (beta, status) contract.

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
    active = np.arange(G)
    it = 0
    while active.size:
        it += 1
        m = mu[active]
        y = Y[active]
        W = m / (1.0 + m * disp[active, None])
        z = np.log(m / sf) + (y - m) / m
        H = np.matmul(XT * W[:, None, :], X) + ridge
        rhs = np.matmul(XT, (W * z)[:, :, None])
        beta_hat = _solve_stack(H, rhs, "pos")[..., 0]
        diverged = ~(np.abs(beta_hat) <= max_beta).all(axis=1)  # NaN included
        if it >= maxiter:
            diverged[:] = True
        status[active[diverged]] = 1
        keep = ~diverged
        act = active[keep]
        beta[act] = beta_hat[keep]
        mu_new = np.maximum(sf * np.exp(beta[act] @ XT), min_mu)
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


# --------------------------------------------------------------------------------------
# the same 1-D L-BFGS-B in numpy, all genes in lockstep (no numba start-up cost)
# --------------------------------------------------------------------------------------
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
            tr = (_safe_inv(M) * M1).sum(axis=(1, 2))
        f = f + 0.5 * logdet
        g = g + 0.5 * tr
    if prior_reg:
        dt = t - t_hat
        f = f + dt * dt / (2.0 * prior_var)
        g = g + dt / prior_var
    ok &= np.isfinite(f) & np.isfinite(g)
    return f, g, ok


def _dcstep_vec(stx, fx, dx, sty, fy, dy, stp, fp, dp, brackt, stpmin, stpmax):
    """``_dcstep`` on arrays (each element its own line search)."""
    sgnd = dp * (dx / np.abs(dx))
    c1 = fp > fx
    c2 = ~c1 & (sgnd < 0.0)
    c3 = ~c1 & ~c2 & (np.abs(dp) < np.abs(dx))
    c4 = ~(c1 | c2 | c3)
    stpf = np.empty_like(stp)
    theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp
    s = np.maximum(np.maximum(np.abs(theta), np.abs(dx)), np.abs(dp))
    disc = (theta / s) ** 2 - (dx / s) * (dp / s)
    if c1.any():
        gam = s * np.sqrt(disc)
        gam = np.where(stp < stx, -gam, gam)
        q = ((gam - dx) + gam) + dp
        stpc = stx + ((gam - dx) + theta) / q * (stp - stx)
        stpq = stx + ((dx / ((fx - fp) / (stp - stx) + dx)) / 2.0) * (stp - stx)
        v = np.where(np.abs(stpc - stx) < np.abs(stpq - stx), stpc, stpc + (stpq - stpc) / 2.0)
        stpf[c1] = v[c1]
    if c2.any():
        gam = s * np.sqrt(disc)
        gam = np.where(stp > stx, -gam, gam)
        q = ((gam - dp) + gam) + dx
        stpc = stp + ((gam - dp) + theta) / q * (stx - stp)
        stpq = stp + (dp / (dp - dx)) * (stx - stp)
        v = np.where(np.abs(stpc - stp) > np.abs(stpq - stp), stpc, stpq)
        stpf[c2] = v[c2]
    if c3.any():
        gam = s * np.sqrt(np.maximum(0.0, disc))
        gam = np.where(stp > stx, -gam, gam)
        q = (gam + (dx - dp)) + gam
        r = ((gam - dp) + theta) / q
        stpc = np.where(
            (r < 0.0) & (gam != 0.0), stp + r * (stx - stp), np.where(stp > stx, stpmax, stpmin)
        )
        stpq = stp + (dp / (dp - dx)) * (stx - stp)
        vb = np.where(np.abs(stpc - stp) < np.abs(stpq - stp), stpc, stpq)
        vb = np.where(
            stp > stx, np.minimum(stp + 0.66 * (sty - stp), vb), np.maximum(stp + 0.66 * (sty - stp), vb)
        )
        vn = np.where(np.abs(stpc - stp) > np.abs(stpq - stp), stpc, stpq)
        vn = np.maximum(stpmin, np.minimum(stpmax, vn))
        v = np.where(brackt, vb, vn)
        stpf[c3] = v[c3]
    if c4.any():
        theta4 = 3.0 * (fp - fy) / (sty - stp) + dy + dp
        s4 = np.maximum(np.maximum(np.abs(theta4), np.abs(dy)), np.abs(dp))
        gam = s4 * np.sqrt((theta4 / s4) ** 2 - (dy / s4) * (dp / s4))
        gam = np.where(stp > sty, -gam, gam)
        q = ((gam - dp) + gam) + dy
        stpc = stp + ((gam - dp) + theta4) / q * (sty - stp)
        v = np.where(brackt, stpc, np.where(stp > stx, stpmax, stpmin))
        stpf[c4] = v[c4]
    brackt = brackt | c1 | c2
    take_x = sgnd < 0.0
    n_sty = np.where(c1, stp, np.where(take_x, stx, sty))
    n_fy = np.where(c1, fp, np.where(take_x, fx, fy))
    n_dy = np.where(c1, dp, np.where(take_x, dx, dy))
    n_stx = np.where(c1, stx, stp)
    n_fx = np.where(c1, fx, fp)
    n_dx = np.where(c1, dx, dp)
    return n_stx, n_fx, n_dx, n_sty, n_fy, n_dy, stpf, brackt


def _dcsrch_next_step(
    stage1, ftest, gtest, fp, dp, stp, stx, fx, dx, sty, fy, dy, brackt, width, width1,
    stmin, stmax, stpmax, xtol,
):
    """MINPACK-2 ``dcsrch``'s next trial step, on arrays (each element its own line
    search that has not converged at ``stp`` with value ``fp`` and slope ``dp``).

    Stage 1 works on the modified function f - gtest * stp. Returns the new
    (stx, fx, dx, sty, fy, dy, brackt, width, width1, stmin, stmax, stp).
    """
    mod = stage1 & (fp <= fx) & (fp > ftest)
    fxa = np.where(mod, fx - stx * gtest, fx)
    fya = np.where(mod, fy - sty * gtest, fy)
    dxa = np.where(mod, dx - gtest, dx)
    dya = np.where(mod, dy - gtest, dy)
    fpa = np.where(mod, fp - stp * gtest, fp)
    dpa = np.where(mod, dp - gtest, dp)
    sx2, fx2, dx2, sy2, fy2, dy2, stn, br = _dcstep_vec(
        stx, fxa, dxa, sty, fya, dya, stp, fpa, dpa, brackt, stmin, stmax
    )
    fx2 = np.where(mod, fx2 + sx2 * gtest, fx2)
    fy2 = np.where(mod, fy2 + sy2 * gtest, fy2)
    dx2 = np.where(mod, dx2 + gtest, dx2)
    dy2 = np.where(mod, dy2 + gtest, dy2)
    half = br & (np.abs(sy2 - sx2) >= 0.66 * width1)
    stn = np.where(half, sx2 + 0.5 * (sy2 - sx2), stn)
    nw1 = np.where(br, width, width1)
    nw = np.where(br, np.abs(sy2 - sx2), width)
    smn = np.where(br, np.minimum(sx2, sy2), stn + 1.1 * (stn - sx2))
    smx = np.where(br, np.maximum(sx2, sy2), stn + 4.0 * (stn - sx2))
    stn = np.minimum(np.maximum(stn, 0.0), stpmax)
    back = (br & ((stn <= smn) | (stn >= smx))) | (br & (smx - smn <= xtol * smx))
    stn = np.where(back, sx2, stn)
    return sx2, fx2, dx2, sy2, fy2, dy2, br, nw, nw1, smn, smx, stn


def _alpha_mle_lockstep(Y, MU, X, t0, lo, hi, lgy1, cr_reg, prior_reg, t_hat, prior_var):
    """``_lbfgsb_1d`` for all genes (rows) at once, in numpy.

    Same algorithm and stopping rules, one objective evaluation per active gene and
    round. Returns (t, status) as the numba kernel: 0 converged, 1 abnormal, 2 the
    objective was not finite.
    """
    K = Y.shape[0]
    XX = _outer_rows(X)
    eps = 2.220446049250313e-16
    ftol_rel = 2.220446049250313e-09
    th = np.zeros(K) if t_hat is None else t_hat

    def F(idx, tt):
        return _disp_fg_vec(Y[idx], MU[idx], X, XX, tt, lgy1[idx], cr_reg, prior_reg,
                            th[idx], prior_var)

    def projgr(x, g):
        return np.where(g < 0.0, np.abs(np.maximum(x - hi, g)), np.abs(np.minimum(x - lo, g)))

    x = np.clip(t0, lo, hi)
    status = np.full(K, -1, dtype=np.int64)
    with np.errstate(all="ignore"):
        f, g, ok = F(np.arange(K), x)
        status[~ok] = 2
        status[ok & (projgr(x, g) <= 1e-5)] = 0
        B = np.ones(K)
        have = np.zeros(K, dtype=bool)
        it = np.zeros(K, dtype=np.int64)
        z = np.zeros(K)
        target, d, stpmx, stp, t_start, f_old, g_old, gdold = (z.copy() for _ in range(8))
        finit, ginit, gtest, width, width1 = (z.copy() for _ in range(5))
        stx, fx, gx, sty, fy, gy, stmin, stmax = (z.copy() for _ in range(8))
        brackt = np.zeros(K, dtype=bool)
        stage = np.ones(K, dtype=np.int64)
        nfev = np.zeros(K, dtype=np.int64)
        evaluating = np.zeros(K, dtype=bool)
        start = np.flatnonzero(status < 0)
        while True:
            # new iterations (direction and line-search set-up)
            while start.size:
                S = start
                tg = np.clip(x[S] - g[S] / B[S], lo, hi)
                dd = tg - x[S]
                target[S], d[S] = tg, dd
                sm = np.full(S.size, 1e10)
                neg, pos = dd < 0.0, dd > 0.0
                a_lo, a_hi = lo - x[S], hi - x[S]
                sm = np.where(neg & (a_lo >= 0.0), 0.0, np.where(neg & (dd * 1e10 < a_lo), a_lo / dd, sm))
                sm = np.where(pos & (a_hi <= 0.0), 0.0, np.where(pos & (dd * 1e10 > a_hi), a_hi / dd, sm))
                stpmx[S] = np.where(it[S] == 0, 1.0, sm)
                gd = g[S] * dd
                not_desc = ~(gd < 0.0)
                reset = S[not_desc & have[S]]
                status[S[not_desc & ~have[S]]] = 1
                have[reset] = False
                B[reset] = 1.0
                G_ = S[~not_desc]
                gdg = gd[~not_desc]
                stp[G_] = 1.0
                t_start[G_] = x[G_]
                f_old[G_] = f[G_]
                g_old[G_] = g[G_]
                gdold[G_] = gdg
                brackt[G_] = False
                stage[G_] = 1
                finit[G_] = f[G_]
                ginit[G_] = gdg
                gtest[G_] = 1e-3 * gdg
                width[G_] = stpmx[G_]
                width1[G_] = stpmx[G_] / 0.5
                stx[G_] = 0.0
                fx[G_] = f[G_]
                gx[G_] = gdg
                sty[G_] = 0.0
                fy[G_] = f[G_]
                gy[G_] = gdg
                stmin[G_] = 0.0
                stmax[G_] = 5.0
                nfev[G_] = 0
                evaluating[G_] = True
                start = reset
            E = np.flatnonzero(evaluating)
            if E.size == 0:
                break
            # one trial point per gene in a line search
            xn = np.where(stp[E] == 1.0, target[E], t_start[E] + stp[E] * d[E])
            fn, gn, okn = F(E, xn)
            f[E], g[E] = fn, gn
            nfev[E] += 1
            bad = E[~okn]
            x[bad] = t_start[bad]
            status[bad] = 2
            evaluating[bad] = False
            E, xn, fn, gn = E[okn], xn[okn], fn[okn], gn[okn]
            gdn = gn * d[E]
            st = stp[E]
            ftest = finit[E] + st * gtest[E]
            stage[E[(stage[E] == 1) & (fn <= ftest) & (gdn >= 0.0)]] = 2
            br, smn, smx = brackt[E], stmin[E], stmax[E]
            done = (
                (br & ((st <= smn) | (st >= smx)))
                | (br & (smx - smn <= 0.1 * smx))
                | ((st == stpmx[E]) & (fn <= ftest) & (gdn <= gtest[E]))
                | ((st == 0.0) & ((fn > ftest) | (gdn >= gtest[E])))
                | ((fn <= ftest) & (np.abs(gdn) <= 0.9 * (-ginit[E])))
            )
            # accepted steps: convergence tests and quasi-Newton update
            A = E[done]
            if A.size:
                evaluating[A] = False
                x[A] = xn[done]
                it[A] += 1
                xa, fa, ga = x[A], f[A], g[A]
                conv = (projgr(xa, ga) <= 1e-5) | (
                    f_old[A] - fa <= ftol_rel * np.maximum(np.maximum(np.abs(f_old[A]), np.abs(fa)), 1.0)
                )
                status[A[conv]] = 0
                status[A[~conv & (it[A] >= 15000)]] = 1
                gda = gdn[done]
                one = stp[A] == 1.0
                dr = np.where(one, gda - gdold[A], (gda - gdold[A]) * stp[A])
                ddum = np.where(one, -gdold[A], -gdold[A] * stp[A])
                upd = (dr > eps * ddum) & ~conv
                U = A[upd]
                B[U] = (g[U] - g_old[U]) / (x[U] - t_start[U])
                have[U] = True
                nxt = A[status[A] < 0]
            else:
                nxt = A
            # line searches that ran out of evaluations
            rest = ~done
            Fl = E[rest & (nfev[E] >= 20)]
            if Fl.size:
                evaluating[Fl] = False
                x[Fl], f[Fl], g[Fl] = t_start[Fl], f_old[Fl], g_old[Fl]
                restart = Fl[have[Fl]]
                status[Fl[~have[Fl]]] = 1
                have[restart] = False
                B[restart] = 1.0
                nxt = np.concatenate([nxt, restart])
            # the others: next trial step (dcsrch)
            C = rest & (nfev[E] < 20)
            I = E[C]
            if I.size:
                stc = stp[I]
                (stx[I], fx[I], gx[I], sty[I], fy[I], gy[I], brackt[I], width[I], width1[I],
                 stmin[I], stmax[I], stp[I]) = _dcsrch_next_step(
                    stage[I] == 1, finit[I] + stc * gtest[I], gtest[I], fn[C], gdn[C], stc,
                    stx[I], fx[I], gx[I], sty[I], fy[I], gy[I], brackt[I], width[I],
                    width1[I], stmin[I], stmax[I], stpmx[I], 0.1,
                )
            start = nxt
    return x, status


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
        reg_grad += (0.5 * (_safe_inv(M) * M1).sum(axis=(1, 2))) * alpha[:, 0]
    if prior_reg:
        reg += (t - t_hat) ** 2 / (2 * prior_var)
        reg_grad += (t - t_hat) / prior_var
    return nll + reg, alpha[:, 0] * dnll + reg_grad


def _lbfgsb_lockstep(Y, MU, X, t0, lo, hi, cr_reg, prior_reg, t_hat, prior_var):
    """scipy's own L-BFGS-B on PyDESeq2's objective, many genes in lockstep.

    Each gene keeps its own L-BFGS-B state (scipy's reverse-communication
    ``setulb``, with ``minimize``'s defaults); the objective is evaluated for all
    genes that ask for it at once, with PyDESeq2's formulas. The result is what
    ``pydeseq2.utils.fit_alpha_mle`` computes, at a fraction of the cost. Returns
    (t, success).
    """
    from scipy.optimize import _lbfgsb

    K = t0.shape[0]
    m = 10
    factr = 2.2204460492503131e-09 / np.finfo(float).eps
    pgtol = _PGTOL
    nbd = np.array([2], np.int32)
    low = np.array([lo], float)
    up = np.array([hi], float)
    xs = [np.array([min(max(t0[k], lo), hi)], float) for k in range(K)]
    fs = [np.array(0.0) for _ in range(K)]
    gs = [np.zeros(1) for _ in range(K)]
    was = [np.zeros(2 * m + 5 + 11 * m * m + 8 * m) for _ in range(K)]
    iwas = [np.zeros(3, np.int32) for _ in range(K)]
    tasks = [np.zeros(2, np.int32) for _ in range(K)]
    ln_tasks = [np.zeros(2, np.int32) for _ in range(K)]
    lsaves = [np.zeros(4, np.int32) for _ in range(K)]
    isaves = [np.zeros(44, np.int32) for _ in range(K)]
    dsaves = [np.zeros(29) for _ in range(K)]
    nit = np.zeros(K, dtype=np.int64)
    active = list(range(K))
    success = np.zeros(K, dtype=bool)
    while active:
        need = []
        still = []
        for k in active:
            _lbfgsb.setulb(
                m, xs[k], low, up, nbd, fs[k], gs[k], factr, pgtol, was[k], iwas[k],
                tasks[k], lsaves[k], isaves[k], dsaves[k], 20, ln_tasks[k],
            )
            task = tasks[k][0]
            if task == 3:
                need.append(k)
                still.append(k)
            elif task == 1:
                nit[k] += 1
                if nit[k] >= 15000:
                    tasks[k][0] = 5
                    tasks[k][1] = 504
                still.append(k)
            else:
                success[k] = task == 4
        if need:
            idx = np.array(need)
            tt = np.array([xs[k][0] for k in need])
            f, g = _pydeseq2_disp_loss(
                Y[idx], MU[idx], X, tt, cr_reg, prior_reg,
                None if t_hat is None else t_hat[idx], prior_var,
            )
            for j, k in enumerate(need):
                fs[k] = np.array(f[j])
                gs[k] = np.array([g[j]], dtype=np.float64)
        active = still
    t = np.array([xs[k][0] for k in range(K)])
    return t, success


# --------------------------------------------------------------------------------------
# LFC shrinkage: scipy's unbounded L-BFGS-B for many genes at once
# --------------------------------------------------------------------------------------
def _lbfgs_lockstep(fg, x0, ftol, gtol, m=10, maxls=20, maxiter=15000):
    """``scipy.optimize.minimize(method="L-BFGS-B")`` without bounds, for K problems.

    A transcription of L-BFGS-B 3.0 (as in scipy) for unbounded variables, each row of
    ``x0`` its own problem, run in lockstep: ``fg(idx, x)`` returns the objective
    (len(idx),) and gradient (len(idx), p) of problems ``idx`` at points ``x``. Without
    bounds L-BFGS-B's Cauchy point plus subspace step is the L-BFGS step ``-H g``
    (here by the two-loop recursion with H0 = I / theta, theta = y'y / s'y of the
    newest pair; with no pairs the step is ``-g`` and the first line search starts at
    1/|g|), followed by the Moré-Thuente line search (ftol 1e-3, gtol 0.9, xtol 0.1,
    at most ``maxls`` evaluations; on failure the memory is dropped, or the problem
    ends abnormally if it held none). Stopping rules: max|g| <= gtol, or
    (f_old - f) <= ftol * max(|f_old|, |f|, 1). So it stops where scipy stops, up to
    rounding. Returns (x, success) like ``res.x``/``res.success``.
    """
    eps = np.finfo(float).eps
    tol = (ftol / eps) * eps  # minimize passes factr = ftol / eps; setulb tests factr * eps
    K, p = x0.shape
    x = np.array(x0, dtype=float)
    status = np.full(K, -1, dtype=np.int64)  # -1 running, 0 converged, 1 failed
    with np.errstate(all="ignore"):
        f, g = fg(np.arange(K), x)
        finite = np.isfinite(f) & np.isfinite(g).all(axis=1)
        status[~finite] = 1
        status[finite & (np.abs(g).max(axis=1) <= gtol)] = 0
        # L-BFGS memory, oldest pair first, problems last (contiguous for the
        # two-loop recursion); unused slots are zero, so they drop out.
        S_mem = np.zeros((m, p, K))
        Y_mem = np.zeros((m, p, K))
        rho = np.zeros((m, K))
        ncol = np.zeros(K, dtype=np.int64)
        theta = np.ones(K)
        it = np.zeros(K, dtype=np.int64)
        # line-search state (lnsrlb / dcsrch)
        t_start, g_old, d, z = (np.zeros((K, p)) for _ in range(4))
        f_old, gdold, stp = np.zeros(K), np.zeros(K), np.zeros(K)
        ls = _MoreThuenteLockstep(K)
        evaluating = np.zeros(K, dtype=bool)

        def forget(idx):
            S_mem[:, :, idx] = 0.0
            Y_mem[:, :, idx] = 0.0
            rho[:, idx] = 0.0
            ncol[idx] = 0
            theta[idx] = 1.0

        start = np.flatnonzero(status < 0)
        while True:
            while start.size:  # new iterations: direction, then line-search set-up
                St = start
                gS = g[St]
                used = int(ncol[St].max())
                Sm, Ym, rh = S_mem[:used, :, St], Y_mem[:used, :, St], rho[:used, St]
                q = gS.T.copy()
                alpha = np.zeros((used, St.size))
                for i in range(used - 1, -1, -1):
                    alpha[i] = rh[i] * (Sm[i] * q).sum(axis=0)
                    q -= alpha[i] * Ym[i]
                r = q / theta[St]
                for i in range(used):
                    beta = rh[i] * (Ym[i] * r).sum(axis=0)
                    r += Sm[i] * (alpha[i] - beta)
                # with no pairs, the Cauchy point x - g / theta (theta = 1)
                zS = x[St] - np.where(ncol[St, None] > 0, r.T, gS)
                dS = zS - x[St]
                gd = np.einsum("kp,kp->k", gS, dS)
                not_desc = ~(gd < 0.0)
                status[St[not_desc & (ncol[St] == 0)]] = 1
                reset = St[not_desc & (ncol[St] > 0)]
                forget(reset)
                A = St[~not_desc]
                z[A], d[A] = zS[~not_desc], dS[~not_desc]
                dnorm = np.sqrt(np.einsum("kp,kp->k", d[A], d[A]))
                stp[A] = np.where(it[A] == 0, np.minimum(1.0 / dnorm, 1e10), 1.0)
                t_start[A], f_old[A], g_old[A] = x[A], f[A], g[A]
                gdold[A] = gd[~not_desc]
                ls.start(A, f[A], gdold[A], stp[A], 1e10)
                evaluating[A] = True
                start = reset
            E = np.flatnonzero(evaluating)
            if E.size == 0:
                break
            st = stp[E]
            xn = np.where((st == 1.0)[:, None], z[E], st[:, None] * d[E] + t_start[E])
            fn, gn = fg(E, xn)
            x[E], f[E], g[E] = xn, fn, gn
            okn = np.isfinite(fn) & np.isfinite(gn).all(axis=1)
            bad = E[~okn]
            x[bad], f[bad], g[bad] = t_start[bad], f_old[bad], g_old[bad]
            status[bad] = 1
            evaluating[bad] = False
            E, fn = E[okn], fn[okn]
            gdn = np.einsum("kp,kp->k", g[E], d[E])
            done, new_stp = ls.step(E, fn, gdn, stp[E])
            # accepted steps: convergence tests, then the L-BFGS update
            A = E[done]
            evaluating[A] = False
            it[A] += 1
            fa, fo = f[A], f_old[A]
            conv = (np.abs(g[A]).max(axis=1) <= gtol) | (
                fo - fa <= tol * np.maximum(np.maximum(np.abs(fo), np.abs(fa)), 1.0)
            )
            status[A[conv]] = 0
            status[A[~conv & (it[A] >= maxiter)]] = 1
            gda, sa = gdn[done], stp[A]
            one = sa == 1.0
            dr = np.where(one, gda - gdold[A], (gda - gdold[A]) * sa)
            ddum = np.where(one, -gdold[A], -gdold[A] * sa)
            upd = (dr > eps * ddum) & (status[A] < 0)
            U = A[upd]
            if U.size:
                s_new = np.where(one[upd, None], d[U], sa[upd, None] * d[U])
                y_new = g[U] - g_old[U]
                Uf = U[ncol[U] == m]  # memory full: drop the oldest pair
                S_mem[:, :, Uf] = np.roll(S_mem[:, :, Uf], -1, axis=0)
                Y_mem[:, :, Uf] = np.roll(Y_mem[:, :, Uf], -1, axis=0)
                rho[:, Uf] = np.roll(rho[:, Uf], -1, axis=0)
                pos = np.minimum(ncol[U], m - 1)
                S_mem[pos, :, U], Y_mem[pos, :, U], rho[pos, U] = s_new, y_new, 1.0 / dr[upd]
                ncol[U] = np.minimum(ncol[U] + 1, m)
                theta[U] = np.einsum("kp,kp->k", y_new, y_new) / dr[upd]
            nxt = A[status[A] < 0]
            # line searches that ran out of evaluations: back to the start point
            rest = ~done
            Fl = E[rest & (ls.nfev[E] >= maxls)]
            evaluating[Fl] = False
            x[Fl], f[Fl], g[Fl] = t_start[Fl], f_old[Fl], g_old[Fl]
            status[Fl[ncol[Fl] == 0]] = 1
            restart = Fl[ncol[Fl] > 0]
            forget(restart)
            more = rest & (ls.nfev[E] < maxls)
            stp[E[more]] = new_stp[more]
            start = np.concatenate([nxt, restart])
    return x, status == 0


class _MoreThuenteLockstep:
    """MINPACK-2's ``dcsrch`` (ftol 1e-3, gtol 0.9, xtol 0.1, stpmin 0), as L-BFGS-B
    calls it, for many line searches at once; state per problem index."""

    ftol, gtol, xtol = 1e-3, 0.9, 0.1

    def __init__(self, K: int):
        z = np.zeros(K)
        self.brackt = np.zeros(K, dtype=bool)
        self.stage = np.ones(K, dtype=np.int64)
        self.nfev = np.zeros(K, dtype=np.int64)
        (self.finit, self.ginit, self.gtest, self.width, self.width1, self.stx, self.fx,
         self.gx, self.sty, self.fy, self.gy, self.stmin, self.stmax, self.stpmax) = (
            z.copy() for _ in range(14)
        )

    def start(self, idx, f, gd, stp, stpmax):
        """A new line search from f with directional derivative gd < 0, first step stp."""
        self.brackt[idx] = False
        self.stage[idx] = 1
        self.nfev[idx] = 0
        self.finit[idx] = f
        self.ginit[idx] = gd
        self.gtest[idx] = self.ftol * gd
        self.stpmax[idx] = stpmax
        self.width[idx] = stpmax
        self.width1[idx] = stpmax / 0.5
        self.stx[idx] = 0.0
        self.fx[idx] = f
        self.gx[idx] = gd
        self.sty[idx] = 0.0
        self.fy[idx] = f
        self.gy[idx] = gd
        self.stmin[idx] = 0.0
        self.stmax[idx] = stp + 4.0 * stp

    def step(self, E, fn, gdn, st):
        """Trial step st gave (fn, gdn): returns (done, next step) for problems E."""
        self.nfev[E] += 1
        ftest = self.finit[E] + st * self.gtest[E]
        gt = self.gtest[E]
        stage = self.stage[E]
        stage[(stage == 1) & (fn <= ftest) & (gdn >= 0.0)] = 2
        self.stage[E] = stage
        br, smn, smx, spmax = self.brackt[E], self.stmin[E], self.stmax[E], self.stpmax[E]
        done = (
            (br & ((st <= smn) | (st >= smx)))
            | (br & (smx - smn <= self.xtol * smx))
            | ((st == spmax) & (fn <= ftest) & (gdn <= gt))
            | ((st == 0.0) & ((fn > ftest) | (gdn >= gt)))
            | ((fn <= ftest) & (np.abs(gdn) <= self.gtol * (-self.ginit[E])))
        )
        new = st.copy()
        C = ~done
        I = E[C]
        if I.size:
            (self.stx[I], self.fx[I], self.gx[I], self.sty[I], self.fy[I], self.gy[I],
             self.brackt[I], self.width[I], self.width1[I], self.stmin[I], self.stmax[I],
             new[C]) = _dcsrch_next_step(
                self.stage[I] == 1, ftest[C], gt[C], fn[C], gdn[C], st[C],
                self.stx[I], self.fx[I], self.gx[I], self.sty[I], self.fy[I], self.gy[I],
                self.brackt[I], self.width[I], self.width1[I], self.stmin[I], self.stmax[I],
                self.stpmax[I], self.xtol,
            )
        return done, new


def _shrink_nll_prior(B, X, Y, size, offset, S, prior_scale, shrink):
    """PyDESeq2's ``nbinomFn`` (NB negative log-likelihood plus apeGLM-like prior) and
    its gradient, for genes in rows of B (same formulas, vectorised)."""
    xbeta = B @ X.T
    sz = size[:, None]
    no_shrink = ~shrink
    s = np.flatnonzero(shrink)[0]
    prior = (np.where(no_shrink, B, 0.0) ** 2 / (2 * S**2)).sum(axis=1) + np.log1p(
        (B[:, s] / prior_scale) ** 2
    )
    nll = (Y * xbeta - (Y + sz) * np.logaddexp(xbeta + offset, np.log(sz))).sum(axis=1)
    d_neg_prior = np.where(no_shrink, B, 0.0) / S**2 + np.where(
        shrink, 2 * B / (prior_scale**2 + B[:, s, None] ** 2), 0.0
    )
    d_nll = (Y - (Y + sz) / (1 + sz * np.exp(-xbeta - offset))) @ X
    return prior - nll, d_neg_prior - d_nll


@_jit(cache=True, parallel=True)
def _shrink_fg(B, X, Y, size, offset, rows, S, prior_scale, s):
    """``_shrink_nll_prior`` for genes ``rows`` (B's rows in the same order), one gene
    per iteration of a parallel loop: one exp and one log1p per sample instead of
    numpy's dozen passes over (genes, samples) temporaries."""
    n, p = X.shape
    k = rows.shape[0]
    f = np.empty(k)
    grad = np.empty((k, p))
    for i in prange(k):
        gi = rows[i]
        sz = size[gi]
        lsz = math.log(sz)
        nll = 0.0
        dn = np.zeros(p)
        for j in range(n):
            xb = 0.0
            for a in range(p):
                xb += B[i, a] * X[j, a]
            y = Y[gi, j]
            d = xb + offset[j] - lsz
            e = math.exp(-abs(d))
            if d >= 0.0:
                lae = xb + offset[j] + math.log1p(e)  # log(e^eta + size)
                q = 1.0 / (1.0 + e)  # e^eta / (size + e^eta)
            else:
                lae = lsz + math.log1p(e)
                q = e / (1.0 + e)
            nll += y * xb - (y + sz) * lae
            resid = y - (y + sz) * q
            for a in range(p):
                dn[a] += resid * X[j, a]
        bs = B[i, s]
        prior = math.log1p((bs / prior_scale) ** 2)
        for a in range(p):
            if a == s:
                grad[i, a] = 2.0 * bs / (prior_scale * prior_scale + bs * bs) - dn[a]
            else:
                prior += B[i, a] * B[i, a] / (2.0 * S * S)
                grad[i, a] = B[i, a] / (S * S) - dn[a]
        f[i] = prior - nll
    return f, grad


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
        sign, logdet = np.linalg.slogdet(_gram(W, _outer_rows(X), X.shape[1]))
        ll -= 0.5 * np.where(sign > 0, logdet, np.nan)
    return ll


# --------------------------------------------------------------------------------------
# batched linear algebra helpers
# --------------------------------------------------------------------------------------
def _outer_rows(X: np.ndarray) -> np.ndarray:
    """(n, p*p) matrix of row outer products, so that W @ XX = X^T diag(w) X flattened."""
    n, p = X.shape
    return np.einsum("ni,nj->nij", X, X).reshape(n, p * p)


def _gram(W: np.ndarray, XX: np.ndarray, p: int) -> np.ndarray:
    """Stack of X^T diag(W[g]) X for W of shape (G, n)."""
    return (W @ XX).reshape(W.shape[0], p, p)


def _safe_inv(M: np.ndarray) -> np.ndarray:
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


def _solve_stack(M: np.ndarray, b: np.ndarray, assume_a) -> np.ndarray:
    """``scipy.linalg.solve`` on a (G, p, p) stack, with b of shape (G, p, k).

    scipy batches the per-matrix LAPACK call, so each result is bit-identical to
    solving that system alone. Non-finite or singular systems give NaN (only those).
    """
    import warnings

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


def _safe_solve(M: np.ndarray, b: np.ndarray) -> np.ndarray:
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


def _norm_sf(x: np.ndarray) -> np.ndarray:
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


def _one_blas_thread(method):
    """Run ``method`` with BLAS limited to one thread.

    The batched work here is many tiny matrices (and scipy's 1-D L-BFGS-B); with
    OpenBLAS threads each tiny call pays thread wake-up costs and competes with the
    numba worker threads: measured 200x slower for the L-BFGS-B replay.
    """
    import functools

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        controller = _blas_controller()
        if controller is None:  # pragma: no cover - threadpoolctl ships with scikit-learn
            return method(*args, **kwargs)
        with controller.limit(limits=1, user_api="blas"):
            return method(*args, **kwargs)

    return wrapper


# --------------------------------------------------------------------------------------
# the inference class
# --------------------------------------------------------------------------------------
class FastInference(Inference):
    """Gene-vectorised DESeq2 inference (drop-in for ``DefaultInference``).

    Parameters
    ----------
    n_cpus : int, optional
        Number of threads for the numba kernels (``None``: numba's default). The
        numpy/BLAS parts follow the usual BLAS thread settings.
    """

    #: alpha_mle runs the numba kernel (parallel, compiled once per machine but
    #: ~0.4 s to load per process) from this many genes x samples; below, the numpy
    #: lockstep version of the same L-BFGS-B.
    numba_min_cells: int = 300_000

    def __init__(self, n_cpus: int | None = None, **_ignored):
        self._n_cpus = n_cpus

    @property
    def n_cpus(self) -> int | None:  # noqa: D102
        return self._n_cpus

    @n_cpus.setter
    def n_cpus(self, n_cpus: int | None) -> None:
        self._n_cpus = n_cpus

    def _threads(self):
        """Context manager-free helper: set numba's thread count if asked to."""
        if self._n_cpus:
            import numba

            numba.set_num_threads(max(1, min(int(self._n_cpus), numba.config.NUMBA_NUM_THREADS)))

    # ------------------------------------------------------------------ moments / init
    @_one_blas_thread
    def fit_rough_dispersions(  # noqa: D102
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

    def fit_moments_dispersions(  # noqa: D102
        self, normed_counts: np.ndarray, size_factors: np.ndarray
    ) -> np.ndarray:
        Y = np.asarray(normed_counts, dtype=float)
        Y = Y[:, ~(Y == 0).all(axis=0)]
        s_mean_inv = np.mean(1.0 / np.asarray(size_factors, dtype=float))
        mu = Y.mean(0)
        sigma = Y.var(0, ddof=1)
        return np.nan_to_num((sigma - s_mean_inv * mu) / mu**2)

    @_one_blas_thread
    def lin_reg_mu(  # noqa: D102
        self,
        counts: np.ndarray,
        size_factors: np.ndarray,
        design_matrix: np.ndarray,
        min_mu: float,
    ) -> np.ndarray:
        X = np.asarray(design_matrix, dtype=float)
        sf = np.asarray(size_factors, dtype=float)
        Y = np.asarray(counts, dtype=float) / sf[:, None]
        coef = np.linalg.lstsq(X, Y, rcond=None)[0]
        mu_hat = sf[:, None] * (X @ coef)
        return np.maximum(mu_hat, min_mu)

    # ------------------------------------------------------------------ IRLS
    @_one_blas_thread
    def irls(  # noqa: D102
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
        # pydeseq2.utils.irls_solver's iteration for every gene: the numba kernel
        # _irls_genes (sums in another order than irls_solver's BLAS calls: betas
        # differ in the last bits) or, for small problems, _irls_lockstep (bit-identical).
        X = np.asarray(design_matrix, dtype=float)
        sf = np.asarray(size_factors, dtype=float)
        Yt = np.ascontiguousarray(np.asarray(counts, dtype=float).T)  # (G, n)
        disp = np.asarray(disp, dtype=float).reshape(-1)
        G, n = Yt.shape
        p = X.shape[1]
        XT = X.T
        XX = _outer_rows(X)
        ridge = np.diag(np.repeat(1e-6, p))
        use_numba = G * n >= self.numba_min_cells
        # Initial betas: QR least squares on log(y/s + 0.1), as irls_solver.
        if np.linalg.matrix_rank(X) == p:
            Q, R = np.linalg.qr(X)
            logy = np.log(Yt / sf + 0.1)
            if use_numba:  # one product and one triangular solve for all genes
                from scipy.linalg import solve_triangular

                beta = solve_triangular(R, Q.T @ logy.T, check_finite=False).T
            else:  # per gene, as irls_solver (bit-identical)
                qty = np.matmul(Q.T, logy[:, :, None])
                beta = _solve_stack(np.broadcast_to(R, (G, p, p)), qty, None)[..., 0]
        else:
            beta = np.zeros((G, p))
            with np.errstate(divide="ignore"):
                beta[:, 0] = np.log(Yt / sf).mean(axis=1)

        bad = ~np.isfinite(disp) | ~np.isfinite(beta).all(axis=1) | (disp <= 0)
        converged = np.ones(G, dtype=bool)
        fallback = np.zeros(G, dtype=bool)

        rows = np.flatnonzero(~bad)
        if use_numba:
            _numba_kernels()
            self._threads()
            beta_rows, status = _irls_genes(
                Yt, sf, np.log(sf), X, disp, np.ascontiguousarray(beta), min_mu, beta_tol, max_beta,
                maxiter, rows,
            )
        else:  # small problems: numpy lockstep, no numba start-up (~0.4 s per process)
            beta_rows, status = _irls_lockstep(
                Yt[rows], sf, X, disp[rows], beta[rows], min_mu, beta_tol, max_beta, maxiter
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
                    size_factors=sf,
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
            mu_thr[fallback] = np.maximum(sf * np.exp(beta[fallback] @ XT), min_mu)

        # Hat diagonals: W^1/2 X (X^T W X + ridge)^-1 X^T W^1/2.
        W = mu_thr / (1.0 + mu_thr * disp[:, None])
        Hinv = _safe_inv(_gram(W, XX, p) + ridge)
        # x_i^T Hinv x_i for every gene g and sample i, as one product
        hat = W * (Hinv.reshape(G, p * p) @ XX.T)

        beta[bad] = np.nan
        converged[bad] = False
        mu = sf * np.exp(beta @ XT)  # unthresholded, as PyDESeq2
        return beta, mu.T, hat.T, converged

    # ------------------------------------------------------------------ dispersions
    @_one_blas_thread
    def alpha_mle(  # noqa: D102
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
        if not bounded:  # BFGS: no bounds
            lo, hi = -np.inf, np.inf
        from scipy.special import gammaln

        lgy1 = gammaln(Yt + 1.0).sum(axis=1)
        rows = np.flatnonzero(usable)
        t = np.where(usable, t_hat, 0.0)
        pvar = float(prior_disp_var) if prior_reg else 1.0
        ones = np.ones(G)
        zeros = np.zeros(G, dtype=np.int64)
        if rows.size * n >= self.numba_min_cells:
            _numba_kernels()
            self._threads()
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
                stays = g_py >= -_PGTOL
                t[at_lo[stays]] = t0[at_lo[stays]]
                converged[at_lo[stays]] = True
                failed = np.setdiff1d(failed, at_lo[stays])
                edge = at_lo[~stays]
            replay = np.union1d(edge, failed)
            if replay.size:
                t_r, ok_r = _lbfgsb_lockstep(
                    Yt[replay], MUt[replay], X, t0[replay], lo, hi, cr_reg, prior_reg,
                    t_hat[replay] if prior_reg else None, pvar,
                )
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

    # ------------------------------------------------------------------ Wald test
    @_one_blas_thread
    def wald_test(  # noqa: D102
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
        M = _gram(W, _outer_rows(X), p)
        H = _safe_inv(M + np.asarray(ridge_factor, dtype=float))
        Hc = H @ c
        se_ok = np.sqrt(np.einsum("gi,gij,gj->g", Hc, M, Hc))
        b = lfc[ok]

        def greater(null):
            st = np.fmax((b - null) / se_ok[:, None], 0) @ c
            return st, _norm_sf(st)

        def less(null):
            st = np.fmin((b - null) / se_ok[:, None], 0) @ c
            return st, _norm_sf(np.abs(st))

        if alt_hypothesis is None:
            st = ((b - lfc_null) @ c) / se_ok
            pv = 2.0 * _norm_sf(np.abs(st))
        elif alt_hypothesis == "greater":
            st, pv = greater(lfc_null)
        elif alt_hypothesis == "less":
            st, pv = less(lfc_null)
        elif alt_hypothesis == "greaterAbs":
            st = (np.sign(b) * np.fmax((np.abs(b) - lfc_null) / se_ok[:, None], 0)) @ c
            pv = 2.0 * _norm_sf(np.abs(st))
        elif alt_hypothesis == "lessAbs":
            st_a, pv_a = greater(-abs(lfc_null))
            st_b, pv_b = less(abs(lfc_null))
            st = np.where(np.abs(st_b) < np.abs(st_a), st_b, st_a)
            pv = np.maximum(pv_a, pv_b)
        else:
            raise ValueError(f"unknown alt_hypothesis {alt_hypothesis!r}")
        pvals[ok], stats[ok], se[ok] = pv, st, se_ok
        return pvals, stats, se

    # ------------------------------------------------------------------ trend
    def dispersion_trend_gamma_glm(  # noqa: D102
        self, covariates: pd.Series, targets: pd.Series
    ) -> tuple[np.ndarray, np.ndarray, bool]:
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

    # ------------------------------------------------------------------ apeGLM-like shrinkage
    @_one_blas_thread
    def lfc_shrink_nbinom_glm(  # noqa: D102
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
        X = np.asarray(design_matrix, dtype=float)
        Yt = np.asarray(counts, dtype=float).T  # (G, n)
        size = np.asarray(size, dtype=float).reshape(-1)
        off = np.asarray(offset, dtype=float)
        G, n = Yt.shape
        p = X.shape[1]
        XX = _outer_rows(X)
        s = shrink_index
        shrink = np.zeros(p, dtype=bool)
        shrink[s] = True
        S2 = float(prior_no_shrink_scale) ** 2
        sig2 = float(prior_scale) ** 2

        from scipy.special import expit

        def hessian(rows, B):
            """Exact Hessian of the (unscaled) objective, for the shrunken SEs."""
            eta = B @ X.T + off
            sz = size[rows, None]
            q = expit(eta - np.log(sz))  # e^eta / (size + e^eta)
            w = (Yt[rows] + sz) * q * (1.0 - q)
            Hs = _gram(w, XX, p)
            Hs += np.diag(np.where(shrink, 0.0, 1.0 / S2))
            bs = B[:, s]
            Hs[:, s, s] += 2 * (sig2 - bs**2) / (sig2 + bs**2) ** 2
            return Hs

        # PyDESeq2's nbinomGLM: L-BFGS-B (ftol = gtol = 1e-8) from (0.1, -0.1, ...) on
        # the objective divided by max(its value at beta = 0, 1). That scale grows
        # with the counts (the likelihood at beta = 0 is far off for large counts),
        # so for highly expressed genes it stops measurably short of the exact
        # optimum, and so does R's apeglm, whose L-BFGS stops by the same scaled
        # rule. Running the same optimiser on the same scaled objective gives their
        # answers; an exact optimiser does not (0.01 log2 off for a gene with
        # 400,000 reads per sample), nor does another path where the posterior has
        # two modes (narrow prior).
        ok = np.isfinite(size) & (size > 0) & np.isfinite(Yt).all(axis=1)
        rows = np.flatnonzero(ok)
        S, ps = float(prior_no_shrink_scale), float(prior_scale)
        if rows.size * n >= self.numba_min_cells:
            _numba_kernels()
            self._threads()
            Yc = np.ascontiguousarray(Yt)

            def nll_prior(r, B):
                return _shrink_fg(np.ascontiguousarray(B), X, Yc, size, off, r, S, ps, s)

        else:  # small problems: numpy, no numba start-up (~0.4 s per process)

            def nll_prior(r, B):
                return _shrink_nll_prior(B, X, Yt[r], size[r], off, S, ps, shrink)

        scale = np.maximum(nll_prior(rows, np.zeros((rows.size, p)))[0], 1.0)

        def fg(idx, B):
            f, g = nll_prior(rows[idx], B)
            return f / scale[idx], g / scale[idx, None]

        x0 = np.tile(np.ones(p) * 0.1 * (-1.0) ** np.arange(p), (rows.size, 1))
        B = np.full((G, p), np.nan)
        converged = np.zeros(G, dtype=bool)
        B[rows], converged[rows] = _lbfgs_lockstep(fg, x0, ftol=1e-8, gtol=1e-8)
        failed = rows[~converged[rows]]
        if failed.size and p == 2:
            # As nbinomGLM: single-factor designs fall back to a grid search.
            from pydeseq2.grid_search import grid_fit_shrink_beta

            for gidx, c in zip(failed, scale[~converged[rows]]):
                B[gidx] = grid_fit_shrink_beta(
                    Yt[gidx], off, X, size[gidx], prior_no_shrink_scale, prior_scale, c,
                    grid_length=60, min_beta=-30, max_beta=30,
                )

        inv_h = np.full((G, p, p), np.nan)
        inv_h[rows] = _safe_inv(hessian(rows, B[rows]))
        return B, inv_h, converged


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
