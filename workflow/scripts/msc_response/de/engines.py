"""Choosing PyDESeq2's inference engine and dataset class from the config."""

from __future__ import annotations

INFERENCE_ENGINES = ("fast", "default")
DISPERSION_PRIORS = ("r", "pydeseq2")


def make_inference(name: str, n_cpus: int = 1):
    """'fast': this project's gene-vectorised engine; 'default': PyDESeq2's own."""
    if name == "fast":
        from msc_response.de.engine import FastInference

        return FastInference(n_cpus=n_cpus)
    if name == "default":
        from msc_response.common.deferred import deferred_imports

        with deferred_imports():
            from pydeseq2.default_inference import DefaultInference

        return DefaultInference(n_cpus=n_cpus)
    raise ValueError(f"unknown inference engine {name!r}; choose one of {INFERENCE_ENGINES}")


def dataset_class(dispersion_prior: str):
    """'r': R DESeq2's dispersion prior variance for small residual df; 'pydeseq2': as is."""
    if dispersion_prior == "r":
        from msc_response.de.r_compat import DeseqDataSetR

        return DeseqDataSetR
    if dispersion_prior == "pydeseq2":
        from msc_response.common.deferred import deferred_imports

        with deferred_imports():
            from pydeseq2.dds import DeseqDataSet

        return DeseqDataSet
    raise ValueError(
        f"unknown dispersion prior {dispersion_prior!r}; choose one of {DISPERSION_PRIORS}"
    )
