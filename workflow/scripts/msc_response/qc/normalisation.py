"""DESeq2 size factors, normalised counts and the variance-stabilising transformation."""

from __future__ import annotations

import logging

import anndata as ad
import numpy as np
import pandas as pd

from msc_response.de.offsets import LENGTH_LAYER, NF_LAYER
from msc_response.inputs.carrier import counts_frame

log = logging.getLogger(__name__)

#: Genes the VST's dispersion trend is fitted on (R's `vst(nsub = 1000)`).
VST_GENES = 1000


def normalise(
    adata: ad.AnnData,
    *,
    size_factors_fit_type: str = "ratio",
    blind: bool = True,
    fit_type: str = "parametric",
    inference=None,
    dataset_cls=None,
    n_sub: int = VST_GENES,
) -> ad.AnnData:
    """Return a copy with `obs['size_factor']`, `layers['normalised']` and the VST in
    both `layers['vst']` and `X` (what scanpy plots by default).

    The VST is R DESeq2's `vst()`: size factors from all genes; gene-wise
    dispersions and their trend from `n_sub` genes with mean normalised count above 5,
    evenly spaced in the order of their means; the transformation that trend implies
    applied to every gene. With fewer such genes, all genes fit the trend (R's
    `varianceStabilizingTransformation`). `blind=True` fits the dispersions with an
    intercept-only design, as R's `vst(blind=TRUE)` does for quality control: the
    transformation does not know the groups. `dataset_cls` is PyDESeq2's
    `DeseqDataSet` or a subclass (such as `r_compat.DeseqDataSetR`, whose trend fit
    is R's and vectorised). With tximport's average transcript lengths in
    `layers['avg_tx_length']` (counts_from_abundance "no") the normalisation
    factors are R's (`estimateNormFactors`, layer `norm_factors`), the normalised
    counts counts / nf and the VST R's on them, as `vst()` of a
    DESeqDataSetFromTximport data set; `obs['size_factor']` then holds the size
    factors of counts / normMatrix.
    """
    from msc_response.common.deferred import deferred_imports

    with deferred_imports():  # PyDESeq2's plotting and sklearn imports: unused here
        from pydeseq2.dds import DeseqDataSet

    dataset_cls = dataset_cls or DeseqDataSet
    counts = counts_frame(adata)
    variables = [c for c in adata.obs.columns if c != "sample"]
    metadata = adata.obs[variables] if variables else pd.DataFrame(index=counts.index)
    design = "~1" if blind else adata.uns["design"]
    expressed = (counts.to_numpy() > 0).any(axis=0)
    options = dict(
        design=design,
        size_factors_fit_type=size_factors_fit_type,
        fit_type=fit_type,
        inference=inference,
        quiet=True,
    )
    # PyDESeq2 leaves all-zero genes out of the size factors and the dispersion fits;
    # their VST is the transformation's value at zero.
    dds = dataset_cls(counts=counts, metadata=metadata, **options)
    if LENGTH_LAYER in adata.layers:  # tximport's offsets: R's normalisation factors
        dds.layers[LENGTH_LAYER] = np.asarray(adata.layers[LENGTH_LAYER], dtype=float)
    dds.fit_size_factors(fit_type=size_factors_fit_type)
    size_factors = np.asarray(dds.obs["size_factors"], dtype=float)
    normalised = np.asarray(dds.layers["normed_counts"], dtype=float)
    norm_factors = dds.layers[NF_LAYER] if NF_LAYER in dds.layers else None

    trend = _trend_genes(normalised.mean(axis=0), n_sub)
    sub = dds
    if trend is not None:
        sub = dataset_cls(counts=counts.iloc[:, trend], metadata=metadata, **options)
        sub.obs["size_factors"] = size_factors  # R: the subset keeps all genes' factors
        sub.layers["normed_counts"] = normalised[:, trend]
        if norm_factors is not None:  # R: the subset keeps its genes' factors
            sub.layers[NF_LAYER] = norm_factors[:, trend]
        sub.var["_normed_means"] = normalised[:, trend].mean(axis=0)
    sub.fit_genewise_dispersions()
    sub.fit_dispersion_trend()  # parametric, or the mean trend it falls back to
    dds.vst_fit_type = sub.uns["disp_function_type"]
    if dds.vst_fit_type == "parametric":
        dds.uns["vst_trend_coeffs"] = sub.uns["trend_coeffs"]
    else:
        dispersions = np.full(counts.shape[1], np.nan)
        dispersions[trend if trend is not None else slice(None)] = sub.var[
            "genewise_dispersions"
        ].to_numpy()
        dds.var["vst_genewise_dispersions"] = dispersions
    vst = np.asarray(dds.vst_transform(), dtype=float)

    out = adata.copy()
    out.obs["size_factor"] = size_factors
    out.layers["normalised"] = normalised
    out.layers["vst"] = vst
    if norm_factors is not None:
        out.layers[NF_LAYER] = np.asarray(norm_factors, dtype=float)
    out.X = vst.copy()
    out.var["expressed"] = expressed
    out.uns["normalisation"] = {
        "size_factors_fit_type": size_factors_fit_type,
        "vst_blind": bool(blind),
        "vst_fit_type": dds.vst_fit_type,
        "vst_trend_genes": int(len(trend) if trend is not None else expressed.sum()),
    }
    if norm_factors is not None:
        out.uns["normalisation"]["offsets"] = "tximport average transcript lengths"
    log.info(
        "size factors %.3f-%.3f; %d of %d genes expressed; VST trend (%s) from %d genes",
        size_factors.min(),
        size_factors.max(),
        expressed.sum(),
        len(expressed),
        dds.vst_fit_type,
        out.uns["normalisation"]["vst_trend_genes"],
    )
    return out


def _trend_genes(base_mean: np.ndarray, n_sub: int) -> np.ndarray | None:
    """R `vst()`'s subset: `n_sub` genes with mean normalised count > 5, evenly spaced
    in the order of their means; None when there are not that many."""
    candidates = np.flatnonzero(base_mean > 5)
    if len(candidates) < n_sub:
        return None
    order = candidates[np.argsort(base_mean[candidates], kind="stable")]
    # R: o[round(seq(1, length(o), length = nsub))], 1-based, rounding half to even
    picks = np.round(np.linspace(1, len(order), n_sub)).astype(int) - 1
    return np.sort(order[picks])
