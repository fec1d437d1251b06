"""Lazy numba compilation for the engine's kernels, and the small numba helpers they share.

Importing numba costs ~0.15 s and loading its target ~0.25 s per process, and only
large problems (``FastInference.numba_min_cells``) need the kernels. So a kernel is
a plain Python function marked with ``@jit(...)`` at import time;
``compile_kernels()`` (called by ``FastInference`` before the first large problem)
imports numba and rebinds every engine module's name for a marked function, and
``prange``, to numba's. Kernels call other kernels (the ``inline="always"`` helpers
below, ``linesearch.dcstep``) through their own module's globals, which numba reads
when it compiles a kernel on its first call: so all names are rebound, in defining
and importing modules alike, before any kernel runs.

``cache=True`` compiles a kernel once per machine. numba checks a cached kernel
only against its own source file, but the engine's kernels inline helpers from
other engine modules: the cache stamp of each kernel is therefore the hash of all
engine sources, so editing a helper recompiles its callers.

Held by the ``kernels="numba"`` cases in tests/unit/test_fast_inference.py
(``test_irls_edge_genes_do_not_break_the_batch``,
``test_lfc_shrinkage_stops_where_pydeseq2_stops``, ``test_numba_and_numpy_*``).
"""

from __future__ import annotations

import hashlib
import math
import sys
from pathlib import Path

import numpy as np

_MARKED: list = []  # (function, numba.njit options), until compile_kernels()
prange = range  # numba.prange, in every engine module, once the kernels are compiled
_PACKAGE = __name__.rpartition(".")[0]


def jit(**options):
    """Mark a module-level function for ``numba.njit(**options)`` on first use."""

    def mark(func):
        _MARKED.append((func, options))
        return func

    return mark


def compile_kernels() -> None:
    """Replace the marked functions by their numba dispatchers in every engine module
    (once; later calls return at once)."""
    if not _MARKED:
        return
    import numba

    stamp = _sources_stamp()
    dispatchers = {}
    while _MARKED:
        func, options = _MARKED.pop(0)
        dispatcher = numba.njit(**options)(func)
        if options.get("cache"):
            _stamp_cache(dispatcher, stamp)
        dispatchers[id(func)] = (func, dispatcher)
    for name, module in list(sys.modules.items()):
        if module is None or not (name == _PACKAGE or name.startswith(_PACKAGE + ".")):
            continue
        namespace = vars(module)
        for key, value in list(namespace.items()):
            if key == "prange" and value is range:
                namespace[key] = numba.prange
                continue
            marked = dispatchers.get(id(value))
            if marked is not None and marked[0] is value:
                namespace[key] = marked[1]


def _sources_stamp() -> str:
    """Hash of the engine's sources (every kernel's cache depends on all of them)."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _stamp_cache(dispatcher, stamp: str) -> None:
    """Make a dispatcher's cache index valid only for these engine sources.

    numba's index stores a stamp of the kernel's own source file and discards the
    cache when it differs; adding ``stamp`` extends that check to the other engine
    modules. This reaches into numba's cache object (checked with numba 0.68); if
    its layout changes, caching falls back to numba's own per-file check.
    """
    cache_file = getattr(getattr(dispatcher, "_cache", None), "_cache_file", None)
    if cache_file is not None and hasattr(cache_file, "_source_stamp"):
        cache_file._source_stamp = (cache_file._source_stamp, stamp)


@jit(cache=True, inline="always")
def digamma(x):
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


@jit(cache=True, inline="always")
def cholesky(M, L):
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


@jit(cache=True, inline="always")
def cholesky_solve(L, b):
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
