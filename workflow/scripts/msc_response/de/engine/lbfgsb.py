"""scipy's L-BFGS-B (3.0) for many problems at once: a numpy transcription, and scipy's own.

PyDESeq2 fits dispersions (``fit_alpha_mle``, 1-D on log(alpha) with bounds) and
shrunken LFCs (``nbinomGLM``, p-D without bounds) with
``scipy.optimize.minimize(method="L-BFGS-B")``, and its answers depend on that
optimiser's stopping rules and path, not only on the optimum.

``lbfgsb_lockstep`` transcribes L-BFGS-B's ``mainlb``/``lnsrlb`` loop for K problems
in numpy lockstep (each objective call takes all problems that need a value), with
MINPACK-2's line search (``linesearch.MoreThuenteLockstep``), so it stops where
scipy stops, up to rounding. Its two uses differ only in the quasi-Newton model:

* one variable (dispersions; bounds allowed): L-BFGS-B's Cauchy point and subspace
  step coincide, and its matrix is y/s of the newest pair (``_LastSecant``), as in
  the numba kernel ``dispersion._lbfgsb_1d``;
* p > 1 variables (LFC shrinkage; no bounds): the Cauchy point plus subspace step is
  the L-BFGS step ``-H g``, by the two-loop recursion over the last m pairs
  (``_TwoLoop``).

``scipy_lbfgsb_lockstep`` runs scipy's own Fortran L-BFGS-B (its reverse-communication
``setulb``) on 1-D bounded problems, one state per problem and one objective call
for all problems that ask: the dispersion fit replays genes at the lower bound with
it, where PyDESeq2's objective is rounding noise.

Held by ``test_lfc_shrinkage_stops_where_pydeseq2_stops`` (LFCs and convergence
flags of nbinomGLM to 1e-7), ``test_numba_and_numpy_dispersion_kernels_agree`` (the
1-D numpy and numba paths), ``test_lbfgsb_lockstep_is_scipys_lbfgsb`` (both drivers
against ``scipy.optimize.minimize``) and ``test_close_for_expressed_genes`` /
``test_lfc_shrinkage_matches_default`` (DefaultInference), in
tests/unit/test_fast_inference.py.
"""

from __future__ import annotations

import numpy as np

from .linesearch import MoreThuenteLockstep

FTOL = 2.220446049250313e-09  # scipy's minimize default (factr 1e7)
PGTOL = 1e-5  # scipy's minimize default (DefaultInference's for dispersions)


# --------------------------------------------------------------------------------------
# quasi-Newton models: the only difference between the 1-D and the p-D runs
# --------------------------------------------------------------------------------------
class _LastSecant:
    """L-BFGS-B's matrix in one dimension: B = y/s of the newest pair (theta = y'y/s'y;
    the compact representation then adds nothing), B = 1 without pairs."""

    def __init__(self, K: int):
        self.B = np.ones(K)
        self.have = np.zeros(K, dtype=bool)

    def has_pairs(self, idx):
        return self.have[idx]

    def forget(self, idx):
        self.have[idx] = False
        self.B[idx] = 1.0

    def step(self, idx, g):
        """The quasi-Newton step H g, i.e. g / B."""
        return g / self.B[idx, None]

    def update(self, idx, s, y, sy, dx):
        # y / (x - x_old), as the numba kernel dispersion._lbfgsb_1d computes it; in
        # exact arithmetic x - x_old is L-BFGS-B's s (= stp * d), in rounding it can
        # differ: this keeps the numpy and numba paths (and earlier results) identical.
        self.B[idx] = y[:, 0] / dx[:, 0]
        self.have[idx] = True


class _TwoLoop:
    """L-BFGS matrix of the last m pairs, applied by the two-loop recursion with
    H0 = I / theta, theta = y'y / s'y of the newest pair (1 without pairs)."""

    def __init__(self, K: int, p: int, m: int):
        # oldest pair first, problems last (contiguous for the two-loop recursion);
        # unused slots are zero, so they drop out.
        self.m = m
        self.S = np.zeros((m, p, K))
        self.Y = np.zeros((m, p, K))
        self.rho = np.zeros((m, K))
        self.ncol = np.zeros(K, dtype=np.int64)
        self.theta = np.ones(K)

    def has_pairs(self, idx):
        return self.ncol[idx] > 0

    def forget(self, idx):
        self.S[:, :, idx] = 0.0
        self.Y[:, :, idx] = 0.0
        self.rho[:, idx] = 0.0
        self.ncol[idx] = 0
        self.theta[idx] = 1.0

    def step(self, idx, g):
        """The quasi-Newton step H g (g itself without pairs: theta = 1)."""
        used = int(self.ncol[idx].max())
        Sm, Ym, rh = self.S[:used, :, idx], self.Y[:used, :, idx], self.rho[:used, idx]
        q = g.T.copy()
        alpha = np.zeros((used, idx.size))
        for i in range(used - 1, -1, -1):
            alpha[i] = rh[i] * (Sm[i] * q).sum(axis=0)
            q -= alpha[i] * Ym[i]
        r = q / self.theta[idx]
        for i in range(used):
            beta = rh[i] * (Ym[i] * r).sum(axis=0)
            r += Sm[i] * (alpha[i] - beta)
        return np.where(self.ncol[idx, None] > 0, r.T, g)

    def update(self, idx, s, y, sy, dx):
        m = self.m
        full = idx[self.ncol[idx] == m]  # memory full: drop the oldest pair
        self.S[:, :, full] = np.roll(self.S[:, :, full], -1, axis=0)
        self.Y[:, :, full] = np.roll(self.Y[:, :, full], -1, axis=0)
        self.rho[:, full] = np.roll(self.rho[:, full], -1, axis=0)
        pos = np.minimum(self.ncol[idx], m - 1)
        self.S[pos, :, idx], self.Y[pos, :, idx], self.rho[pos, idx] = s, y, 1.0 / sy
        self.ncol[idx] = np.minimum(self.ncol[idx] + 1, m)
        self.theta[idx] = np.einsum("kp,kp->k", y, y) / sy


