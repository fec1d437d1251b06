"""The report's power section of a contrast: what the cohort could detect, the group
size the next one needs (one sentence, `power.summary`), the figure and the table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from msc_response.power.config import COLUMNS, current_sizes
from msc_response.power.summary import (
    ALL,
    FOLD,
    TARGET,
    detectable_effect,
    shown_strata,
    summarise_power,
)
from msc_response.report.blocks import (
    Column,
    figure,
    format_general,
    format_int,
    make_table,
    num_column,
)
from msc_response.report.files import ResultFiles
from msc_response.report.reading import level_label, read_tsv, slug


def power_columns() -> list[Column]:
    return [
        Column("effect_size", "|log2 FC|", format_general, numeric=True),
        Column("n_test", "n test", format_int, numeric=True),
        Column("n_reference", "n reference", format_int, numeric=True),
        Column("mean_stratum", "mean count", help="genes by their mean normalised count"),
        num_column("power", "power", 2, "share of the genes given this effect that were found"),
        num_column("power_ci_low", "95% CI low", 2),
        num_column("power_ci_high", "95% CI high", 2),
        num_column("fdp", "FDP", 3, "false discovery proportion among the calls"),
        Column("replicates", "cohorts", format_int, numeric=True, help="simulated cohorts"),
    ]


def power_section(
    files: ResultFiles, name: str, contrast: dict, sheet: pd.DataFrame, config: dict
) -> dict:
    paths = files.power(name)
    table = read_tsv(paths["table"], COLUMNS, "power table")
    current = current_sizes(sheet, contrast)
    test, reference = level_label(contrast["test"]), level_label(contrast["reference"])
    summary = summarise_power(table, current)
    strata = [s for s in shown_strata(table) if s != ALL]
    by_stratum = []
    for stratum in strata:
        kind, value = detectable_effect(table, tuple(current), stratum)
        if kind == "between":
            text = f"|log2FC| {value:.2f} ({2 ** value:.2g}-fold)"
        elif kind == "at_most":
            text = f"|log2FC| {value:g} or less"
        elif kind == "above":
            text = f"more than |log2FC| {value:g}"
        else:
            continue
        by_stratum.append({"stratum": stratum, "text": text})
    alpha = config["diffexp"]["alpha"]
    settings = config.get("power", {})
    fdp = table.loc[table["mean_stratum"].astype(str) == ALL, "fdp"]
    return {
        "sentence": summary.sentence(test, reference) if summary else None,
        "by_stratum": by_stratum,
        "target": f"{TARGET:.0%}",
        "fold": FOLD,
        "alpha": alpha,
        "fraction": f"{settings['fraction']:.3g}" if "fraction" in settings else "a share",
        "replicates": settings.get("replicates"),
        "fdp_max": f"{fdp.max():.3f}" if len(fdp) and fdp.notna().any() else "NA",
        "figure": figure(
            paths["figure"],
            f"Power: {name}",
            f"Share of genes given an effect (|log2FC|, one line per size, up or down) "
            f"that the workflow's DE calls at adjusted p < {alpha}, in cohorts simulated "
            f"from this cohort's fitted model, against samples per group; bands are 95% "
            f"intervals, the dashed line is {TARGET:.0%} power and the dotted line this "
            f"cohort ({current[0]} {test} vs {current[1]} {reference}, at its balanced "
            f"equivalent). Panels: all tested genes, then by mean count.",
        ),
        "table": make_table(
            table,
            f"power-{slug(name)}",
            power_columns(),
            f"{name}.power.tsv",
            download=Path(paths["table"]).read_bytes(),
        ),
    }
