"""One contrast's results from a fitted design, as R's `results()` and `lfcShrink()`.

`wald_results` does the contrast's Wald test, Cook's filter and independent
filtering, and `shrink_lfc` its apeGLM-style shrinkage, step for step as PyDESeq2's
`DeseqStats` (tests/unit/test_de.py checks they agree) but without its dataset class,
so a per-contrast job (rule deseq2_contrast) stays light. `wald_contrast_result`
turns them into the table the workflow writes, `results/de/{contrast}.tsv`
(de.contrast picks it or de.kinds by the contrast's kind).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from msc_response.de.engines import make_inference
from msc_response.de.fit import (
    DesignFit,
    DESettings,
    FittedModel,
    fit_design,
    fitted_model,
)
from msc_response.de.r_filter import independent_filter_r
from msc_response.design.contrasts import Contrast

log = logging.getLogger(__name__)


RESULT_COLUMNS = [
    "gene_id",
    "symbol",
    "baseMean",
    "log2FoldChange",
    "lfcSE",
    "log2FoldChange_shrunk",
    "lfcSE_shrunk",
    "stat",
    "pvalue",
    "padj",
    "status",
]


@dataclass
class ContrastResult:
    table: pd.DataFrame  # one row per gene, RESULT_COLUMNS
    size_factors: pd.Series  # per sample, from the pre-filtered genes


@dataclass
class WaldTest:
    """One contrast's Wald test (natural-log scale), before any shrinkage."""

    contrast: list[str]
    vector: np.ndarray
    lfc: np.ndarray  # the contrast's LFC per gene
    se: np.ndarray
    stat: np.ndarray
    pvalue: np.ndarray  # after the Cook's filter


def wald_results(
    model: FittedModel,
    contrast: list[str],
    settings: DESettings,
    inference=None,
    vector: np.ndarray | None = None,
):
    """R's `results()` for one contrast ([variable, test, reference]) of a fitted
    design, step for step as PyDESeq2's `DeseqStats.summary()`: Wald test (ridge
    1e-6, any two levels through a contrast vector), Cook's filter, then independent
    filtering (R's rule or PyDESeq2's, per `settings`) or plain BH.

    `vector` (weights on the model's coefficients) replaces the contrast vector of
    [variable, test, reference] for the other Wald kinds (within a level, per unit of
    a continuous variable); `contrast` then only names it.

    Returns (table with baseMean, log2FoldChange, lfcSE, stat, pvalue, padj; the
    `WaldTest`, for shrinkage).
    """
    inference = inference or make_inference(settings.inference, settings.n_cpus)
    key = tuple(contrast)
    if vector is not None:
        pass  # a contrast given by its weights on the coefficients (de.kinds)
    elif key not in model.contrast_vectors:
        raise KeyError(
            f"contrast {list(contrast)}: the fit has no contrast vector for it (its "
            f"variable was not a contrast variable when the design was fitted); refit "
            f"with `snakemake --forcerun deseq2_fit`"
        )
    else:
        vector = model.contrast_vectors[key]
    X = model.design_matrix.to_numpy(dtype=float)
    lfc = model.lfc.to_numpy(dtype=float)
    mu = np.exp(X @ lfc.T) * model.scale()
    pvalue, stat, se = inference.wald_test(
        design_matrix=X,
        disp=model.dispersions,
        lfc=lfc,
        mu=mu,
        ridge_factor=np.diag(np.repeat(1e-6, X.shape[1])),
        contrast=vector,
        lfc_null=np.log(2) * settings.lfc_threshold,
        alt_hypothesis="greaterAbs" if settings.lfc_threshold > 0 else None,
    )
    pvalue, stat, se = (np.array(v, dtype=float) for v in (pvalue, stat, se))
    refit = model.all_zero_after_refit
    se[refit], stat[refit], pvalue[refit] = 0.0, 0.0, 1.0
    if settings.cooks_filter:
        pvalue[model.cooks_outlier] = np.nan
    base_mean = model.base_mean.to_numpy()
    padj = adjust_pvalues(base_mean, pvalue, settings)
    contrast_lfc = lfc @ vector
    table = pd.DataFrame(
        {
            "baseMean": base_mean,
            "log2FoldChange": contrast_lfc / np.log(2),
            "lfcSE": se / np.log(2),
            "stat": stat,
            "pvalue": pvalue,
            "padj": padj,
        },
        index=model.lfc.index,
    )
    return table, WaldTest(list(contrast), vector, contrast_lfc, se, stat, pvalue)


def adjust_pvalues(base_mean: np.ndarray, pvalue: np.ndarray, settings: DESettings):
    """Adjusted p-values (NaN p-values stay NaN): independent filtering by R's rule
    or PyDESeq2's, per `settings`, or plain BH when it is off."""
    if not settings.independent_filtering:
        from scipy.stats import false_discovery_control

        padj = np.full(len(pvalue), np.nan)
        tested = ~np.isnan(pvalue)
        padj[tested] = false_discovery_control(pvalue[tested], method="bh")
    elif settings.independent_filtering_rule == "r":
        padj, threshold = independent_filter_r(base_mean, pvalue, settings.alpha)
        log.info("independent filtering at baseMean > %.4g", threshold)
    else:
        padj = _independent_filter_pydeseq2(base_mean, pvalue, settings.alpha)
    return padj


