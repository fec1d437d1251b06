"""R DESeq2 ``results()``'s independent filtering (``pvalueAdjustment``).

``independent_filter_r``: 50 quantiles of baseMean, BH within each, rejections per
quantile smoothed with R's ``lowess`` (Cleveland's algorithm with R's defaults:
3 robustness iterations, delta = 1% of the range), first quantile whose rejections
exceed the fitted maximum minus the RMS residual, with R's 90%/80% fall-backs.
Plain numpy, so a per-contrast job needs neither PyDESeq2's dataset class nor
AnnData; see ``r_compat`` for the rest of what differs from R.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["bh_adjust", "r_lowess", "independent_filter_r"]


# --------------------------------------------------------------------------------------
# independent filtering (R: results() -> pvalueAdjustment)
# --------------------------------------------------------------------------------------
def bh_adjust(p: np.ndarray) -> np.ndarray:
    """R's ``p.adjust(p, "BH")``: NaN stay NaN, n = number of non-NaN values."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    n = int(ok.sum())
    if n == 0:
        return out
    q = p[ok]
    order = np.argsort(-q, kind="mergesort")
    ranks = np.arange(n, 0, -1)
    adj = np.minimum.accumulate(n / ranks * q[order])
    res = np.empty(n)
    res[order] = np.minimum(adj, 1.0)
    out[ok] = res
    return out


def r_lowess(x: np.ndarray, y: np.ndarray, f: float = 2 / 3, iters: int = 3,
             delta: float | None = None) -> np.ndarray:
    """R's ``lowess`` (Cleveland 1979, as R's C ``clowess``); returns fitted y for x
    sorted increasingly (the input must already be sorted by x)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = len(x)
    if n < 2:
        return y.copy()
    if delta is None:
        delta = 0.01 * (x[-1] - x[0])
    ns = max(2, min(n, int(f * n + 1e-7)))
    ys = np.zeros(n)
    rw = np.ones(n)
    res = np.zeros(n)

    def lowest(xs, nleft, nright, use_rw):
        rng_x = x[-1] - x[0]
        h = max(xs - x[nleft], x[nright] - xs)
        h9 = 0.999 * h
        h1 = 0.001 * h
        w = np.zeros(n)
        a = 0.0
        j = nleft
        while j < n:
            r = abs(x[j] - xs)
            if r <= h9:
                if r <= h1:
                    w[j] = 1.0
                else:
                    w[j] = (1.0 - (r / h) ** 3) ** 3
                if use_rw:
                    w[j] *= rw[j]
                a += w[j]
            elif x[j] > xs:
                break
            j += 1
        nrt = j - 1
        if a <= 0.0:
            return None
        w[nleft : nrt + 1] /= a
        if h > 0.0:
            a = float(np.sum(w[nleft : nrt + 1] * x[nleft : nrt + 1]))
            b = xs - a
            c = float(np.sum(w[nleft : nrt + 1] * (x[nleft : nrt + 1] - a) ** 2))
            if math.sqrt(c) > 0.001 * rng_x:
                b /= c
                w[nleft : nrt + 1] *= b * (x[nleft : nrt + 1] - a) + 1.0
        return float(np.sum(w[nleft : nrt + 1] * y[nleft : nrt + 1]))

    for iteration in range(1, iters + 2):
        nleft, nright = 0, ns - 1
        last = -1
        i = 0
        while True:
            if nright < n - 1:
                d1 = x[i] - x[nleft]
                d2 = x[nright + 1] - x[i]
                if d1 > d2:
                    nleft += 1
                    nright += 1
                    continue
            val = lowest(x[i], nleft, nright, iteration > 1)
            ys[i] = y[i] if val is None else val
            if last < i - 1:
                denom = x[i] - x[last]
                for j in range(last + 1, i):
                    alpha = (x[j] - x[last]) / denom
                    ys[j] = alpha * ys[i] + (1 - alpha) * ys[last]
            last = i
            cut = x[last] + delta
            i = last + 1
            while i < n:
                if x[i] > cut:
                    break
                if x[i] == x[last]:
                    ys[i] = ys[last]
                    last = i
                i += 1
            i = max(last + 1, i - 1)
            if last >= n - 1:
                break
        res = y - ys
        sc = np.sum(np.abs(res)) / n
        if iteration > iters:
            break
        ar = np.abs(res)
        m1 = n // 2
        srt = np.sort(ar)
        if n % 2 == 0:
            cmad = 3.0 * (srt[m1] + srt[n - m1 - 1])
        else:
            cmad = 6.0 * srt[m1]
        if cmad < 1e-7 * sc:
            break
        c9 = 0.999 * cmad
        c1 = 0.001 * cmad
        with np.errstate(divide="ignore", invalid="ignore"):
            rw = np.where(ar <= c1, 1.0, np.where(ar <= c9, (1.0 - (ar / cmad) ** 2) ** 2, 0.0))
    return ys


def independent_filter_r(
    base_mean: np.ndarray, pvalues: np.ndarray, alpha: float
) -> tuple[np.ndarray, float]:
    """Adjusted p-values with R ``results()``'s independent filtering.

    ``pvalues`` are the Wald p-values after Cook's filtering (NaN for outliers and
    untested genes). Returns (padj with NaN for filtered genes, baseMean threshold).
    """
    flt = np.asarray(base_mean, dtype=float)
    pv = np.asarray(pvalues, dtype=float)
    lower = float(np.mean(flt == 0))
    upper = 0.95 if lower < 0.95 else 1.0
    theta = np.linspace(lower, upper, 50)
    cutoffs = np.quantile(flt, theta)
    padj_all = np.full((len(flt), len(theta)), np.nan)
    for i, cut in enumerate(cutoffs):
        use = flt >= cut
        if use.any():
            padj_all[use, i] = bh_adjust(pv[use])
    with np.errstate(invalid="ignore"):
        num_rej = np.sum(padj_all < alpha, axis=0)
    fit = r_lowess(theta, num_rej.astype(float), f=1 / 5)
    if num_rej.max() <= 10:
        j = 0
    else:
        if np.all(num_rej == 0):
            residual = np.array([0.0])
        else:
            residual = num_rej[num_rej > 0] - fit[num_rej > 0]
        max_fit = fit.max()
        thresh = max_fit - math.sqrt(np.mean(residual**2))
        if np.any(num_rej > thresh):
            j = int(np.flatnonzero(num_rej > thresh)[0])
        elif np.any(num_rej > 0.9 * max_fit):
            j = int(np.flatnonzero(num_rej > 0.9 * max_fit)[0])
        elif np.any(num_rej > 0.8 * max_fit):
            j = int(np.flatnonzero(num_rej > 0.8 * max_fit)[0])
        else:
            j = 0
    return padj_all[:, j], float(cutoffs[j])
