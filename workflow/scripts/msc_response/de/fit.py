"""Differential expression with PyDESeq2: one fit per design (rule deseq2_fit).

As R DESeq2 runs `DESeq()` once and `results()` per contrast: `fit_design` fits
size factors, dispersions, LFCs and Cook's distances with PyDESeq2 (nothing there
depends on a contrast) and `fitted_model` keeps what the tests need as plain arrays;
`fit_for_contrasts` pre-filters and fits once for all contrasts of the design, and
`de.fit_file.save_fit`/`load_fit` carry the fit to the contrast jobs (as
results/de/fit.h5ad). The tests themselves are
in `de.results`; `de.results.fit_and_test` chains fit and test and is the one DE
path: the workflow, the R agreement tests and benchmarks/bench_deseq2.py use it or
its two halves.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from msc_response.de import offsets
from msc_response.de.engines import dataset_class, make_inference
from msc_response.design.formula import design_variables

log = logging.getLogger(__name__)


@dataclass
class DESettings:
    """Statistical settings; the defaults follow R DESeq2's."""

    alpha: float = 0.05
    lfc_threshold: float = 0.0
    min_count: int = 10
    min_samples: int | None = None  # None: the smallest group among all contrasts' levels
    cooks_refit: bool = True
    cooks_filter: bool = True
    independent_filtering: bool = True
    independent_filtering_rule: str = "r"  # 'r' (R results()'s rule) or 'pydeseq2'
    lfc_shrinkage: bool = True
    inference: str = "fast"
    dispersion_prior: str = "r"
    fit_type: str = "parametric"
    size_factors_fit_type: str = "ratio"
    n_cpus: int = 1

    @classmethod
    def from_config(cls, section: dict, n_cpus: int = 1) -> "DESettings":
        cooks = section.get("cooks", {})
        return cls(
            alpha=section.get("alpha", cls.alpha),
            lfc_threshold=section.get("lfc_threshold", cls.lfc_threshold),
            min_count=section.get("prefilter", {}).get("min_count", cls.min_count),
            min_samples=section.get("prefilter", {}).get("min_samples"),
            cooks_refit=cooks.get("refit", cls.cooks_refit),
            cooks_filter=cooks.get("filter", cls.cooks_filter),
            independent_filtering=section.get(
                "independent_filtering", cls.independent_filtering
            ),
            independent_filtering_rule=section.get(
                "independent_filtering_rule", cls.independent_filtering_rule
            ),
            lfc_shrinkage=section.get("lfc_shrinkage", cls.lfc_shrinkage),
            inference=section.get("inference", cls.inference),
            dispersion_prior=section.get("dispersion_prior", cls.dispersion_prior),
            fit_type=section.get("fit_type", cls.fit_type),
            size_factors_fit_type=section.get(
                "size_factors_fit_type", cls.size_factors_fit_type
            ),
            n_cpus=n_cpus,
        )


def prefilter_mask(
    counts: pd.DataFrame, min_count: int, min_samples: int
) -> np.ndarray:
    """Genes with at least `min_count` reads in at least `min_samples` samples
    (the DESeq2 vignette's pre-filter). counts: samples x genes."""
    return ((counts.to_numpy() >= min_count).sum(axis=0) >= min_samples)


def with_reference_levels(sheet: pd.DataFrame, references: dict[str, str]) -> pd.DataFrame:
    """The sheet with each variable's given reference level as its first category."""
    sheet = sheet.copy()
    for variable, reference in references.items():
        column = sheet[variable].astype("category")
        levels = [reference] + [c for c in column.cat.categories if c != reference]
        sheet[variable] = column.cat.reorder_categories(levels)
    return sheet


# --------------------------------------------------------------------------- the fit
def fit_design(
    counts: pd.DataFrame,
    metadata: pd.DataFrame,
    design: str,
    settings: DESettings,
    lengths: np.ndarray | None = None,
):
    """PyDESeq2 fit of `design` (R's `DESeq()`): size factors, dispersions, LFCs,
    Cook's distances, refits of outlier genes and the Cook's outlier mask. Nothing
    here depends on a contrast.

    counts: samples x genes, already pre-filtered; metadata: the design variables,
    each factor's first category being its reference level. Returns the fitted
    `DeseqDataSet` (of the class `settings.dispersion_prior` selects). `lengths`:
    tximport's average transcript lengths (samples x genes, as counts), made into
    normalisation factors as R's DESeqDataSetFromTximport + DESeq() does.
    """
    inference = make_inference(settings.inference, settings.n_cpus)
    dds = dataset_class(settings.dispersion_prior)(
        counts=counts,
        metadata=metadata,
        design=design,
        refit_cooks=settings.cooks_refit,
        fit_type=settings.fit_type,
        size_factors_fit_type=settings.size_factors_fit_type,
        inference=inference,
        n_cpus=settings.n_cpus,
        quiet=True,
    )
    if lengths is not None:
        dds.layers[offsets.LENGTH_LAYER] = np.asarray(lengths, dtype=float)
    dds.deseq2()  # ends with the Cook's outlier mask, stored in dds.var
    return dds


