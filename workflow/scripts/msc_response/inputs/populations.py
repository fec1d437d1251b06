"""Per-population analysis of single cells (`single_cell.group_by`): which populations
are analysed, for which contrasts, on which samples, decided when the workflow is
parsed.

Only two obs columns of the cells file are read (the sample and the population of
every cell), never the matrix, so the plan is cheap even for a large file. A sample x
population pair with fewer than `single_cell.min_cells` cells is left out of that
population; a population is analysed for a contrast when what is left still fits the
design (the same structure checks as the whole cohort: every level replicated, a
full-rank model matrix, residual degrees of freedom) and the contrast has at least
`MIN_PER_SIDE` samples on each side. Everything else is listed with the reason.

Plain pandas/numpy/h5py on purpose: the Snakefile imports this module when it parses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from msc_response.common.errors import InputError, listing
from msc_response.design.contrasts import Contrast, check_contrasts
from msc_response.design.plan import _group_sizes
from msc_response.design.structure import design_problems
from msc_response.inputs.h5ad import open_h5ad

# DESeq2 needs replicates on both sides of a comparison to tell an effect from the
# dispersion; the whole-cohort check (design.structure) asks the same of every level.
MIN_PER_SIDE = 2
# The table of rule population_table (results/qc/populations.tsv).
TABLE_COLUMNS = [
    "population", "folder", "contrast", "analysed", "n_test", "n_reference",
    "cells_test", "cells_reference", "samples_left_out", "reason",
]


def safe_name(name: str) -> str:
    """`name` as one safe path component: runs of characters other than letters,
    digits, '.', '_' and '-' become '_', and leading dots, dashes and underscores
    (and trailing underscores) are dropped, so
    'CD34+ / progenitor' becomes 'CD34_progenitor'."""
    text = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).lstrip("._-").rstrip("_")
    return text or "population"


def folder_names(populations) -> dict[str, str]:
    """Population -> folder name; names that clash once made safe get a suffix
    (_2, _3, ...) in sorted order, so the folders are stable between runs."""
    folders: dict[str, str] = {}
    used: set[str] = set()
    for population in sorted(map(str, populations)):
        base = safe_name(population)
        name, n = base, 1
        while name.lower() in used:  # case-insensitive file systems
            n += 1
            name = f"{base}_{n}"
        used.add(name.lower())
        folders[population] = name
    return folders


def read_cell_labels(path: str | Path, sample_column: str, group_by: str) -> pd.DataFrame:
    """The `sample_column` and `group_by` obs columns of the cells file (as strings),
    read without the matrix. Stops with an `InputError` that names the file and the
    column when `group_by` is missing or holds a single population."""
    from anndata.io import read_elem

    path = Path(path)
    with open_h5ad(path) as handle:
        obs = handle["obs"]
        # anndata records the columns' order; the group's keys also hold the index
        columns = [str(c) for c in obs.attrs.get("column-order", [])] or [
            c for c in obs.keys() if c != obs.attrs.get("_index", "_index")
        ]
        if group_by not in obs:
            raise InputError(
                f"Counts file '{path}' has no obs column '{group_by}' "
                f"(single_cell.group_by) naming each cell's population; its obs columns: "
                f"{listing(columns)}. Set 'single_cell: group_by' to the column with the "
                f"cell types or clusters, or to null for one analysis of all cells."
            )
        if sample_column not in obs:
            raise InputError(
                f"Counts file '{path}' has no obs column '{sample_column}' "
                f"(single_cell.sample_column) naming each cell's sample; its obs columns: "
                f"{listing(columns)}. Set 'single_cell: sample_column' to the column that "
                f"holds the sample (donor) names of the sample sheet."
            )
        frame = pd.DataFrame(
            {
                "sample": np.asarray(read_elem(obs[sample_column])).astype(object),
                "population": np.asarray(read_elem(obs[group_by])).astype(object),
            }
        )
    empty = pd.isna(frame["population"])
    if empty.any():
        raise InputError(
            f"Counts file '{path}': obs column '{group_by}' (single_cell.group_by) is empty "
            f"for {int(empty.sum())} cell(s). Give every cell a population (e.g. "
            f"'unassigned') or drop those cells before writing the file."
        )
    frame = frame.astype(str)
    values = frame["population"].unique()
    if len(values) < 2:
        raise InputError(
            f"Counts file '{path}': obs column '{group_by}' (single_cell.group_by) holds a "
            f"single population ('{values[0] if len(values) else ''}'), so a per-population "
            f"analysis would repeat the analysis of all cells. Name a column with two or "
            f"more populations, or set 'group_by: null'."
        )
    return frame


def cell_counts(labels: pd.DataFrame, samples) -> pd.DataFrame:
    """Cells per sample (rows, the sheet's order) and population (columns, sorted);
    cells of samples the sheet leaves out are not counted."""
    samples = [str(s) for s in samples]
    kept = labels[labels["sample"].isin(samples)]
    table = pd.crosstab(kept["sample"], kept["population"])
    populations = sorted(labels["population"].unique())
    return table.reindex(index=samples, columns=populations, fill_value=0).astype(np.int64)


@dataclass
class Population:
    """One population's plan: its folder, the samples it is analysed on, and the
    contrasts it is analysed for."""

    name: str
    folder: str
    samples: list[str]
    contrasts: list[str]
    rows: list[dict] = field(default_factory=list)


@dataclass
class PopulationPlan:
    column: str
    cells: pd.DataFrame  # samples x populations
    populations: list[Population]

    @property
    def analysed(self) -> list[Population]:
        return [p for p in self.populations if p.contrasts]

    def by_folder(self, folder: str) -> Population:
        return next(p for p in self.populations if p.folder == folder)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            [row for p in self.populations for row in p.rows], columns=TABLE_COLUMNS
        )


def subset_sheet(sheet: pd.DataFrame, samples) -> pd.DataFrame:
    """The sheet's rows of `samples`, with the levels no kept sample has removed (an
    empty level would be a column of zeros in the model matrix)."""
    sub = sheet.loc[[s for s in sheet.index if str(s) in set(map(str, samples))]].copy()
    for column in sub.columns:
        if isinstance(sub[column].dtype, pd.CategoricalDtype):
            sub[column] = sub[column].cat.remove_unused_categories()
    return sub


def plan_populations(
    labels: pd.DataFrame,
    sheet: pd.DataFrame,
    design: str,
    contrasts: list[Contrast],
    min_cells: int,
    column: str,
) -> PopulationPlan:
    """Which populations are analysed for which contrast, and why not (see module)."""
    cells = cell_counts(labels, sheet.index)
    folders = folder_names(cells.columns)
    populations = []
    for name in cells.columns:
        n = cells[name]
        kept = [s for s in cells.index if n[s] >= min_cells]
        few = [s for s in cells.index if n[s] < min_cells]
        sub = subset_sheet(sheet, kept)
        structure = _design_problem(sub, design, name, min_cells)
        population = Population(name, folders[name], kept, [])
        for contrast in contrasts:
            sizes = _group_sizes(sub, contrast, design)
            reason = (
                _contrast_problem(contrast, sizes)
                or structure
                or _estimable_problem(sub, design, contrast, name)
            )
            row = {
                "population": name,
                "folder": folders[name],
                "contrast": contrast.name,
                "analysed": not reason,
                "n_test": sizes[0] if contrast.two_level else None,
                "n_reference": sizes[1] if contrast.two_level else None,
                "cells_test": _side_cells(sub, n, contrast, contrast.test),
                "cells_reference": _side_cells(sub, n, contrast, contrast.reference),
                "samples_left_out": ", ".join(f"{s} ({n[s]} cells)" for s in few),
                "reason": reason or "",
            }
            population.rows.append(row)
            if not reason:
                population.contrasts.append(contrast.name)
        populations.append(population)
    return PopulationPlan(column=column, cells=cells, populations=populations)


def _design_problem(sub, design, name, min_cells) -> str | None:
    """Why the design cannot be fitted on the population's samples, if it cannot."""
    if len(sub) < 2:
        return (
            f"{len(sub)} sample(s) with at least {min_cells} cells "
            f"(single_cell.min_cells)"
        )
    problems = design_problems(sub, design, f"population {name}")
    if problems:
        return f"the design does not fit its samples: {_first_sentence(problems[0])}"
    return None


