"""Read and check the inputs once, and carry them as an AnnData (samples x genes).

Layout of the AnnData files the workflow writes:
- `obs`: the sample sheet (design variables typed), later size factors and QC metrics;
- `var`: `gene_id` (index) and `symbol`;
- `layers['counts']`: raw integer counts; `X` holds the same counts in the checked
  file and the VST values in `results/dataset.h5ad`;
- `uns['design']`, `uns['input_warnings']`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import anndata as ad
import numpy as np
import pandas as pd

from . import io, validation
from .errors import InputError

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

    @classmethod
    def from_config(cls, config: dict) -> "InputSpec":
        return cls(
            counts=config["counts"],
            samples=config["samples"],
            design=config["design"],
            contrasts=config["contrasts"],
            annotation=config.get("annotation") or None,
            categorical_variables=tuple(config.get("categorical_variables") or ()),
            extra_count_columns=config.get("extra_count_columns", "drop"),
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
    counts = io.read_counts(spec.counts, warnings)
    counts = validation.check_counts(counts, spec.counts)
    warnings += validation.warn_gene_ids(counts.index, spec.counts)
    counts, sample_warnings = validation.match_samples(
        counts, sheet, spec.counts, spec.samples, spec.extra_count_columns
    )
    warnings += sample_warnings
    annotation = io.read_annotation(spec.annotation) if spec.annotation else None
    symbols = io.symbols_for(counts.index, annotation)
    if annotation is not None:
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
    return to_anndata(counts, sheet, symbols, spec.design, warnings)


def to_anndata(
    counts: pd.DataFrame,
    sheet: pd.DataFrame,
    symbols: pd.Series,
    design: str,
    warnings: list[str] = (),
) -> ad.AnnData:
    """counts: genes x samples (int); sheet: indexed by sample in the same order."""
    var = pd.DataFrame({"symbol": symbols.astype(str).to_numpy()}, index=counts.index)
    var.index.name = "gene_id"
    obs = sheet.copy()
    obs.index = obs.index.astype(str)
    # Columns outside the design are still text: numbers become numbers, the rest
    # categories (what anndata would do anyway, without its notice on stdout).
    for column in obs.columns:
        if obs[column].dtype == object and column != "sample":
            numeric = pd.to_numeric(obs[column], errors="coerce")
            if numeric.notna().all():
                obs[column] = numeric
            else:
                obs[column] = pd.Categorical(obs[column].astype(str))
    if "sample" in obs:
        obs["sample"] = obs["sample"].astype(str)
    matrix = np.ascontiguousarray(counts.to_numpy().T)
    adata = ad.AnnData(X=matrix, obs=obs, var=var)
    adata.layers["counts"] = matrix
    adata.uns["design"] = design
    adata.uns["input_warnings"] = list(warnings)
    return adata


def counts_frame(adata: ad.AnnData) -> pd.DataFrame:
    """Raw counts as samples x genes DataFrame (PyDESeq2's orientation)."""
    return pd.DataFrame(
        np.asarray(adata.layers["counts"]), index=adata.obs_names, columns=adata.var_names
    )


def write_h5ad(adata: ad.AnnData, path: str) -> None:
    with io.atomic_path(path) as temporary:
        adata.write_h5ad(temporary, compression="gzip")
