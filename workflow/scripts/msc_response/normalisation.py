"""DESeq2 size factors, normalised counts and the variance-stabilising transformation."""

from __future__ import annotations

import logging

import anndata as ad
import numpy as np
import pandas as pd

from .dataset import counts_frame

log = logging.getLogger(__name__)


def normalise(
    adata: ad.AnnData,
    *,
    size_factors_fit_type: str = "ratio",
    blind: bool = True,
    fit_type: str = "parametric",
    inference=None,
    dataset_cls=None,
) -> ad.AnnData:
    """Return a copy with `obs['size_factor']`, `layers['normalised']` and the VST in
    both `layers['vst']` and `X` (what scanpy plots by default).

    `blind=True` fits the VST with an intercept-only design, as R's `vst(blind=TRUE)`
    does for quality control: the transformation does not know the groups.
    `dataset_cls` is PyDESeq2's `DeseqDataSet` or a subclass (such as
    `r_compat.DeseqDataSetR`, whose trend fit is R's and vectorised).
    """
    from pydeseq2.dds import DeseqDataSet

    dataset_cls = dataset_cls or DeseqDataSet
    counts = counts_frame(adata)
    design_variables = [c for c in adata.obs.columns if c != "sample"]
    metadata = adata.obs[design_variables] if design_variables else None
    expressed = (counts.to_numpy() > 0).any(axis=0)
    # PyDESeq2 leaves all-zero genes out of the size factors and the dispersion fits;
    # their VST is the transformation's value at zero.
    dds = dataset_cls(
        counts=counts,
        metadata=metadata if metadata is not None else pd.DataFrame(index=counts.index),
        design=adata.uns["design"] if not blind else "~1",
        size_factors_fit_type=size_factors_fit_type,
        fit_type=fit_type,
        inference=inference,
        quiet=True,
    )
    dds.fit_size_factors(fit_type=size_factors_fit_type)
    dds.vst(use_design=not blind)
    size_factors = np.asarray(dds.obs["size_factors"], dtype=float)

    out = adata.copy()
    raw = np.asarray(adata.layers["counts"], dtype=float)
    out.obs["size_factor"] = size_factors
    out.layers["normalised"] = raw / size_factors[:, None]
    vst = np.asarray(dds.layers["vst_counts"], dtype=float)
    out.layers["vst"] = vst
    out.X = vst.copy()
    out.var["expressed"] = expressed
    out.uns["normalisation"] = {
        "size_factors_fit_type": size_factors_fit_type,
        "vst_blind": bool(blind),
        "vst_fit_type": fit_type,
    }
    log.info(
        "size factors %.3f-%.3f; %d of %d genes expressed",
        size_factors.min(),
        size_factors.max(),
        expressed.sum(),
        len(expressed),
    )
    return out
