"""The fitted design on disk: results/de/fit.h5ad, written by rule deseq2_fit and read
by every deseq2_contrast job.

The file is AnnData's .h5ad (HDF5; `anndata.read_h5ad` and scanpy open it), samples x
genes over all input genes, and holds data only: no pickle, no Python objects, so
opening it runs no code and it does not depend on this library's class layout.

- `X`: the raw counts (the input's integer dtype; gzip level 1 with HDF5's byte
  shuffle, as `inputs.dataset.write_h5ad`);
- `obs` (index: sample): `size_factors`;
- with tximport's offsets only: `layers['norm_factors']`, the normalisation factors
  (samples x genes, float), which take the size factors' place in the model;
- `var` (index: gene_id): `symbol`, `kept` (passed the pre-filter), `baseMean` (mean
  normalised count, all genes); for kept genes the fit's `fitted_baseMean`,
  `dispersions`, `non_zero`, `cooks_outlier`, `all_zero_after_refit` (NaN or False
  for the others);
- `varm['LFC']`: genes x coefficients, natural log, NaN rows for genes not kept;
  coefficient names in `uns['LFC_columns']`;
- `obsm['design_matrix']`: samples x coefficients; column names in
  `uns['design_matrix_columns']`;
- `uns['releveled']`: the design matrix with each reference level of each contrast
  variable: `keys` (table: variable, reference), `matrices` (keys x samples x
  coefficients), `columns` (keys x coefficients);
- `uns['contrasts']`: `keys` (table: variable, test, reference), `vectors` (keys x
  coefficients);
- with LRT contrasts only: `var['loglik_full']`, `varm['reduced_loglik']` (genes x
  reduced designs) and `uns['reduced_designs']` (`formulas`, `df`): the per-gene
  log-likelihoods of the full and reduced designs (de.lrt);
- `uns`: `format` (FIT_FORMAT), `design`, `min_count`, `min_samples`,
  `fitted_counts_dtype` (the dtype of the counts the model was fitted on), and a
  `description`; `prior_disp_var` (the variance of the log dispersions about their
  trend, DESeq2's dispersion prior; the power stage draws dispersions with it),
  absent from files of earlier versions (read as NaN).

`save_fit` writes it with anndata (the fit job has it loaded anyway); `load_fit` reads
it with h5py alone, without anndata or PyDESeq2, whose imports cost more than a
contrast's work on small data, and restores every array exactly (dtypes, orders,
memory layout), so the DE tables do not depend on the round trip.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from msc_response.common.errors import InputError
from msc_response.de.fit import DesignFit, FittedModel
from msc_response.de.offsets import NF_LAYER

FIT_FORMAT = 3  # bump when the file's layout changes (2 was a pickle, fit.pkl)

GENE_COLUMNS = ["symbol", "kept", "baseMean"]  # DesignFit.genes
DESCRIPTION = (
    "Fitted DESeq2 design of the msc-response workflow (rule deseq2_fit; R's DESeq()), "
    "read by rule deseq2_contrast (R's results()). X: raw counts (samples x genes); "
    "obs: size_factors; var: symbol, kept (passed the pre-filter), baseMean, and for "
    "kept genes fitted_baseMean, dispersions, non_zero, cooks_outlier, "
    "all_zero_after_refit; varm['LFC']: log fold changes (natural log) per "
    "coefficient (uns['LFC_columns']); obsm['design_matrix'] (columns in "
    "uns['design_matrix_columns']); uns['releveled'] and uns['contrasts']: the "
    "design matrix per reference level and the contrast vectors, with key tables."
)
RERUN = "delete it or rerun rule deseq2_fit: `snakemake --forcerun deseq2_fit`"
READ_BLOCK_BYTES = 64 << 20  # counts are read this many bytes of samples at a time


# ----------------------------------------------------------------------------- writing
def save_fit(fit: DesignFit, path, counts: pd.DataFrame) -> None:
    """Write the fitted design to `path` (.h5ad, atomically) for the contrast jobs.

    counts: the raw counts the fit started from, samples x all input genes (the
    rows and columns of `fit.model.size_factors` and `fit.genes`).
    """
    import anndata as ad

    from msc_response.inputs.carrier import write_h5ad

    _check_writable(fit, counts)
    model, genes = fit.model, fit.genes
    kept = genes["kept"].to_numpy(dtype=bool)

    var = pd.DataFrame(
        {
            "symbol": genes["symbol"].to_numpy(),
            "kept": kept,
            "baseMean": genes["baseMean"].to_numpy(),
            "fitted_baseMean": _spread(model.base_mean.to_numpy(), kept, np.nan),
            "dispersions": _spread(model.dispersions, kept, np.nan),
            "non_zero": _spread(model.non_zero, kept, False),
            "cooks_outlier": _spread(model.cooks_outlier, kept, False),
            "all_zero_after_refit": _spread(model.all_zero_after_refit, kept, False),
        },
        index=genes.index,
    )
    obs = pd.DataFrame(
        {"size_factors": model.size_factors.to_numpy()}, index=model.size_factors.index
    )
    releveled = list(model.releveled.items())
    contrasts = list(model.contrast_vectors.items())
    n_samples, n_coefficients = model.design_matrix.shape
    uns = {
        "format": FIT_FORMAT,
        "description": DESCRIPTION,
        "design": model.design,
        "min_count": int(fit.min_count),
        "min_samples": int(fit.min_samples),
        "fitted_counts_dtype": model.counts.dtype.str,
        "prior_disp_var": float(model.prior_disp_var),
        "LFC_columns": _strings(model.lfc.columns),
        "design_matrix_columns": _strings(model.design_matrix.columns),
        "releveled": {
            "keys": pd.DataFrame(
                [list(key) for key, _ in releveled], columns=["variable", "reference"]
            ).astype(object),
            "matrices": _stack(
                [m.to_numpy() for _, m in releveled], (n_samples, n_coefficients), float
            ),
            "columns": _stack(
                [_strings(m.columns) for _, m in releveled], (n_coefficients,), object
            ),
        },
        "contrasts": {
            "keys": pd.DataFrame(
                [list(key) for key, _ in contrasts],
                columns=["variable", "test", "reference"],
            ).astype(object),
            "vectors": _stack([v for _, v in contrasts], (n_coefficients,), float),
        },
    }
    varm = {"LFC": _spread(model.lfc.to_numpy(), kept, np.nan)}
    if model.reduced_loglik:  # only with LRT contrasts: other fit files are unchanged
        formulas = list(model.reduced_loglik)
        var["loglik_full"] = _spread(model.full_loglik, kept, np.nan)
        varm["reduced_loglik"] = _spread(
            np.column_stack([model.reduced_loglik[f] for f in formulas]), kept, np.nan
        )
        uns["reduced_designs"] = {
            "formulas": formulas,
            "df": np.array([model.reduced_df[f] for f in formulas], dtype=np.int64),
        }
    adata = ad.AnnData(
        X=counts.to_numpy(),
        obs=obs,
        var=var,
        uns=uns,
        obsm={"design_matrix": model.design_matrix.to_numpy()},
        varm=varm,
    )
    if fit.norm_factors is not None:  # only with tximport's offsets
        adata.layers[NF_LAYER] = np.asarray(fit.norm_factors, dtype=float)
    write_h5ad(adata, str(path))


def _spread(values: np.ndarray, kept: np.ndarray, fill) -> np.ndarray:
    """Per kept gene -> per input gene, `fill` for the others (rows for 2-D)."""
    values = np.asarray(values)
    out = np.full((len(kept),) + values.shape[1:], fill, dtype=values.dtype)
    out[kept] = values
    return out


def _stack(items: list, shape: tuple, dtype) -> np.ndarray:
    """items (each of `shape`) as one array, also when there are none."""
    out = np.empty((len(items),) + shape, dtype=dtype)
    for i, item in enumerate(items):
        out[i] = item
    return out


def _strings(index) -> list[str]:
    names = list(index)
    if not all(isinstance(name, str) for name in names):
        raise TypeError(f"names must be strings to be saved: {names}")
    return names


def _check_writable(fit: DesignFit, counts: pd.DataFrame) -> None:
    """What the file can restore exactly: one sample index and one gene index (with
    their names), string keys, the model's counts the kept columns of `counts`."""
    model, genes = fit.model, fit.genes
    if list(genes.columns) != GENE_COLUMNS:
        raise ValueError(f"genes table columns {list(genes.columns)}, expected {GENE_COLUMNS}")
    kept = genes["kept"].to_numpy(dtype=bool)
    samples, kept_genes = model.size_factors.index, genes.index[kept]
    if not (counts.index.equals(samples) and counts.columns.equals(genes.index)):
        raise ValueError("the counts' samples or genes differ from the fit's")
    for what, index, expected in [
        ("design matrix's samples", model.design_matrix.index, samples),
        ("LFCs' genes", model.lfc.index, kept_genes),
        ("base means' genes", model.base_mean.index, kept_genes),
    ] + [(f"releveled {key}'s samples", m.index, samples) for key, m in model.releveled.items()]:
        if not (index.equals(expected) and index.name == expected.name):
            raise ValueError(
                f"the {what} (name {index.name!r}) differ from the fit's (name {expected.name!r})"
            )
    if model.base_mean.name is not None or model.size_factors.name is not None:
        raise ValueError("the fit's base means and size factors are unnamed Series")
    for key in list(model.releveled) + list(model.contrast_vectors):
        _strings(key)
    fitted = counts.to_numpy()[:, kept]
    if fitted.shape != model.counts.shape or not (fitted == model.counts).all():
        raise ValueError("the model's counts are not the kept genes' counts")


