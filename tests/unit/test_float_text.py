"""float_text writes floats exactly as Python's "%.8g" does."""

import numpy as np
import pytest

from msc_response.common import float_text

EDGES = [
    0.0, -0.0, np.inf, -np.inf, 1e-5, 1e-4, 0.0001, 9.99999995e-5, 12345678.0,
    123456785.0, 123456775.0, 99999999.5, 99999995.0, 9.9999999e7, 1e8, 1e7, 0.5, 0.125,
    2.5e-5, 0.99999999, 0.999999995, 9.9999995, 1e300, 1e-300, 5e-324, 2.2250738585072014e-308,
    1.7976931348623157e308, 1e100, 1e-100, 1.23456785e-7, 2**53, 2**53 + 2.0, 4.5, 3.0e22,
]


@pytest.fixture(scope="module")
def values():
    rng = np.random.default_rng(7)
    n = 400_000
    parts = [
        rng.lognormal(0, 10, n) * rng.choice([-1, 1], n),  # 1e-20 .. 1e20, both signs
        rng.integers(0, 10**13, n // 4).astype(float),  # whole numbers: exact ties
        np.round(rng.normal(0, 1e4, n // 4), 3),  # few decimals: near ties
        np.log2(rng.negative_binomial(5, 0.01, n // 4) + 1.0),  # VST-like values
        np.array(EDGES),
    ]
    flat = np.concatenate(parts)
    flat = np.concatenate([flat, np.full((-flat.size) % 50, np.nan)])
    return flat.reshape(-1, 50)


def test_every_value_as_python_formats_it(values):
    rows = float_text.format_block(values, "NA")
    expected = [
        "".join("\t" + ("NA" if v != v else "%.8g" % v) for v in row) + "\n"
        for row in values.tolist()
    ]
    wrong = [(got, want) for got, want in zip(rows, expected) if got != want]
    assert not wrong, wrong[:2]
    assert len(rows) == len(values)


def test_near_ties_are_left_to_python():
    # 8th-digit ties whose decision needs the exact binary value
    ties = np.array([[123456785.0, 0.123456785, 1.00000005, 2.5e-8, 1234567.85]])
    assert float_text.format_block(ties, "NA") == [
        "\t" + "\t".join("%.8g" % v for v in ties[0]) + "\n"
    ]
