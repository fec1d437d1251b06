"""MINPACK-2's Moré-Thuente line search (``dcsrch``/``dcstep``) as L-BFGS-B 3.0 calls it.

L-BFGS-B's stopping point depends on its line search (ftol 1e-3, gtol 0.9, xtol 0.1,
stpmin 0, at most 20 evaluations), so the engine transcribes it twice: ``dcstep``, a
scalar numba kernel for ``dispersion._lbfgsb_1d``, and ``MoreThuenteLockstep``
(with ``_dcstep_vec``, ``_dcsrch_next_step``), the same search for many problems at
once in numpy, for ``lbfgsb.lbfgsb_lockstep``. Both follow the Fortran statement for
statement (``dcsrch``'s stage 1 modified function included).

Held, through the optimisers, by ``test_lfc_shrinkage_stops_where_pydeseq2_stops``
and ``test_numba_and_numpy_dispersion_kernels_agree`` in
tests/unit/test_fast_inference.py.
"""

from __future__ import annotations

import math

import numpy as np

from .kernels import jit


@jit(cache=True, inline="always")
def dcstep(stx, fx, dx, sty, fy, dy, stp, fp, dp, brackt, stpmin, stpmax):
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


def _dcstep_vec(stx, fx, dx, sty, fy, dy, stp, fp, dp, brackt, stpmin, stpmax):
    """``dcstep`` on arrays (each element its own line search)."""
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


class MoreThuenteLockstep:
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