# ----------------------------------------------------------------------------- reading
def load_fit(path) -> DesignFit:
    """The fitted design written by `save_fit`.

    Raises `InputError` (what was found, what is expected, how to refit) for a file
    that is not HDF5, is truncated, or has another format version.
    """
    path = Path(path)
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        if _is_pickle(path):
            raise InputError(
                f"Fit file '{path}' is a pickle (the fit.pkl of older versions of the "
                f"workflow), which is not read: loading a pickle runs code. Expected the "
                f".h5ad written by rule deseq2_fit (format {FIT_FORMAT}). Fix: {RERUN}."
            ) from None
        raise InputError(
            f"Fit file '{path}' is not a readable HDF5 (.h5ad) file ({error}); expected "
            f"the fitted design written by rule deseq2_fit (format {FIT_FORMAT}). "
            f"Fix: {RERUN}."
        ) from None
    with handle:
        found = _format_of(handle)
        if found != FIT_FORMAT:
            raise InputError(
                f"Fit file '{path}' has {found}; expected format {FIT_FORMAT} (written by "
                f"rule deseq2_fit of this version of the workflow). Fix: {RERUN}."
            )
        try:
            return _read_fit(handle)
        except (OSError, KeyError, ValueError, TypeError) as error:
            raise InputError(
                f"Fit file '{path}' (format {FIT_FORMAT}) cannot be read: {error} (a "
                f"truncated or damaged file?). Fix: {RERUN}."
            ) from None


