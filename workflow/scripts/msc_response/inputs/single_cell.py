"""Single-cell input: cells summed per sample (pseudobulk) before any statistics.

A cells x genes AnnData (`.h5ad`) is turned into the genes x samples count table that
the rest of the workflow reads from any bulk count file (rule check_inputs): the cells
of each sample (obs column `single_cell.sample_column`) are summed with scanpy's
aggregation (`scanpy.get.aggregate`, func="sum"). Responders and non-responders are
then compared across donors, as DESeq2 on pseudobulk does, never across cells, which
would treat the thousands of cells of one donor as independent replicates.

The cell matrix is read from the file in blocks of cells (of genes for a CSC matrix)
and never densified or held whole in memory, so a large dataset (200,000 cells x
30,000 genes) is summed in a few hundred MB. Every block is checked for what a raw
count matrix must hold (finite, non-negative whole numbers) before it is summed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from msc_response.common.errors import InputError, listing
from msc_response.inputs.h5ad import open_h5ad

log = logging.getLogger(__name__)

# Cells (or, for a CSC matrix, genes) read and summed at a time: at ~2,000 stored
# values per cell, 20,000 cells are ~320 MB of float64 data and indices.
BLOCK = 20_000
# var columns that hold gene symbols in common single-cell files (scanpy, CellxGene).
SYMBOL_COLUMNS = ("symbol", "gene_symbol", "gene_symbols", "gene_name", "feature_name")


@dataclass(frozen=True)
class SingleCellSpec:
    """The config's `single_cell:` block."""

    layer: str | None = None
    sample_column: str = "sample"
    min_cells: int = 20
    # obs column of each cell's population: one analysis per population besides the
    # analysis of all cells (msc_response.inputs.populations)
    group_by: str | None = None

    @classmethod
    def from_config(cls, block: dict | None) -> "SingleCellSpec | None":
        if block is None:
            return None
        return cls(
            layer=block.get("layer") or None,
            sample_column=block.get("sample_column", "sample"),
            min_cells=int(block.get("min_cells", 20)),
            group_by=block.get("group_by") or None,
        )


@dataclass
class Pseudobulk:
    """Counts summed per sample (genes x samples, int64), the cells behind each sample,
    and gene symbols when the file's `var` carries them."""

    counts: pd.DataFrame
    cells: pd.Series
    symbols: pd.Series | None


def pseudobulk(
    path: str | Path, spec: SingleCellSpec, samples: pd.Index, population: str | None = None
) -> Pseudobulk:
    """Sum the cells of `path` per sample of the sheet (`samples`, its index); with
    `population`, only the cells whose `spec.group_by` column holds it.

    Stops with an `InputError` on a file that is not AnnData, a missing layer or obs
    column, values that are not raw counts, cells of samples the sheet lacks (unless
    the sheet leaves them out on purpose: they are dropped with a log line), sheet
    samples without cells, and samples with fewer than `spec.min_cells` cells.
    """
    path = Path(path)
    with open_h5ad(path) as handle:
        obs, var = _read_frames(handle, path)
        labels = _sample_labels(obs, spec, path, samples)
        if population is not None:
            # cells of other populations are left out as cells of unlisted samples are
            labels = labels.where(obs[spec.group_by].astype(str).to_numpy() == population)
        matrix = _matrix_element(handle, spec, path)
        shape = _shape(matrix)
        if shape != (len(obs), len(var)):
            raise InputError(
                f"Counts file '{path}': the matrix of {_where(spec)} is {shape[0]} x "
                f"{shape[1]} but obs has {len(obs)} cells and var {len(var)} genes. "
                f"The file is damaged; write it again with anndata."
            )
        sums = _sum_per_sample(matrix, labels, spec, path)
    cells = labels.value_counts().reindex(samples).fillna(0).astype(np.int64)
    cells.index.name = "sample"
    cells.name = "n_cells"
    few = cells[cells < spec.min_cells]
    if len(few):
        where = f" of population '{population}'" if population is not None else ""
        raise InputError(
            f"Counts file '{path}': sample(s) {listing(few.index)} have fewer than "
            f"single_cell.min_cells = {spec.min_cells} cells{where} "
            f"({', '.join(f'{s}: {n}' for s, n in few.items())}). Their pseudobulk profile "
            f"would rest on too few cells: remove them from the sample sheet, or lower "
            f"'single_cell: min_cells' if you accept that."
        )
    gene_ids = pd.Index(var.index.astype(str), name="gene_id")
    counts = pd.DataFrame(sums.T, index=gene_ids, columns=pd.Index(samples, name=None))
    log.info(
        "summed %d cells%s of %d samples over %d genes (%s; %d to %d cells per sample)",
        int(cells.sum()), f" of population '{population}'" if population is not None else "",
        len(samples), len(gene_ids), _where(spec),
        int(cells.min()), int(cells.max()),
    )
    return Pseudobulk(counts=counts, cells=cells, symbols=_symbols(var, gene_ids))


