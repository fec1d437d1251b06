"""Read and check the inputs once (rule check_inputs), and return them as the checked
carrier (msc_response.inputs.carrier): counts from a count table, per-sample count
files, transcript quantifications or single cells summed per sample, the sample
sheet, gene symbols, and the warnings met on the way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import anndata as ad
import numpy as np
import pandas as pd

from msc_response.common.errors import InputError
from msc_response.de import offsets
from msc_response.design.structure import design_problems
from msc_response.inputs import count_files, quant_settings, quantifications, readers, validation
from msc_response.inputs.carrier import to_anndata
from msc_response.inputs.populations import subset_sheet
from msc_response.inputs.single_cell import SingleCellSpec, pseudobulk

log = logging.getLogger(__name__)


@dataclass
class InputSpec:
    """Where the inputs are and how to read them: the relevant part of the config."""

    counts: str | None
    samples: str
    design: str
    contrasts: dict
    annotation: str | None = None
    categorical_variables: tuple[str, ...] = ()
    extra_count_columns: str = "drop"
    # symbols for human Ensembl IDs when no annotation is given
    human_genes: str | None = None
    round_counts: bool = False
    # one count file per sample (STAR or HTSeq), instead of `counts`
    count_files: dict | None = None
    # transcript quantifications (salmon, kallisto, RSEM), instead of `counts`
    quantifications: dict | None = None
    # `counts` is a cells x genes .h5ad to sum per sample (the config's single_cell:)
    single_cell: SingleCellSpec | None = None
    # one population of the cells (single_cell.group_by): {"name", "samples"}, the
    # samples with enough of its cells (msc_response.inputs.populations)
    population: dict | None = None

    @property
    def source(self) -> str:
        """What the counts are read from, for messages."""
        if self.count_files:
            return f"the files of sample-sheet column '{self.count_files['column']}'"
        if self.quantifications:
            return f"the files of sample-sheet column '{self.quantifications['column']}'"
        return self.counts

    @classmethod
    def from_config(cls, config: dict, human_genes: str | None = None) -> "InputSpec":
        """`config`: the workflow's config, or `common.config.input_settings(config)`
        plus its `contrasts` (which are only checked here, against the sheet)."""
        return cls(
            counts=config.get("counts") or None,
            samples=config["samples"],
            design=config["design"],
            contrasts=config["contrasts"],
            annotation=config.get("annotation") or None,
            categorical_variables=tuple(config.get("categorical_variables") or ()),
            extra_count_columns=config.get("extra_count_columns", "drop"),
            human_genes=human_genes,
            round_counts=bool(config.get("round_counts", False)),
            count_files=config.get("count_files") or None,
            quantifications=config.get("quantifications") or None,
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
    population = spec.population["name"] if spec.population else None
    if spec.population:
        sheet = subset_sheet(sheet, spec.population["samples"])
        problems = design_problems(sheet, spec.design, f"population '{population}'")
        if problems:
            raise InputError(problems[0])
    unassigned, table_symbols, cells, lengths = None, None, None, None
    if spec.count_files:
        counts, unassigned = count_files.read_count_files(
            sheet, count_files.CountFiles.from_config(spec.count_files), spec.samples, warnings
        )
        counts = validation.check_counts(counts, spec.source)
        warnings += validation.warn_gene_ids(counts.index, spec.source)
    elif spec.quantifications:
        genes = quantifications.gene_counts(
            sheet, quant_settings.check_settings(spec.quantifications), spec.samples, warnings
        )
        table_symbols = genes.symbols
        counts = validation.check_counts(quantifications.round_counts(genes.counts), spec.source)
        if genes.offsets:
            lengths = genes.lengths.loc[counts.index, counts.columns]
            offsets.check_lengths(lengths.to_numpy(), spec.source)
    else:
        if spec.single_cell is not None:
            bulk = pseudobulk(spec.counts, spec.single_cell, sheet.index, population)
            counts, cells, table_symbols = bulk.counts, bulk.cells, bulk.symbols
            if table_symbols is not None:
                log.info("cells file '%s': gene symbols from its var table", spec.counts)
        else:
            counts = readers.read_counts(spec.counts, warnings)
            counts, table_symbols = readers.split_symbol_column(counts)
            if table_symbols is not None:
                log.info(
                    "counts file '%s': column '%s' read as the genes' symbols",
                    spec.counts, "gene_name/gene_symbol",
                )
        counts = validation.check_counts(counts, spec.counts, spec.round_counts, warnings)
        warnings += validation.warn_gene_ids(counts.index, spec.counts)
        counts, sample_warnings = validation.match_samples(
            counts, sheet, spec.counts, spec.samples, spec.extra_count_columns
        )
        warnings += sample_warnings
    symbols = gene_symbols(spec, counts.index, table_symbols, warnings)
    for warning in warnings:
        log.warning(warning)
    adata = to_anndata(counts, sheet, symbols, spec.design, warnings)
    if lengths is not None:  # tximport's offsets (counts_from_abundance "no")
        adata.layers[offsets.LENGTH_LAYER] = np.ascontiguousarray(lengths.to_numpy(dtype=float).T)
    if unassigned is not None:
        for column in unassigned.columns:
            adata.obs[column] = unassigned[column].reindex(adata.obs_names).to_numpy()
    if cells is not None:
        adata.uns["single_cell"] = {
            "layer": spec.single_cell.layer or "X",
            "sample_column": spec.single_cell.sample_column,
            "min_cells": spec.single_cell.min_cells,
            "n_cells": cells.reindex(adata.obs_names).to_numpy(),
        }
        if population is not None:
            adata.uns["single_cell"]["population"] = population
    return adata


def gene_symbols(
    spec: InputSpec, gene_ids: pd.Index, table_symbols: pd.Series | None, warnings: list[str]
) -> pd.Series:
    """The genes' symbols: from the annotation file when one is given, else from the
    count table's own symbol column, else from the shipped human gene table (human
    Ensembl IDs) or the IDs themselves."""
    if not spec.annotation:
        if table_symbols is not None:
            return pd.Series(table_symbols.loc[gene_ids].to_numpy(), index=gene_ids, name="symbol")
        return readers.symbols_for(gene_ids, default_annotation(gene_ids, spec.human_genes))
    symbols = readers.symbols_for(gene_ids, readers.read_annotation(spec.annotation))
    unmatched = symbols.to_numpy() == gene_ids.to_numpy()
    if unmatched.all():
        raise InputError(
            f"Annotation '{spec.annotation}' maps none of the gene IDs in "
            f"{_described(spec.source)} (e.g. '{gene_ids[0]}'). Use an annotation for the "
            f"same gene ID type (Ensembl vs symbol, same species)."
        )
    if unmatched.any() and table_symbols is not None:
        own = table_symbols.loc[gene_ids].to_numpy()
        symbols = pd.Series(np.where(unmatched, own, symbols.to_numpy()), index=gene_ids, name="symbol")
        unmatched = symbols.to_numpy() == gene_ids.to_numpy()
    if unmatched.any():
        warnings.append(
            f"{int(unmatched.sum())} of {len(symbols)} gene IDs have no symbol in "
            f"'{spec.annotation}'; their ID is used as the symbol."
        )
    return symbols


def _described(source: str) -> str:
    return source if source.startswith("the files") else f"counts file '{source}'"


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
