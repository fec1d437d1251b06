"""Opening a cells file (.h5ad) as AnnData, shared by the aggregation and by the
population scan that the Snakefile runs as it parses. Only h5py here, on purpose: the
Snakefile's environment must not need scanpy to read two obs columns.
"""

from __future__ import annotations

from pathlib import Path

from msc_response.common.errors import InputError


def open_h5ad(path: Path):
    """The cells file opened read-only with h5py (a context manager), checked to be
    AnnData; an `InputError` that says what to do when it is not."""
    import h5py

    try:
        handle = h5py.File(path, "r")
    except OSError as err:
        raise InputError(
            f"Counts file '{path}' could not be opened as an .h5ad (AnnData) file: {err}. "
            f"Write it with anndata (`adata.write_h5ad(...)`), or give a count table."
        ) from None
    try:
        _check_anndata(handle, path)
    except InputError:
        handle.close()
        raise
    return handle


def _check_anndata(handle, path: Path) -> None:
    kind = handle.attrs.get("encoding-type", "")
    if isinstance(kind, bytes):
        kind = kind.decode()
    if kind != "anndata" or "obs" not in handle or "var" not in handle:
        raise InputError(
            f"Counts file '{path}' is an HDF5 file but not an AnnData (.h5ad) file "
            f"(no anndata encoding, obs and var at its root). Save the cells with "
            f"anndata (`adata.write_h5ad('cells.h5ad')`), or give a count table."
        )
