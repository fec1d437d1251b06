"""The `power` config section, and which contrasts the power stage serves.

The Snakefile (workflow/rules/common.smk) calls `power_contrasts` when it parses, to
know which contrasts get a rule `power` job; the job builds `PowerSettings`.
"""

from __future__ import annotations

from dataclasses import dataclass

CURRENT = "current"  # group size: the cohort's own sizes
# The table results/power/{contrast}.tsv (written by power.analysis, read by the report)
COLUMNS = [
    "effect_size",
    "n_test",
    "n_reference",
    "mean_stratum",
    "power",
    "power_ci_low",
    "power_ci_high",
    "fdp",
    "replicates",
]


@dataclass(frozen=True)
class PowerSettings:
    """effect_sizes: |log2FC| planted; group_sizes: samples per group ('current': the
    cohort's own sizes); fraction: share of genes given an effect in each simulated
    cohort (split equally among the effect sizes); replicates: simulated cohorts per
    group size; seed: of all random draws."""

    effect_sizes: tuple[float, ...] = (0.5, 0.75, 1.0, 1.5, 2.0)
    group_sizes: tuple = (CURRENT, 10, 20, 40)
    fraction: float = 0.05
    replicates: int = 3
    seed: int = 1

    @classmethod
    def from_config(cls, section: dict) -> "PowerSettings":
        section = section or {}
        return cls(
            effect_sizes=tuple(float(e) for e in section.get("effect_sizes", cls.effect_sizes)),
            group_sizes=tuple(
                CURRENT if g == CURRENT else int(g)
                for g in section.get("group_sizes", cls.group_sizes)
            ),
            fraction=float(section.get("fraction", cls.fraction)),
            replicates=int(section.get("replicates", cls.replicates)),
            seed=int(section.get("seed", cls.seed)),
        )


def is_two_level(spec: dict) -> bool:
    """Whether a contrast of the config compares two levels of one categorical
    variable (a test and a reference level) across all samples, the only kind power is
    simulated for: a `within:` contrast (one level of an interaction) is not, as the
    simulation plants main effects."""
    return (
        isinstance(spec, dict)
        and spec.get("variable") is not None
        and spec.get("test") is not None
        and spec.get("reference") is not None
        and not spec.get("within")
    )


def power_contrasts(config: dict) -> list[str]:
    """The contrasts that get a power analysis: every two-level contrast, in config
    order, when `power.enabled` is on; none otherwise."""
    if not (config.get("power") or {}).get("enabled", False):
        return []
    return [name for name, spec in config["contrasts"].items() if is_two_level(spec)]


def current_sizes(sheet, spec: dict) -> list[int]:
    """[n_test, n_reference]: the cohort's own group sizes for a two-level contrast
    of the config (`sheet`: the checked sample sheet)."""
    column = sheet[spec["variable"]].astype(str)
    return [int((column == _level(spec[role])).sum()) for role in ("test", "reference")]


def _level(value) -> str:
    """A level as the sheet holds it (YAML reads `test: 1` as a number), as
    `design.contrasts` reads it; not imported from there, whose formula parsing the
    report's env does not carry."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