def _estimable_problem(sub, design, contrast, name) -> str | None:
    try:
        check_contrasts(sub, design, [contrast], f"population {name}")
    except InputError as err:
        return f"the contrast cannot be estimated on its samples: {_first_sentence(err)}"
    return None


def _contrast_problem(contrast: Contrast, sizes: list[int]) -> str | None:
    if contrast.two_level and min(sizes, default=0) < MIN_PER_SIDE:
        return (
            f"{sizes[0] if sizes else 0} {contrast.test} vs "
            f"{sizes[1] if len(sizes) > 1 else 0} {contrast.reference} samples with "
            f"enough cells; at least {MIN_PER_SIDE} per side are needed"
        )
    return None


def _side_cells(sub: pd.DataFrame, n: pd.Series, contrast: Contrast, level) -> object:
    if not contrast.two_level or level is None or not len(sub):
        return None
    rows = sub[contrast.variable].astype(str) == str(level)
    for factor, value in contrast.within.items():
        rows &= sub[factor].astype(str) == str(value)
    return int(n.reindex(sub.index[rows].astype(str)).sum())


def _first_sentence(message) -> str:
    text = str(message)
    return text.split(". ")[0].rstrip(".")


def plan_from_config(config: dict, sheet: pd.DataFrame, contrasts: list[Contrast]):
    """The population plan of a run, or None without `single_cell.group_by`."""
    block = config.get("single_cell") or {}
    if not block.get("group_by"):
        return None
    labels = read_cell_labels(
        config["counts"], block.get("sample_column", "sample"), block["group_by"]
    )
    return plan_populations(
        labels, sheet, config["design"], contrasts, int(block.get("min_cells", 20)),
        block["group_by"],
    )


def population_fits(
    plan: PopulationPlan, sheet: pd.DataFrame, contrasts: list[Contrast], design: str,
    min_samples: int | None,
) -> dict[str, dict]:
    """Folder -> what each analysed population's DE needs (as for the whole cohort,
    on its own samples and contrasts): the fit plan, the contrast weights of
    within-level and continuous contrasts, and the check_inputs parameter."""
    from msc_response.design.estimable import contrast_weights
    from msc_response.design.plan import fit_plan

    fits = {}
    for population in plan.analysed:
        sub = subset_sheet(sheet, population.samples)
        own = [c for c in contrasts if c.name in population.contrasts]
        fit = fit_plan(sub, own, min_samples, design)
        fits[population.folder] = {
            "plan": fit,
            "weights": {
                c.name: contrast_weights(sub, design, c, fit["reference_levels"])
                for c in own
                if c.kind in ("within", "continuous")
            },
            "inputs": {"name": population.name, "samples": list(population.samples)},
        }
    return fits
