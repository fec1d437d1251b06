"""The checked carrier: counts, sample sheet and genes as one AnnData (samples x genes).

Written by rule check_inputs (`results/checked/raw.h5ad`) and, with normalised values
added, by rule normalise (`results/dataset.h5ad`); read by the QC and DE jobs. Kept
apart from the readers (msc_response.inputs.dataset), so that a job that only reads
the carrier does not import them. Layout:
- `obs`: the sample sheet (design variables typed), later size factors and QC metrics;
- `var`: `gene_id` (index) and `symbol`;
- `layers['counts']`: raw integer counts; `X` holds the same counts in the checked
  file and the VST values in `results/dataset.h5ad`;
- `layers['avg_tx_length']` (transcript quantifications with counts_from_abundance
  "no" only): tximport's average transcript lengths per gene and sample, the DE
  model's offsets (msc_response.de.offsets);
- `uns['design']`, `uns['input_warnings']`;
- `uns['single_cell']` for a single-cell input: the layer and obs column the cells
  were summed from, and `n_cells` per sample (in obs order).
"""

from __future__ import annotations

import anndata as ad
import h5py
import numpy as np
import pandas as pd

from msc_response.common.tables import atomic_path


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


def layer_frame(adata: ad.AnnData, layer: str) -> pd.DataFrame | None:
    """A layer as a samples x genes DataFrame; None when the carrier has no such
    layer (tximport's lengths, `avg_tx_length`, are there only with its offsets)."""
    if layer not in adata.layers:
        return None
    return pd.DataFrame(
        np.asarray(adata.layers[layer], dtype=float), index=adata.obs_names, columns=adata.var_names
    )


def write_h5ad(adata: ad.AnnData, path: str) -> None:
    """Write `adata` as .h5ad through a temporary name and a rename.

    Integer matrices (the counts) are stored gzip-compressed (level 1 with HDF5's
    byte shuffle: about 5x smaller, cheap to write and read); float matrices (VST,
    normalised counts) uncompressed, because gzip saves them only about half their size
    at several seconds per layer of a large cohort, for every job that writes or reads
    them. Only standard HDF5 filters: any HDF5 reader (R's rhdf5, zellkonverter) can
    read the file.
    """
    from anndata.io import write_elem

    matrices = {"X": adata.X, **{f"layers/{k}": v for k, v in adata.layers.items()}}
    frame = ad.AnnData(
        obs=adata.obs, var=adata.var, uns=adata.uns, obsm=adata.obsm, varm=adata.varm
    )
    with atomic_path(path) as temporary, h5py.File(temporary, "w") as handle:
        write_elem(handle, "/", frame)
        for key, matrix in matrices.items():
            if matrix is None:
                continue
            write_elem(handle, key, matrix, dataset_kwargs=_h5_options(matrix))


def _h5_options(matrix) -> dict:
    dtype = np.asarray(matrix[:0]).dtype if hasattr(matrix, "dtype") else None
    if dtype is not None and dtype.kind in "iub":
        return {"compression": "gzip", "compression_opts": 1, "shuffle": True}
    return {}