def _independent_filter_pydeseq2(base_mean: np.ndarray, pvalue: np.ndarray, alpha: float):
    """PyDESeq2's `DeseqStats._independent_filtering` (its own lowess and rule)."""
    from pydeseq2.utils import lowess
    from scipy.stats import false_discovery_control

    lower = np.mean(base_mean == 0)
    theta = np.linspace(lower, 0.95 if lower < 0.95 else 1, 50)
    cutoffs = np.quantile(base_mean, theta)
    adjusted = np.full((len(pvalue), len(theta)), np.nan)
    for i, cutoff in enumerate(cutoffs):
        use = (base_mean >= cutoff) & ~np.isnan(pvalue)
        if use.any():
            adjusted[use, i] = false_discovery_control(pvalue[use], method="bh")
    rejections = (adjusted < alpha).sum(axis=0).astype(int)
    fit = lowess(theta, rejections, frac=1 / 5)
    j = 0
    if rejections.max() > 10:
        residual = rejections[rejections > 0] - fit[rejections > 0]
        above = np.flatnonzero(rejections > fit.max() - np.sqrt(np.mean(residual**2)))
        j = int(above[0]) if above.size else 0
    return adjusted[:, j]


def fit_and_test(
    counts: pd.DataFrame,
    metadata: pd.DataFrame,
    design: str,
    contrast: list[str],
    settings: DESettings,
    lengths: np.ndarray | None = None,
):
    """`fit_design`, `fitted_model` and `wald_results`: returns (results table,
    fitted dataset, FittedModel). counts: samples x genes, already pre-filtered;
    lengths: tximport's average transcript lengths (as counts), the offsets."""
    dds = fit_design(counts, metadata, design, settings, lengths)
    model = fitted_model(dds, [contrast[0]])
    table, _ = wald_results(model, contrast, settings, dds.inference)
    return table, dds, model


def shrink_lfc(
    model: FittedModel, wald: WaldTest, inference, *, prior_no_shrink_scale: float = 15.0
) -> tuple[np.ndarray, np.ndarray]:
    """apeGLM-style shrunken LFCs (natural log) and standard errors of one contrast,
    step for step as PyDESeq2's `DeseqStats.lfc_shrink` (adaptive Cauchy prior scale,
    a wide normal prior on the other coefficients); genes where the optimiser gives
    no finite answer keep their Wald values, with a warning.

    Shrinkage acts on one model coefficient (so does R's `lfcShrink(type="apeglm")`).
    When the contrast is not one coefficient of the fitted model (its reference is
    not the factor's reference level), the model is reparametrised with the
    contrast's reference as reference level, as R's `relevel` + `nbinomWaldTest`
    would: the dispersions, fitted means and Wald statistics do not depend on the
    parametrisation, and the maximum-likelihood LFCs of the releveled design X' = X T
    are exactly T^-1 times the fitted ones (the optimum IRLS would converge to
    again), so they are transformed instead of refitted.
    """
    variable, test, reference = wald.contrast
    coefficient = f"{variable}[T.{test}]"
    X = model.design_matrix
    lfc = model.lfc.to_numpy(dtype=float)
    unit = (X.columns == coefficient).astype(float)
    if not np.allclose(wald.vector, unit):
        releveled = model.releveled[(variable, reference)]
        # X' = X T (same column space); LFCs as rows: B' = B T^-T.
        transform = np.linalg.lstsq(X.to_numpy(float), releveled.to_numpy(float), rcond=None)[0]
        if not np.allclose(X.to_numpy(float) @ transform, releveled.to_numpy(float), atol=1e-10):
            raise ValueError(f"releveling {variable!r} changed the design's column space")
        lfc = lfc @ np.linalg.inv(transform).T
        X = releveled
    if coefficient not in X.columns:
        raise KeyError(f"no coefficient {coefficient!r} to shrink in {list(X.columns)}")
    index = X.columns.get_loc(coefficient)
    return shrink_coefficient(
        model, X, lfc, index, wald.se, inference, prior_no_shrink_scale=prior_no_shrink_scale
    )


def _log_offset(model: FittedModel) -> np.ndarray:
    """The shrinkage GLM's offset: log size factors, or log normalisation factors of
    the genes with counts (R's lfcShrink with tximport's offsets)."""
    if model.norm_factors is None:
        return np.log(model.size_factors.to_numpy())
    return np.log(model.norm_factors[:, model.non_zero])