@dataclass
class FittedModel:
    """What R's `results()` and `lfcShrink()` need from a fitted design, as plain
    arrays: a contrast job reads it without PyDESeq2's dataset class or AnnData
    (whose imports cost more than a contrast's tests on small data).

    Genes are the fitted (pre-filtered) ones; LFCs in natural log, NaN for genes
    with all counts zero. `contrast_vectors` holds, for every ordered pair of levels
    of the contrast variables, PyDESeq2's (formulaic's) contrast vector;
    `releveled[(variable, level)]` the design matrix with that reference level.
    """

    design: str
    design_matrix: pd.DataFrame  # samples x coefficients
    lfc: pd.DataFrame  # genes x coefficients
    dispersions: np.ndarray
    size_factors: pd.Series
    base_mean: pd.Series
    counts: np.ndarray  # samples x genes, as read (shrinkage uses them, as PyDESeq2)
    non_zero: np.ndarray  # genes with a count
    cooks_outlier: np.ndarray  # p-values set to NA by the Cook's filter
    all_zero_after_refit: np.ndarray  # SE, stat 0 and p-value 1, as PyDESeq2
    contrast_vectors: dict
    releveled: dict
    # the variance of the true log dispersions about the trend (DESeq2's prior);
    # NaN for fits that do not carry it (the power stage's simulation needs it)
    prior_disp_var: float = float("nan")
    # LRT (de.lrt): per-gene log-likelihoods of the full design and of each reduced
    # formula (fitted with the full design's dispersions), and each one's df
    full_loglik: np.ndarray | None = None
    reduced_loglik: dict = field(default_factory=dict)
    reduced_df: dict = field(default_factory=dict)
    # tximport's offsets: normalisation factors, samples x genes (None: size factors)
    norm_factors: np.ndarray | None = None

    def scale(self) -> np.ndarray:
        """What multiplies exp(X beta) in each mean: samples x genes (nf) or x 1."""
        return offsets.scale(self.size_factors.to_numpy(), self.norm_factors)


def fitted_model(dds, variables) -> FittedModel:
    """The `FittedModel` of a fitted `DeseqDataSet`, with contrast vectors and
    releveled design matrices for the design `variables` that contrasts compare."""
    from formulaic import model_matrix

    genes = dds.var_names
    all_zero_after_refit = np.zeros(len(genes), dtype=bool)
    if dds.refit_cooks and dds.var["replaced"].sum() > 0:
        all_zero_after_refit = genes.isin(dds.new_all_zeroes_genes)
    obs = dds.obs[design_variables(dds.design)]
    design_matrix = _plain(dds.obsm["design_matrix"])
    vectors, releveled = {}, {}
    for variable in variables:
        levels = list(obs[variable].astype("category").cat.categories)
        for reference in levels:
            matrix = _plain(
                model_matrix(dds.design, with_reference_levels(obs, {variable: reference}))
            )
            # formulaic (a pinned dependency) builds the releveled matrices; with the
            # fitted reference it must give PyDESeq2's matrix, or the LFCs would not match
            if reference == levels[0] and not matrix.equals(design_matrix):
                raise ValueError(
                    f"design {dds.design!r}: formulaic's model matrix differs from the "
                    "one PyDESeq2 fitted; check the formulaic version against requirements.txt"
                )
            releveled[(variable, reference)] = matrix
            for test in levels:
                if test != reference:
                    vectors[(variable, test, reference)] = np.asarray(
                        dds.contrast(variable, reference, test), dtype=float
                    )
    return FittedModel(
        design=dds.design,
        design_matrix=design_matrix,
        lfc=dds.varm["LFC"].astype(float),
        dispersions=dds.var["dispersions"].to_numpy(dtype=float),
        size_factors=pd.Series(
            np.asarray(dds.obs["size_factors"], dtype=float), index=dds.obs_names
        ),
        base_mean=dds.var["_normed_means"].astype(float).rename(None),  # as size_factors
        counts=np.asarray(dds.X),
        non_zero=dds.var["non_zero"].to_numpy(dtype=bool),
        cooks_outlier=np.asarray(dds.cooks_outlier(), dtype=bool),
        all_zero_after_refit=np.asarray(all_zero_after_refit, dtype=bool),
        contrast_vectors=vectors,
        releveled=releveled,
        prior_disp_var=float(dds.uns.get("prior_disp_var", np.nan)),
        norm_factors=_norm_factors(dds),
    )