def _is_pickle(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            start = handle.read(2)
    except OSError:
        return False
    return len(start) == 2 and start[0] == 0x80 and 2 <= start[1] <= 5  # protocols 2-5


def _format_of(handle: h5py.File):
    """FIT_FORMAT if the file says so, else a description of what it says."""
    try:
        node = handle.get("uns/format")
        if not isinstance(node, h5py.Dataset):
            return "no uns/format entry (not a fit file of format 3 or later)"
        value = node[()]
    except (OSError, KeyError, ValueError) as error:
        return f"an unreadable uns/format entry ({error})"
    if isinstance(value, np.integer) and int(value) == FIT_FORMAT:
        return FIT_FORMAT
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    return f"format {value!r}"


def _read_fit(handle: h5py.File) -> DesignFit:
    uns = handle["uns"]
    obs = _read_frame(handle["obs"])
    var = _read_frame(handle["var"])
    kept = var["kept"].to_numpy()
    if kept.dtype != bool:
        raise TypeError(f"var/kept has dtype {kept.dtype}, expected bool")
    samples, genes_index = obs.index, var.index
    kept_genes = genes_index[kept]

    lfc_columns = _read_strings(uns["LFC_columns"])
    design_columns = _read_strings(uns["design_matrix_columns"])
    design_matrix = _frame(handle["obsm/design_matrix"][()], samples, design_columns)
    lfc = _frame(handle["varm/LFC"][()][kept], kept_genes, lfc_columns)

    releveled = {}
    keys = _read_frame(uns["releveled/keys"])
    matrices = uns["releveled/matrices"][()]
    columns = _read_strings(uns["releveled/columns"])
    for i, key in enumerate(zip(keys["variable"], keys["reference"])):
        releveled[key] = _frame(matrices[i], samples, list(columns[i]))
    vectors = {}
    keys = _read_frame(uns["contrasts/keys"])
    rows = uns["contrasts/vectors"][()]
    for i, key in enumerate(zip(keys["variable"], keys["test"], keys["reference"])):
        vectors[key] = rows[i].copy()

    model = FittedModel(
        design=_read_string(uns["design"]),
        design_matrix=design_matrix,
        lfc=lfc,
        dispersions=var["dispersions"].to_numpy()[kept],
        size_factors=pd.Series(obs["size_factors"].to_numpy(), index=samples),
        base_mean=pd.Series(var["fitted_baseMean"].to_numpy()[kept], index=kept_genes),
        counts=_read_columns(
            handle["X"], kept, np.dtype(_read_string(uns["fitted_counts_dtype"]))
        ),
        non_zero=var["non_zero"].to_numpy()[kept],
        cooks_outlier=var["cooks_outlier"].to_numpy()[kept],
        all_zero_after_refit=var["all_zero_after_refit"].to_numpy()[kept],
        contrast_vectors=vectors,
        releveled=releveled,
        prior_disp_var=(
            float(uns["prior_disp_var"][()]) if "prior_disp_var" in uns else float("nan")
        ),
    )
    if "reduced_designs" in uns:
        formulas = list(_read_strings(uns["reduced_designs/formulas"]))
        dfs = uns["reduced_designs/df"][()]
        logliks = handle["varm/reduced_loglik"][()][kept]
        model.full_loglik = var["loglik_full"].to_numpy()[kept]
        model.reduced_loglik = {f: logliks[:, i].copy() for i, f in enumerate(formulas)}
        model.reduced_df = {f: int(dfs[i]) for i, f in enumerate(formulas)}
    genes = pd.DataFrame({column: var[column].to_numpy() for column in GENE_COLUMNS},
                         index=genes_index)
    norm_factors = None
    if f"layers/{NF_LAYER}" in handle:
        norm_factors = handle[f"layers/{NF_LAYER}"][()]
        model.norm_factors = np.ascontiguousarray(norm_factors[:, kept])
    return DesignFit(
        model, genes, int(uns["min_count"][()]), int(uns["min_samples"][()]),
        norm_factors=norm_factors,
    )


def _frame(values: np.ndarray, index: pd.Index, columns: list[str]) -> pd.DataFrame:
    """A float matrix as `fit.py` builds it: one block, Fortran-ordered values (what
    `np.asarray` of a DataFrame gives), so arithmetic on it matches the original."""
    return pd.DataFrame(np.asfortranarray(values, dtype=float), index=index, columns=columns)


def _read_columns(dataset: h5py.Dataset, columns: np.ndarray, dtype) -> np.ndarray:
    """dataset[:, columns] as `dtype`, Fortran-ordered (as PyDESeq2's counts), read a
    block of rows at a time so the other columns are never all in memory."""
    n_rows, n_columns = dataset.shape
    out = np.empty((n_rows, int(columns.sum())), dtype=dtype, order="F")
    step = max(1, READ_BLOCK_BYTES // max(1, n_columns * dataset.dtype.itemsize))
    if dataset.chunks:
        step = max(dataset.chunks[0], step // dataset.chunks[0] * dataset.chunks[0])
    for start in range(0, n_rows, step):
        stop = min(n_rows, start + step)
        out[start:stop] = dataset[start:stop][:, columns]
    return out


def _encoding(node) -> str:
    value = node.attrs.get("encoding-type", "")
    return value.decode() if isinstance(value, bytes) else str(value)


def _read_string(dataset: h5py.Dataset) -> str:
    return dataset.asstr()[()]


def _read_strings(dataset: h5py.Dataset) -> np.ndarray:
    if _encoding(dataset) != "string-array":
        raise TypeError(f"{dataset.name} is not a string array")
    return dataset.asstr()[()]


def _read_array(dataset: h5py.Dataset) -> np.ndarray:
    encoding = _encoding(dataset)
    if encoding == "string-array":
        return dataset.asstr()[()]
    if encoding == "array":
        return dataset[()]
    raise TypeError(f"{dataset.name}: encoding {encoding!r} is not written by save_fit")


def _read_frame(group: h5py.Group) -> pd.DataFrame:
    """An AnnData data frame (encoding 'dataframe') of plain and string columns."""
    if _encoding(group) != "dataframe":
        raise TypeError(f"{group.name} is not a data frame")
    index_key = group.attrs["_index"]
    index = pd.Index(
        _read_array(group[index_key]), name=None if index_key == "_index" else index_key
    )
    columns = [str(c) for c in group.attrs["column-order"]]
    return pd.DataFrame({c: _read_array(group[c]) for c in columns}, index=index)