def _dot(a, b):
    """Row-wise dot products of (k, p) arrays (one product when p = 1)."""
    if a.shape[1] == 1:
        return a[:, 0] * b[:, 0]
    return np.einsum("kp,kp->k", a, b)


def lbfgsb_lockstep(
    fg, x0, lo=-np.inf, hi=np.inf, ftol=FTOL, gtol=PGTOL, m=10, maxls=20, maxiter=15000
):
    """``scipy.optimize.minimize(method="L-BFGS-B")`` for K problems in lockstep.

    ``fg(idx, x)`` returns the objective (len(idx),) and gradient (len(idx), p) of
    problems ``idx`` at points ``x`` (len(idx), p); a non-finite value or gradient
    ends that problem. ``x0``: (K, p) starting points. Bounds ``lo <= x <= hi`` (the
    same for all problems) only for p = 1. Options as ``minimize``'s: ``ftol``,
    ``gtol`` (pgtol), ``maxcor`` (m), ``maxls``, ``maxiter``.

    Each iteration as L-BFGS-B's ``mainlb``: the Cauchy point plus subspace step z
    (here ``clip(x - H g)``, see the quasi-Newton models above), then ``lnsrlb``:
    the largest step stpmx is 1e10 without bounds; with bounds, 1 at iteration 0 and
    else the largest step within them; the first trial step is min(1/|d|, stpmx) at
    iteration 0 unless every variable is bounded on both sides, else 1 (a step of 1
    lands on z exactly); Moré-Thuente line search, at most ``maxls`` evaluations. A
    direction that does not descend, or a failed line search, drops the memory and
    retries from the same point, or ends the problem abnormally if it held none.
    Stopping rules: projected gradient max <= gtol, or relative reduction
    (f_old - f) <= ftol * max(|f_old|, |f|, 1). Memory update when s'y > eps * (-g'd)
    (after the step).

    Returns (x, status): status 0 converged, 1 abnormal (line search or direction
    failed, or maxiter), 2 the objective was not finite (x is then the last point
    where it was).
    """
    eps = np.finfo(float).eps
    tol = (ftol / eps) * eps  # minimize passes factr = ftol / eps; setulb tests factr * eps
    x = np.array(x0, dtype=float)
    K, p = x.shape
    cnstnd = bool(np.isfinite(lo) or np.isfinite(hi))
    boxed = bool(np.isfinite(lo) and np.isfinite(hi))
    if cnstnd:
        if p > 1:
            raise ValueError("lbfgsb_lockstep: bounds are only supported for one variable")
        x = np.clip(x, lo, hi)
    model = _LastSecant(K) if p == 1 else _TwoLoop(K, p, m)

    def projgr(x, g):
        if not cnstnd:
            return np.abs(g).max(axis=1)
        pg = np.where(g < 0.0, np.abs(np.maximum(x - hi, g)), np.abs(np.minimum(x - lo, g)))
        return pg.max(axis=1)

    def max_step(x, d, it):
        """lnsrlb's stpmx for one variable (bounds) or none."""
        if not cnstnd:
            return np.full(len(it), 1e10)
        x, d = x[:, 0], d[:, 0]
        a_lo, a_hi = lo - x, hi - x
        neg, pos = d < 0.0, d > 0.0
        sm = np.full(d.size, 1e10)
        sm = np.where(neg & (a_lo >= 0.0), 0.0, np.where(neg & (d * 1e10 < a_lo), a_lo / d, sm))
        sm = np.where(pos & (a_hi <= 0.0), 0.0, np.where(pos & (d * 1e10 > a_hi), a_hi / d, sm))
        return np.where(it == 0, 1.0, sm)

    status = np.full(K, -1, dtype=np.int64)  # -1 running
    with np.errstate(all="ignore"):
        f, g = fg(np.arange(K), x)
        finite = np.isfinite(f) & np.isfinite(g).all(axis=1)
        status[~finite] = 2
        status[finite & (projgr(x, g) <= gtol)] = 0
        it = np.zeros(K, dtype=np.int64)
        # line-search state (lnsrlb / dcsrch)
        t_start, g_old, d, z = (np.zeros((K, p)) for _ in range(4))
        f_old, gdold, stp, stpmx = (np.zeros(K) for _ in range(4))
        ls = MoreThuenteLockstep(K)
        evaluating = np.zeros(K, dtype=bool)

        start = np.flatnonzero(status < 0)
        while True:
            while start.size:  # new iterations: direction, then line-search set-up
                S = start
                zS = x[S] - model.step(S, g[S])
                if cnstnd:
                    zS = np.clip(zS, lo, hi)
                dS = zS - x[S]
                gd = _dot(g[S], dS)
                not_desc = ~(gd < 0.0)
                has = model.has_pairs(S)
                status[S[not_desc & ~has]] = 1
                reset = S[not_desc & has]
                model.forget(reset)
                A = S[~not_desc]
                z[A], d[A] = zS[~not_desc], dS[~not_desc]
                stpmx[A] = max_step(x[A], d[A], it[A])
                if boxed:
                    stp[A] = 1.0
                else:
                    dnorm = np.sqrt(_dot(d[A], d[A]))
                    stp[A] = np.where(it[A] == 0, np.minimum(1.0 / dnorm, stpmx[A]), 1.0)
                t_start[A], f_old[A], g_old[A] = x[A], f[A], g[A]
                gdold[A] = gd[~not_desc]
                ls.start(A, f[A], gdold[A], stp[A], stpmx[A])
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
            status[bad] = 2
            evaluating[bad] = False
            E, fn = E[okn], fn[okn]
            gdn = _dot(g[E], d[E])
            done, new_stp = ls.step(E, fn, gdn, stp[E])
            # accepted steps: convergence tests, then the quasi-Newton update
            A = E[done]
            evaluating[A] = False
            it[A] += 1
            fa, fo = f[A], f_old[A]
            conv = (projgr(x[A], g[A]) <= gtol) | (
                fo - fa <= tol * np.maximum(np.maximum(np.abs(fo), np.abs(fa)), 1.0)
            )
            status[A[conv]] = 0
            status[A[~conv & (it[A] >= maxiter)]] = 1
            gda, sa = gdn[done], stp[A]
            one = sa == 1.0
            dr = np.where(one, gda - gdold[A], (gda - gdold[A]) * sa)  # s'y
            ddum = np.where(one, -gdold[A], -gdold[A] * sa)
            upd = (dr > eps * ddum) & (status[A] < 0)
            U = A[upd]
            if U.size:
                s_new = np.where(one[upd, None], d[U], sa[upd, None] * d[U])
                model.update(U, s_new, g[U] - g_old[U], dr[upd], x[U] - t_start[U])
            nxt = A[status[A] < 0]
            # line searches that ran out of evaluations: back to the start point
            rest = ~done
            Fl = E[rest & (ls.nfev[E] >= maxls)]
            evaluating[Fl] = False
            x[Fl], f[Fl], g[Fl] = t_start[Fl], f_old[Fl], g_old[Fl]
            has = model.has_pairs(Fl)
            status[Fl[~has]] = 1
            restart = Fl[has]
            model.forget(restart)
            more = rest & (ls.nfev[E] < maxls)
            stp[E[more]] = new_stp[more]
            start = np.concatenate([nxt, restart])
    return x, status


