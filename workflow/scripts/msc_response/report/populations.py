"""The report's cell-population part (single_cell.group_by): the composition across
donors, an overview of every population x contrast (samples and cells per group,
genes up/down, top enriched set, or why it was not analysed), and each analysed
population's contrasts in full, built as the whole cohort's are."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from msc_response.report.blocks import (
    Column,
    Table,
    figure,
    format_int,
    format_text,
    make_table,
    num_column,
    p_column,
)
from msc_response.report.files import ResultFiles, Stages
from msc_response.report.reading import read_tsv, slug

POPULATIONS_REQUIRED = ["population", "folder", "contrast", "analysed", "reason"]
COMPOSITION_REQUIRED = ["contrast", "population", "pvalue", "padj"]


def composition_columns() -> list[Column]:
    return [
        Column("contrast", "contrast"),
        Column("population", "population"),
        num_column("mean_share_test", "mean share (test)", 3),
        num_column("mean_share_reference", "mean share (reference)", 3),
        num_column("share_difference", "difference", 3),
        Column("samples_with_cells_test", "samples with cells (test)", format_int, numeric=True),
        Column("samples_with_cells_reference", "samples with cells (reference)", format_int,
               numeric=True),
        num_column("statistic", "t", 2),
        p_column("pvalue", "p"),
        p_column("padj", "adjusted p", "Benjamini-Hochberg across populations"),
    ]


def overview_columns() -> list[Column]:
    return [
        Column("population", "population"),
        Column("contrast", "contrast"),
        Column("status", "analysed?"),
        Column("up", "genes up", format_int, numeric=True),
        Column("down", "genes down", format_int, numeric=True),
        Column("top_terms", "top enriched sets (GSEA)"),
        Column("n_test", "samples (test)", format_int, numeric=True),
        Column("n_reference", "samples (reference)", format_int, numeric=True),
        Column("cells_test", "cells (test)", format_int, numeric=True),
        Column("cells_reference", "cells (reference)", format_int, numeric=True),
    ]


def _top_terms(entry: dict, limit: int = 2) -> str:
    """The most significant GSEA sets of a contrast entry, over its collections."""
    terms = []
    for enrichment in entry["enrichment"]:
        for analysis in enrichment["analyses"]:
            table = analysis["table"]
            if analysis["key"] == "gsea" and table is not None:
                terms += [row[0]["text"] for row in table.rows[:limit]]
    return "; ".join(terms[:limit]) if terms else "none at the FDR"


def _prefix_ids(entry, prefix: str):
    """The same entry with every table and anchor id prefixed, so a population's
    contrast can sit in the page beside the cohort's without clashing ids."""
    if isinstance(entry, Table):
        return replace(entry, id=f"{prefix}-{entry.id}", filename=f"{prefix}.{entry.filename}")
    if isinstance(entry, dict):
        return {
            key: f"{prefix}-{value}" if key == "id" and isinstance(value, str)
            else _prefix_ids(value, prefix)
            for key, value in entry.items()
        }
    if isinstance(entry, list):
        return [_prefix_ids(value, prefix) for value in entry]
    return entry


def populations_section(
    files: ResultFiles,
    sheet: pd.DataFrame,
    config: dict,
    stages: Stages,
    settings,
    contrast_entry,
) -> dict:
    """Everything the report shows about the cell populations (see the module)."""
    paths = files.composition()
    plan = read_tsv(paths["populations"], POPULATIONS_REQUIRED, "populations table")
    composition = read_tsv(paths["table"], COMPOSITION_REQUIRED, "composition test")
    alpha = config["diffexp"]["alpha"]
    details = []
    entries = {}
    for name, folder, analysed in stages.populations:
        population_files = files.population(folder)
        contrasts = []
        for contrast in analysed:
            entry = contrast_entry(
                population_files, contrast, config["contrasts"][contrast], config,
                settings, stages, sheet, cohort=False,
            )
            entry["title"] = f"{name}: {entry['label']}"
            entry = _prefix_ids(entry, f"pop-{slug(folder)}")
            entries[(name, contrast)] = entry
            contrasts.append(entry)
        details.append(
            {"name": name, "folder": folder, "id": f"population-{slug(folder)}",
             "contrasts": contrasts}
        )
    overview = plan.copy()
    overview["up"] = [_count(entries, r, "up") for r in overview.itertuples()]
    overview["down"] = [_count(entries, r, "down") for r in overview.itertuples()]
    overview["top_terms"] = [
        _top_terms(entries[(r.population, r.contrast)])
        if (r.population, r.contrast) in entries else "" for r in overview.itertuples()
    ]
    overview["status"] = [
        "yes" if _true(r.analysed) else "no (why: below)"
        for r in overview.itertuples()
    ]
    significant = composition[composition["padj"] < alpha]
    return {
        "column": (config.get("single_cell") or {}).get("group_by"),
        "min_cells": (config.get("single_cell") or {}).get("min_cells", 20),
        "alpha": alpha,
        "overview": make_table(
            overview, "populations-table", overview_columns(), "populations.tsv",
            download=Path(paths["populations"]).read_bytes(),
        ),
        "left_out": [
            {"population": format_text(r.population), "contrast": r.contrast,
             "reason": r.reason}
            for r in plan.itertuples() if not _true(r.analysed)
        ],
        "composition": make_table(
            composition, "composition", composition_columns(), "composition.tsv",
            download=Path(paths["table"]).read_bytes(),
        ),
        "shifted": [
            {"population": format_text(r.population), "contrast": r.contrast,
             "direction": "higher" if r.share_difference > 0 else "lower",
             "padj": f"{r.padj:.2g}"}
            for r in significant.itertuples()
        ],
        "figure": figure(
            paths["figure"],
            "Cell populations per sample",
            "Each sample's cells by population (stacked shares), the samples grouped by "
            "the first two-level contrast's variable. The test compares these shares "
            "between the groups across donors, not cells.",
        ),
        "details": details,
    }


def _true(value) -> bool:
    return str(value).strip().lower() == "true"


def _count(entries: dict, row, key: str):
    entry = entries.get((row.population, row.contrast))
    return entry["de"]["counts"][key] if entry else None
