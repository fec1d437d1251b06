"""Wide float blocks as TSV text, value for value what Python's ``"%.8g" % v`` writes,
about 20x faster (numba; used by ``io.write_table`` for large tables).

A 60,000 x 200 table holds 12 million floats; Python formats each in ~0.5 us. The
kernel here finds each value's 8 significant digits with floating-point arithmetic
and writes the digits itself. That arithmetic is exact enough except when a value
lies within 1e-6 of a rounding tie in its 8th digit (or is extremely large or small);
such values, a few per million, are marked and formatted by Python, so every value
comes out exactly as ``%.8g`` (and missing values as the table's NA text).
"""

from __future__ import annotations

import math

import numpy as np

#: Fewer float cells than this: Python formats them (numba's start-up, ~0.4 s per
#: process, would cost more than it saves).
MIN_CELLS = 1_000_000

_MARK = 0  # byte written where Python must supply the text
_TAB, _NEWLINE, _DOT, _MINUS, _PLUS = 9, 10, 46, 45, 43
_ZERO = 48
_KERNEL: list = []


def available() -> bool:
    """Whether numba is installed (envs without it format in Python)."""
    return _kernel() is not None


def format_block(values: np.ndarray, na_rep: str) -> list[str]:
    """Rows of `values` (2-D float64) as text: each value preceded by a tab, each row
    ending in a newline (needs numba: see `available`)."""
    kernel = _kernel()
    values = np.ascontiguousarray(values, dtype=np.float64)
    rows, columns = values.shape
    out = np.empty(rows * (columns * 16 + 1), dtype=np.uint8)  # "%.8g": <= 15 bytes
    na = np.frombuffer(na_rep.encode("ascii"), dtype=np.uint8)
    size, marked = kernel(values, na, out)
    text = out[:size].tobytes().decode("ascii")
    if marked.size:
        flat = values.reshape(-1)
        pieces = text.split(chr(_MARK))
        exact = ["%.8g" % flat[i] for i in marked.tolist()]
        text = "".join(p for pair in zip(pieces, [*exact, ""]) for p in pair)
    return text.splitlines(keepends=True)


def _kernel():
    if not _KERNEL:
        try:
            import numba
        except ImportError:
            _KERNEL.append(None)
        else:
            # nogil: gzip compresses the previous rows in another thread meanwhile
            _KERNEL.append(numba.njit(cache=True, nogil=True)(_format_rows))
    return _KERNEL[0]


_POW10 = np.array([float(f"1e{k}") for k in range(309)])


def _format_rows(values, na, out):
    """Write the rows of `values` into `out`; return (bytes used, flat indices of the
    values marked for Python)."""
    rows, columns = values.shape
    marked = np.empty(rows * columns, dtype=np.int64)
    n_marked = 0
    digits = np.empty(8, dtype=np.int64)
    pos = 0
    for i in range(rows):
        for j in range(columns):
            out[pos] = _TAB
            pos += 1
            v = values[i, j]
            if v != v:
                for b in na:
                    out[pos] = b
                    pos += 1
                continue
            if v < 0.0 or (v == 0.0 and math.copysign(1.0, v) < 0.0):
                out[pos] = _MINUS
                pos += 1
            a = abs(v)
            if a == 0.0:
                out[pos] = _ZERO
                pos += 1
                continue
            if a == math.inf:
                out[pos] = 105  # i
                out[pos + 1] = 110  # n
                out[pos + 2] = 102  # f
                pos += 3
                continue
            # decimal exponent e and the 8-digit integer n = round(a / 10^(e - 7))
            e = int(math.floor(math.log10(a)))
            n = 0
            certain = -280 < e < 280
            for _ in range(3):
                if not certain:
                    break
                k = 7 - e
                scaled = a * _POW10[k] if k >= 0 else a / _POW10[-k]
                # one or two roundings: |error| < 3e-8 here; near a tie, Python decides
                if abs(scaled - math.floor(scaled) - 0.5) < 1e-6:
                    certain = False
                    break
                n = int(math.floor(scaled + 0.5))
                if n >= 100_000_000:
                    e += 1
                elif n < 10_000_000:
                    e -= 1
                else:
                    break
            if not certain or not 10_000_000 <= n < 100_000_000:
                if v < 0.0 or (v == 0.0 and math.copysign(1.0, v) < 0.0):
                    pos -= 1  # Python writes the sign too
                out[pos] = _MARK
                pos += 1
                marked[n_marked] = i * columns + j
                n_marked += 1
                continue
            for d in range(7, -1, -1):
                digits[d] = n % 10
                n //= 10
            used = 8  # significant digits left after dropping trailing zeros
            while used > 1 and digits[used - 1] == 0:
                used -= 1
            if -4 <= e < 8:  # fixed notation
                if e >= 0:
                    for d in range(e + 1):
                        out[pos] = _ZERO + digits[d]
                        pos += 1
                    if used > e + 1:
                        out[pos] = _DOT
                        pos += 1
                        for d in range(e + 1, used):
                            out[pos] = _ZERO + digits[d]
                            pos += 1
                else:
                    out[pos] = _ZERO
                    out[pos + 1] = _DOT
                    pos += 2
                    for _ in range(-e - 1):
                        out[pos] = _ZERO
                        pos += 1
                    for d in range(used):
                        out[pos] = _ZERO + digits[d]
                        pos += 1
            else:  # exponent notation, at least two exponent digits
                out[pos] = _ZERO + digits[0]
                pos += 1
                if used > 1:
                    out[pos] = _DOT
                    pos += 1
                    for d in range(1, used):
                        out[pos] = _ZERO + digits[d]
                        pos += 1
                out[pos] = 101  # e
                out[pos + 1] = _MINUS if e < 0 else _PLUS
                pos += 2
                x = abs(e)
                if x >= 100:
                    out[pos] = _ZERO + x // 100
                    pos += 1
                out[pos] = _ZERO + (x // 10) % 10
                out[pos + 1] = _ZERO + x % 10
                pos += 2
        out[pos] = _NEWLINE
        pos += 1
    return pos, marked[:n_marked]
