"""What the power table says in words (the report's power section, rule report).

`detectable_effect`: the smallest |log2FC| detected with 80% power at the cohort's
own group sizes, interpolated linearly between the simulated effect sizes;
`size_needed`: the samples per group (balanced groups: the simulated sizes with
n_test = n_reference) needed to detect a given fold change (1.5-fold by default)
with 80% power, interpolated linearly in effect size and then in group size. The
figure places the cohort's own, unbalanced sizes at the balanced size with the same
precision for a difference of two means, the harmonic mean 2 / (1/n_test +
1/n_reference) (`equivalent_size`). Plain pandas/numpy: the report's env reads it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

TARGET = 0.8
FOLD = 1.5
ALL = "all"
MAX_CI_WIDTH = 0.5  # a stratum shown in figure and summary: intervals no wider


def shown_strata(table: pd.DataFrame) -> list[str]:
    """'all', then the strata (in table order) whose power intervals are nowhere
    wider than MAX_CI_WIDTH (the others have too few genes to say much)."""
    strata = list(dict.fromkeys(table["mean_stratum"].astype(str)))
    width = (table["power_ci_high"] - table["power_ci_low"]).groupby(
        table["mean_stratum"].astype(str)
    ).max()
    keep = [s for s in strata if s != ALL and width.get(s, np.inf) <= MAX_CI_WIDTH]
    return ([ALL] if ALL in strata else []) + keep


def equivalent_size(n_test, n_reference) -> np.ndarray:
    """The balanced group size as precise as n_test vs n_reference (harmonic mean)."""
    n_test, n_reference = np.asarray(n_test, float), np.asarray(n_reference, float)
    return 2.0 / (1.0 / n_test + 1.0 / n_reference)


def _crossing(x: np.ndarray, y: np.ndarray, target: float):
    """(kind, x) where y first reaches `target` along increasing x: ('at_most', x[0])
    if it already does at x[0], ('between', interpolated x), ('above', x[-1]) if
    never; NaN values are skipped."""
    ok = ~np.isnan(y)
    x, y = x[ok], y[ok]
    if not len(x):
        return "unknown", np.nan
    if y[0] >= target:
        return "at_most", float(x[0])
    for i in range(1, len(x)):
        if y[i] >= target:
            t = (target - y[i - 1]) / (y[i] - y[i - 1])
            return "between", float(x[i - 1] + t * (x[i] - x[i - 1]))
    return "above", float(x[-1])


def _stratum(table: pd.DataFrame, stratum: str) -> pd.DataFrame:
    return table[table["mean_stratum"].astype(str) == stratum]


def detectable_effect(table: pd.DataFrame, sizes: tuple[int, int], stratum: str = ALL,
                      target: float = TARGET):
    """(kind, |log2FC|) at `sizes`: see `_crossing`."""
    rows = _stratum(table, stratum)
    rows = rows[(rows["n_test"] == sizes[0]) & (rows["n_reference"] == sizes[1])]
    rows = rows.sort_values("effect_size")
    return _crossing(rows["effect_size"].to_numpy(float), rows["power"].to_numpy(float), target)


def power_at_effect(table: pd.DataFrame, effect: float, stratum: str = ALL) -> pd.DataFrame:
    """Per balanced group size (n_test = n_reference): power at |log2FC| `effect`,
    interpolated linearly between the simulated effect sizes (NaN outside their
    range)."""
    rows = _stratum(table, stratum)
    rows = rows[rows["n_test"] == rows["n_reference"]]
    out = []
    for (n_test, n_reference), group in rows.groupby(["n_test", "n_reference"], sort=False):
        group = group.sort_values("effect_size").dropna(subset=["power"])
        x, y = group["effect_size"].to_numpy(float), group["power"].to_numpy(float)
        value = float(np.interp(effect, x, y)) if len(x) and x[0] <= effect <= x[-1] else np.nan
        out.append(
            {"n": float(equivalent_size(n_test, n_reference)), "power": value,
             "n_test": int(n_test), "n_reference": int(n_reference)}
        )
    return pd.DataFrame(out, columns=["n", "power", "n_test", "n_reference"]).sort_values(
        "n", kind="mergesort"
    )


def size_needed(table: pd.DataFrame, fold: float = FOLD, stratum: str = ALL,
                target: float = TARGET):
    """(kind, samples per group) to detect a `fold`-fold change: see `_crossing`."""
    curve = power_at_effect(table, float(np.log2(fold)), stratum)
    return _crossing(curve["n"].to_numpy(float), curve["power"].to_numpy(float), target)


@dataclass
class PowerSummary:
    n_test: int
    n_reference: int
    effect: tuple[str, float]
    size: tuple[str, float]
    stratum: str
    fold: float = FOLD
    target: float = TARGET

    def sentence(self, test: str = "test", reference: str = "reference") -> str:
        """One sentence, e.g. 'With 30 responder against 11 non_responder samples, a
        change of |log2FC| 1.1 (2.1-fold) is detected with 80% power; a 1.5-fold
        change needs about 52 samples per group.'"""
        percent = f"{self.target:.0%}"
        kind, value = self.effect
        if kind == "at_most":
            effect = f"a change of |log2FC| {value:g} ({2 ** value:.2g}-fold) or less"
        elif kind == "between":
            effect = f"a change of |log2FC| {value:.2f} ({2 ** value:.2g}-fold)"
        elif kind == "above":
            effect = f"no change up to |log2FC| {value:g} ({2 ** value:.2g}-fold)"
        else:
            effect = "(the cohort's own size was not simulated) no effect size"
        kind, value = self.size
        if kind == "at_most":
            size = f"{int(value)} samples per group or fewer"
        elif kind == "between":
            size = f"about {int(np.ceil(value))} samples per group"
        elif kind == "above":
            size = f"more than {value:g} samples per group (the largest size simulated)"
        else:
            size = "a size the simulated effect sizes do not bracket"
        where = "" if self.stratum == ALL else f" (genes of {self.stratum} mean counts)"
        return (
            f"With {self.n_test} {test} against {self.n_reference} {reference} samples, "
            f"{effect} is detected with {percent} power{where}; a {self.fold:g}-fold "
            f"change needs {size}."
        )


def summarise_power(table: pd.DataFrame, current: tuple[int, int], stratum: str = ALL,
                    fold: float = FOLD, target: float = TARGET) -> PowerSummary | None:
    """The `PowerSummary` of a power table, `current` being the cohort's own
    (n_test, n_reference) (None for an empty table)."""
    if not len(table):
        return None
    sizes = tuple(int(n) for n in current)
    return PowerSummary(
        n_test=sizes[0],
        n_reference=sizes[1],
        effect=detectable_effect(table, sizes, stratum, target),
        size=size_needed(table, fold, stratum, target),
        stratum=stratum,
        fold=fold,
        target=target,
    )
