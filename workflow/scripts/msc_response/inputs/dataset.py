"""Read and check the inputs once (rule check_inputs), and return them as the checked
carrier (msc_response.inputs.carrier): counts from a count table or summed from single
cells, the sample sheet, gene symbols, and the warnings met on the way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import anndata as ad
import pandas as pd

from msc_response.common.errors import InputError
from msc_response.inputs import readers, validation
from msc_response.inputs.carrier import to_anndata
from msc_response.inputs.single_cell import SingleCellSpec, pseudobulk

log = logging.getLogger(__name__)


@dataclass
class InputSpec:
    """Where the inputs are and how to read them: the relevant part of the config."""

    counts: str
    samples: str
    design: str
    contrasts: dict
    annotation: str | None = None
    categorical_variables: tuple[str, ...] = ()
    extra_count_columns: str = "drop"
    # symbols for human Ensembl IDs when no annotation is given
    human_genes: str | None = None
    # a cells x genes .h5ad to sum per sample (the config's single_cell: block)
    single_cell: SingleCellSpec | None = None

    @classmethod
    def from_config(cls, config: dict, human_genes: str | None = None) -> "InputSpec":
        return cls(
            counts=config["counts"],
            samples=config["samples"],
            design=config["design"],
            contrasts=config["contrasts"],
            annotation=config.get("annotation") or None,
            categorical_variables=tuple(config.get("categorical_variables") or ()),
            extra_count_columns=config.get("extra_count_columns", "drop"),
            human_genes=human_genes,
            single_cell=SingleCellSpec.from_config(config.get("single_cell")),
        )


def check_sheet_and_design(spec: InputSpec) -> tuple[pd.DataFrame, list[str]]:
    """The checks that need only the (small) sample sheet and the config, including
    the design's structure (rank, residual degrees of freedom, replicates)."""
    checked = validation.check_sheet(
        spec.samples, spec.design, spec.contrasts, spec.categorical_variables
    )
    if checked.design_problems:
        raise InputError(checked.design_problems[0])
    return checked.sheet, checked.warnings


def load_checked_inputs(spec: InputSpec) -> ad.AnnData:
    """Read counts, sheet and annotation, check them all, and return one AnnData.

    The sheet and design are checked first, so a bad design stops before the counts
    are read. The counts are held in at most two copies (the parsed table, reordered
    to the sheet's sample order only if needed, and the AnnData's matrix).
    """
    sheet, warnings = check_sheet_and_design(spec)
    cells = given_symbols = None
    if spec.single_cell is not None:
        bulk = pseudobulk(spec.counts, spec.single_cell, sheet.index)
        counts, cells, given_symbols = bulk.counts, bulk.cells, bulk.symbols
    else:
        counts = readers.read_counts(spec.counts, warnings)
    counts = validation.check_counts(counts, spec.counts)
    warnings += validation.warn_gene_ids(counts.index, spec.counts)
    counts, sample_warnings = validation.match_samples(
        counts, sheet, spec.counts, spec.samples, spec.extra_count_columns
    )
    warnings += sample_warnings
    if spec.annotation:
        annotation = readers.read_annotation(spec.annotation)
        symbols = readers.symbols_for(counts.index, annotation)
    elif given_symbols is not None:
        log.info("gene symbols from the var table of '%s'", spec.counts)
        symbols = given_symbols
    else:
        annotation = default_annotation(counts.index, spec.human_genes)
        symbols = readers.symbols_for(counts.index, annotation)
    if spec.annotation:
        unmatched = int((symbols.to_numpy() == counts.index.to_numpy()).sum())
        if unmatched == len(symbols):
            raise InputError(
                f"Annotation '{spec.annotation}' maps none of the gene IDs in counts file "
                f"'{spec.counts}' (e.g. '{counts.index[0]}'). Use an annotation for the "
                f"same gene ID type (Ensembl vs symbol, same species)."
            )
        if unmatched:
            warnings.append(
                f"{unmatched} of {len(symbols)} gene IDs have no symbol in "
                f"'{spec.annotation}'; their ID is used as the symbol."
            )
    for warning in warnings:
        log.warning(warning)
    adata = to_anndata(counts, sheet, symbols, spec.design, warnings)
    if cells is not None:
        adata.uns["single_cell"] = {
            "layer": spec.single_cell.layer or "X",
            "sample_column": spec.single_cell.sample_column,
            "min_cells": spec.single_cell.min_cells,
            "n_cells": cells.reindex(adata.obs_names).to_numpy(),
        }
    return adata


HUMAN_ENSEMBL = r"^ENSG\d{11}(\.\d+)?$"


def default_annotation(gene_ids: pd.Index, human_genes: str | None) -> pd.DataFrame | None:
    """No annotation file given: the shipped human gene table when most gene IDs are
    human Ensembl IDs (ENSG...), else none (the IDs serve as symbols). Says which."""
    human = pd.Series(gene_ids, dtype=str).str.match(HUMAN_ENSEMBL).mean() >= 0.5
    if human and human_genes:
        table = readers.read_annotation(human_genes)
        mapped = readers.strip_version(gene_ids).isin(table["gene_id"]).sum()
        log.info(
            "no annotation file given; the gene IDs are human Ensembl IDs: symbols from "
            "%s (%d of %d IDs have one; the others keep their ID)",
            human_genes, mapped, len(gene_ids),
        )
        return table
    log.info(
        "no annotation file given%s: the gene IDs are used as symbols",
        "" if human else " and the gene IDs are not human Ensembl IDs",
    )
    return None