def shrink_coefficient(
    model: FittedModel,
    X: pd.DataFrame,
    lfc: np.ndarray,
    index: int,
    se: np.ndarray,
    inference,
    *,
    prior_no_shrink_scale: float = 15.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Shrink coefficient `index` of the model with design `X` and MLEs `lfc` (genes
    x coefficients, natural log; `se` its Wald standard errors): the second half of
    `shrink_lfc`, for any parametrisation of the fitted model."""
    prior_var = _apeglm_prior_var(lfc[:, index], se)
    shrunk, inverse_hessians, _ = inference.lfc_shrink_nbinom_glm(
        design_matrix=X.to_numpy(dtype=float),
        counts=model.counts[:, model.non_zero],
        size=1.0 / model.dispersions[model.non_zero],
        offset=_log_offset(model),
        prior_no_shrink_scale=prior_no_shrink_scale,
        prior_scale=min(np.sqrt(prior_var), 1.0),
        optimizer="L-BFGS-B",
        shrink_index=index,
    )
    new_lfc = np.asarray(shrunk)[:, index]
    new_se = np.sqrt(np.abs(np.asarray(inverse_hessians)[:, index, index]))
    valid = np.isfinite(new_lfc) & np.isfinite(new_se)
    if not valid.all():
        log.warning(
            "%d gene(s) had NaN/infinite values during LFC shrinkage; their LFCs and "
            "SEs were not updated", (~valid).sum()
        )
    out_lfc, out_se = lfc[:, index].copy(), se.copy()
    genes = np.flatnonzero(model.non_zero)[valid]
    out_lfc[genes], out_se[genes] = new_lfc[valid], new_se[valid]
    return out_lfc, out_se


def _apeglm_prior_var(lfc: np.ndarray, se: np.ndarray, min_var=1e-6, max_var=400.0) -> float:
    """PyDESeq2's `DeseqStats._fit_prior_var`: the prior variance of the shrunken
    coefficient, from its MLEs and their standard errors."""
    from scipy.optimize import root_scalar

    keep = ~np.isnan(lfc)
    estimates, variances = lfc[keep] ** 2, se[keep] ** 2

    def objective(a: float) -> float:
        weights = 1 / (2 * (a + variances) ** 2)
        return ((estimates - variances) * weights).sum() / weights.sum() - a

    if objective(min_var) < 0:
        return min_var
    return root_scalar(objective, bracket=(min_var, max_var)).root


def contrast_status(table: pd.DataFrame, model, settings: DESettings) -> np.ndarray:
    """Each fitted gene's status in a contrast's table: `cooks_outlier` (p-value set
    to NA by the Cook's filter), `independent_filtering` (padj NA), else `tested`."""
    cooks = model.cooks_outlier if settings.cooks_filter else np.zeros(len(table), dtype=bool)
    return np.select(
        [cooks & table["pvalue"].isna().to_numpy(), table["padj"].isna().to_numpy()],
        ["cooks_outlier", "independent_filtering"],
        "tested",
    )


def wald_contrast_result(fit: DesignFit, contrast: Contrast, settings: DESettings) -> ContrastResult:
    """A two-level contrast's results from a fitted design (the other kinds: de.kinds;
    de.contrast.contrast_result picks).

    Returns one row per input gene (pre-filtered genes included, with
    `status='low_counts'`), sorted by padj then p-value then gene ID.
    """
    model = fit.model
    inference = make_inference(settings.inference, settings.n_cpus)
    table, wald = wald_results(model, contrast.as_list(), settings, inference)
    table["status"] = contrast_status(table, model, settings)
    if settings.lfc_shrinkage:
        shrunk, se = shrink_lfc(model, wald, inference)
        table["log2FoldChange_shrunk"] = shrunk / np.log(2)
        table["lfcSE_shrunk"] = se / np.log(2)
    size_factors = model.size_factors.rename("size_factor")
    return ContrastResult(_with_filtered_genes(table, fit.genes), size_factors)


def _with_filtered_genes(table: pd.DataFrame, genes: pd.DataFrame) -> pd.DataFrame:
    dropped = genes.loc[~genes["kept"], ["baseMean"]].copy()
    dropped["status"] = "low_counts"
    full = pd.concat([table, dropped]) if len(dropped) else table
    full.index.name = "gene_id"
    full = full.reset_index()
    full["symbol"] = genes["symbol"].reindex(full["gene_id"]).to_numpy()
    columns = [c for c in RESULT_COLUMNS if c in full.columns]
    full = full[columns].sort_values(
        ["padj", "pvalue", "gene_id"], na_position="last", kind="mergesort"
    )
    return full.reset_index(drop=True)


def summarise(table: pd.DataFrame, contrast: Contrast, alpha: float) -> pd.DataFrame:
    """One row: genes tested, up, down, and the NA reasons, as R's summary(res)."""
    significant = table["padj"] < alpha
    return pd.DataFrame(
        [
            {
                "contrast": contrast.name,
                "variable": contrast.variable,
                "test": contrast.test,
                "reference": contrast.reference,
                "alpha": alpha,
                "genes": len(table),
                "up": int((significant & (table["log2FoldChange"] > 0)).sum()),
                "down": int((significant & (table["log2FoldChange"] < 0)).sum()),
                "cooks_outlier": int((table["status"] == "cooks_outlier").sum()),
                "independent_filtering": int(
                    (table["status"] == "independent_filtering").sum()
                ),
                "low_counts": int((table["status"] == "low_counts").sum()),
            }
        ]
    )