def _where(spec: SingleCellSpec) -> str:
    return f"layer '{spec.layer}'" if spec.layer else ".X"


def _read_frames(handle, path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    from anndata.io import read_elem

    try:
        return read_elem(handle["obs"]), read_elem(handle["var"])
    except Exception as err:  # anndata raises many kinds for a damaged or foreign file
        raise InputError(
            f"Counts file '{path}': its obs/var tables could not be read ({err}). Write "
            f"the file again with a current anndata (`adata.write_h5ad(...)`)."
        ) from None


def _sample_labels(
    obs: pd.DataFrame, spec: SingleCellSpec, path: Path, samples: pd.Index
) -> pd.Series:
    """Each cell's sample, as a categorical over the sheet's samples (NaN: left out)."""
    column = spec.sample_column
    if column not in obs.columns:
        raise InputError(
            f"Counts file '{path}' has no obs column '{column}' "
            f"(single_cell.sample_column) naming each cell's sample; its obs columns: "
            f"{listing(obs.columns)}. Set 'single_cell: sample_column' to the column that "
            f"holds the sample (donor) names of the sample sheet."
        )
    values = obs[column]
    if values.isna().any():
        first = obs.index[values.isna().to_numpy()][0]
        raise InputError(
            f"Counts file '{path}': obs column '{column}' is empty for "
            f"{int(values.isna().sum())} cell(s) (e.g. '{first}'). Every cell needs its "
            f"sample; drop the cells without one before writing the file."
        )
    names = values.astype(str)
    wanted = set(map(str, samples))
    present = set(names.unique())
    absent = sorted(present - wanted)
    if absent and not (present & wanted):
        raise InputError(
            f"Counts file '{path}': none of the samples in obs column '{column}' "
            f"({listing(absent)}) is in the sample sheet (its samples: {listing(samples)}). "
            f"Is 'single_cell: sample_column' the right column?"
        )
    if absent:
        dropped = int(names.isin(absent).sum())
        log.warning(
            "%d cells of sample(s) %s (obs column '%s') are not in the sample sheet and "
            "are left out", dropped, listing(absent), column,
        )
    missing = [s for s in samples if str(s) not in present]
    if missing:
        raise InputError(
            f"Sample sheet lists sample(s) {listing(missing)} that have no cells in counts "
            f"file '{path}' (obs column '{column}' names {listing(sorted(present))}). Fix "
            f"the names so they match exactly, or remove the rows from the sheet."
        )
    return pd.Series(
        pd.Categorical(names, categories=[str(s) for s in samples]), index=obs.index
    )


def _matrix_element(handle, spec: SingleCellSpec, path: Path):
    if spec.layer:
        layers = handle.get("layers")
        if layers is None or spec.layer not in layers:
            have = listing(list(layers)) if layers is not None and len(layers) else "none"
            raise InputError(
                f"Counts file '{path}' has no layer '{spec.layer}' (single_cell.layer); its "
                f"layers: {have}. Name the layer that holds the raw counts, or set "
                f"'layer: null' if they are in .X."
            )
        return _open_matrix(layers[spec.layer], spec, path)
    if "X" not in handle:
        raise InputError(
            f"Counts file '{path}' has no .X matrix. Name the layer with the raw counts "
            f"in 'single_cell: layer'."
        )
    return _open_matrix(handle["X"], spec, path)


def _open_matrix(element, spec: SingleCellSpec, path: Path):
    """A backed CSR/CSC matrix or a dense HDF5 dataset; anything else is refused."""
    import h5py

    if isinstance(element, h5py.Dataset):
        if element.ndim != 2 or element.dtype.kind not in "iuf":
            raise InputError(
                f"Counts file '{path}': {_where(spec)} is not a 2-D numeric matrix "
                f"(shape {element.shape}, type {element.dtype})."
            )
        return element
    kind = element.attrs.get("encoding-type", "")
    if isinstance(kind, bytes):
        kind = kind.decode()
    if kind not in ("csr_matrix", "csc_matrix"):
        raise InputError(
            f"Counts file '{path}': {_where(spec)} is stored as '{kind or 'unknown'}', "
            f"not as a dense array or a CSR/CSC sparse matrix. Convert it before writing "
            f"(`adata.X = scipy.sparse.csr_matrix(adata.X)`)."
        )
    from anndata.io import sparse_dataset

    return sparse_dataset(element)


def _shape(matrix) -> tuple[int, int]:
    return tuple(int(n) for n in matrix.shape)


def _sum_per_sample(matrix, labels: pd.Series, spec: SingleCellSpec, path: Path) -> np.ndarray:
    """samples x genes sums (int64), block by block with scanpy's aggregation."""
    n_cells, n_genes = _shape(matrix)
    samples = list(labels.cat.categories)
    sums = np.zeros((len(samples), n_genes), dtype=np.float64)
    by_columns = getattr(matrix, "format", None) == "csc"
    if by_columns:
        # CSC: column blocks are contiguous on disk; each holds every cell of its genes.
        for start in range(0, n_genes, BLOCK):
            stop = min(start + BLOCK, n_genes)
            block = matrix[:, start:stop]
            _check_counts_block(block, spec, path, cell_offset=0, gene_offset=start)
            sums[:, start:stop] += _aggregate(block, labels, samples)
    else:
        for start in range(0, n_cells, BLOCK):
            stop = min(start + BLOCK, n_cells)
            block = matrix[start:stop]
            _check_counts_block(block, spec, path, cell_offset=start, gene_offset=0)
            sums += _aggregate(block, labels.iloc[start:stop], samples)
    # Sums of whole numbers below 2**53 are exact in float64.
    return np.rint(sums).astype(np.int64)


def _aggregate(block, labels: pd.Series, samples: list[str]) -> np.ndarray:
    """scanpy's pseudobulk sum of one block, as a dense samples x genes array over
    all `samples` (a block may hold the cells of only some of them)."""
    import anndata as ad
    import scanpy as sc

    keep = labels.notna().to_numpy()
    if not keep.all():
        block, labels = block[keep], labels[keep]
    if block.shape[0] == 0:
        return 0.0
    cells = ad.AnnData(
        X=block.astype(np.float64, copy=False),
        obs=pd.DataFrame({"sample": labels.to_numpy()}, index=labels.index.astype(str)),
    )
    summed = sc.get.aggregate(cells, by="sample", func="sum")
    out = np.zeros((len(samples), block.shape[1]))
    rows = pd.Index(samples).get_indexer(summed.obs["sample"].astype(str))
    out[rows] = np.asarray(summed.layers["sum"])
    return out


def _check_counts_block(block, spec: SingleCellSpec, path: Path, cell_offset: int,
                        gene_offset: int) -> None:
    values = block.data if hasattr(block, "data") and not isinstance(block, np.ndarray) else block
    values = np.asarray(values)
    bad = ~np.isfinite(values) | (values < 0) | (values != np.floor(values))
    if not bad.any():
        return
    cell, gene, value = _first_bad(block, bad, cell_offset, gene_offset)
    if not np.isfinite(value) or value < 0:
        what = f"the value {value} (cell {cell}, gene {gene})"
        cause = "Counts cannot be negative or missing"
    else:
        what = f"the value {value:g} (cell {cell}, gene {gene}) is not a whole number"
        cause = "This looks like normalised or log-transformed data"
    raise InputError(
        f"Counts file '{path}': {_where(spec)} holds {what}. {cause}; the workflow sums "
        f"raw counts per sample. Raw counts usually live in a layer such as "
        f"layers['counts'] or in .raw.X: set 'single_cell: layer' to that layer (copy "
        f"adata.raw.X into a layer first if that is where they are)."
    )


def _first_bad(block, bad: np.ndarray, cell_offset: int, gene_offset: int):
    """The first offending (cell, gene, value), 0-based positions in the whole file."""
    if isinstance(block, np.ndarray):
        row, col = np.argwhere(bad)[0]
        return row + cell_offset, col + gene_offset, block[row, col]
    coo = block.tocoo()
    first = int(np.flatnonzero(bad)[0])
    # .tocoo() keeps the stored order for canonical CSR/CSC, so position `first` of
    # .data is position `first` of the coo arrays.
    return (int(coo.row[first]) + cell_offset, int(coo.col[first]) + gene_offset,
            coo.data[first])


def _symbols(var: pd.DataFrame, gene_ids: pd.Index) -> pd.Series | None:
    for column in SYMBOL_COLUMNS:
        if column in var.columns:
            symbols = var[column].astype(str).to_numpy()
            return pd.Series(symbols, index=gene_ids, name="symbol")
    return None