def _norm_factors(dds) -> np.ndarray | None:
    if offsets.NF_LAYER not in dds.layers:
        return None
    return np.asarray(dds.layers[offsets.NF_LAYER], dtype=float)


def _plain(matrix: pd.DataFrame) -> pd.DataFrame:
    """formulaic's model matrix as a plain DataFrame (without its model spec)."""
    return pd.DataFrame(
        np.asarray(matrix, dtype=float), index=matrix.index, columns=list(matrix.columns)
    )


# ------------------------------------------------------------- the workflow's two steps
@dataclass
class DesignFit:
    """A fitted design as the workflow keeps it between its fit and contrast jobs.

    model: the `FittedModel` on the pre-filtered genes; genes: every input gene
    (index gene_id) with `symbol`, `kept` (passed the pre-filter) and `baseMean`
    (mean normalised count, with the fit's size or normalisation factors).
    """

    model: FittedModel
    genes: pd.DataFrame
    min_count: int
    min_samples: int
    # tximport's offsets: every input gene's normalisation factors, samples x genes
    norm_factors: np.ndarray | None = None


def fit_for_contrasts(
    counts: pd.DataFrame,
    sheet: pd.DataFrame,
    design: str,
    plan: dict,
    symbols: pd.Series,
    settings: DESettings,
    lengths: pd.DataFrame | None = None,
) -> DesignFit:
    """Pre-filter and fit the design once for all contrasts (`plan` from `fit_plan`).

    counts: samples x genes (raw integers); sheet: indexed by sample with typed
    design variables. The pre-filter is per design: at least `settings.min_count`
    reads in at least `plan['min_samples']` samples. The reduced designs of LRT
    contrasts (`plan['reduced_designs']`) are fitted here, once each. `lengths`:
    tximport's average transcript lengths (as counts), the model's offsets.
    """
    sheet = with_reference_levels(sheet, plan["reference_levels"])
    metadata = sheet[design_variables(design)]
    min_samples = plan["min_samples"]
    keep = prefilter_mask(counts, settings.min_count, min_samples)
    log.info(
        "%d of %d genes pass the pre-filter (>= %d counts in >= %d samples)",
        keep.sum(),
        len(keep),
        settings.min_count,
        min_samples,
    )
    # genes named as in `genes` below, so the model's LFCs and base means carry the
    # same index name (de.fit_file stores one gene index)
    fitted_counts = counts.loc[:, keep]
    fitted_counts.columns = fitted_counts.columns.rename("gene_id")
    dds = fit_design(
        fitted_counts, metadata, design, settings,
        None if lengths is None else lengths.to_numpy(dtype=float)[:, keep],
    )
    model = fitted_model(dds, list(plan["reference_levels"]))
    if plan.get("reduced_designs"):
        from msc_response.de.lrt import fit_reduced

        reduced = fit_reduced(dds, model, metadata, plan["reduced_designs"], dds.inference)
        model.full_loglik = reduced.full
        model.reduced_loglik, model.reduced_df = reduced.reduced, reduced.df
    size_factors = model.size_factors.to_numpy()
    if lengths is None:
        scale = size_factors[:, None]
    else:  # every gene's factors from the fit's size factors (R: the same formula)
        # (nf does not depend on the size factors' scale)
        scale = offsets.from_size_factors(
            offsets.norm_matrix(lengths.to_numpy(dtype=float)), size_factors
        )
        scale[:, keep] = model.norm_factors
    genes = pd.DataFrame(
        {
            "symbol": symbols.reindex(counts.columns).to_numpy(),
            "kept": keep,
            "baseMean": (counts.to_numpy() / scale).mean(axis=0),
        },
        index=pd.Index(counts.columns, name="gene_id"),
    )
    return DesignFit(
        model, genes, settings.min_count, min_samples,
        norm_factors=None if lengths is None else scale,
    )