def scipy_lbfgsb_lockstep(fg, x0, lo, hi, ftol=FTOL, gtol=PGTOL, m=10, maxls=20, maxiter=15000):
    """scipy's own L-BFGS-B on K one-variable problems with bounds lo <= x <= hi.

    Each problem keeps its own L-BFGS-B state (scipy's reverse-communication
    ``setulb``, with ``minimize``'s defaults); ``fg(idx, x)`` returns the objective and
    derivative, both (len(idx),), of problems ``idx`` at ``x``, for all problems that
    ask for a value at once. The result is what ``minimize`` computes per problem, at
    a fraction of the cost. Returns (x, success).
    """
    from scipy.optimize import _lbfgsb

    K = x0.shape[0]
    factr = ftol / np.finfo(float).eps
    nbd = np.array([(2 if np.isfinite(hi) else 1) if np.isfinite(lo) else
                    (3 if np.isfinite(hi) else 0)], np.int32)
    low = np.array([lo], float)
    up = np.array([hi], float)
    xs = [np.array([min(max(x0[k], lo), hi)], float) for k in range(K)]
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
                m, xs[k], low, up, nbd, fs[k], gs[k], factr, gtol, was[k], iwas[k],
                tasks[k], lsaves[k], isaves[k], dsaves[k], maxls, ln_tasks[k],
            )
            task = tasks[k][0]
            if task == 3:
                need.append(k)
                still.append(k)
            elif task == 1:
                nit[k] += 1
                if nit[k] >= maxiter:
                    tasks[k][0] = 5
                    tasks[k][1] = 504
                still.append(k)
            else:
                success[k] = task == 4
        if need:
            f, g = fg(np.array(need), np.array([xs[k][0] for k in need]))
            for j, k in enumerate(need):
                fs[k] = np.array(f[j])
                gs[k] = np.array([g[j]], dtype=np.float64)
        active = still
    x = np.array([xs[k][0] for k in range(K)])
    return x, success
