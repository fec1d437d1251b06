"""Differential expression with PyDESeq2: one fit per design, one test per contrast.

As R DESeq2 runs `DESeq()` once and `results()` per contrast: `fit_design` fits
size factors, dispersions, LFCs and Cook's distances (nothing there depends on a
contrast), and `wald_results` does one contrast's Wald test, Cook's filter and
independent filtering; `shrink_lfc` adds apeGLM-style shrinkage. `fit_and_test`
chains the two and is the one DE path: the workflow (through `fit_for_contrasts`,
`save_fit`/`load_fit` and `contrast_result`), the R agreement tests and
benchmarks/bench_deseq2.py all use these functions.
"""

from __future__ import annotations

import logging
import pickle
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .engines import dataset_class, make_inference
from .io import write_atomically
from .validation import Contrast, design_variables

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


def fit_stage(section: dict) -> dict:
    """The part of the config's `diffexp` section the fit depends on (the rest is
    per contrast): a change elsewhere, such as `alpha`, needs no refit."""
    fit_keys = ("inference", "dispersion_prior", "prefilter", "fit_type", "size_factors_fit_type")
    stage = {key: section[key] for key in fit_keys if key in section}
    if "refit" in section.get("cooks", {}):
        stage["cooks"] = {"refit": section["cooks"]["refit"]}
    return stage


def prefilter_mask(
    counts: pd.DataFrame, min_count: int, min_samples: int
) -> np.ndarray:
    """Genes with at least `min_count` reads in at least `min_samples` samples
    (the DESeq2 vignette's pre-filter). counts: samples x genes."""
    return ((counts.to_numpy() >= min_count).sum(axis=0) >= min_samples)


def smallest_group(sheet: pd.DataFrame, contrasts: list[Contrast]) -> int:
    """Size of the smallest group among the levels compared by any of `contrasts`:
    the DESeq2 vignette's `smallestGroupSize`, for one pre-filter per design."""
    return min(
        int(sheet[c.variable].astype(str).value_counts()[[c.test, c.reference]].min())
        for c in contrasts
    )


def fit_plan(sheet: pd.DataFrame, contrasts: list[Contrast], min_samples: int | None) -> dict:
    """What the one fit of the design needs to know about the contrasts:
    `reference_levels`, each contrast variable's reference level (that of the first
    contrast on it, so that contrast is one model coefficient; other contrasts on the
    variable are tested with a contrast vector), and the pre-filter's `min_samples`
    (`min_samples` if set, else the smallest group among all contrasts' levels).

    A new contrast that changes neither needs no refit.
    """
    references: dict[str, str] = {}
    for contrast in contrasts:
        references.setdefault(contrast.variable, contrast.reference)
    return {
        "reference_levels": references,
        "min_samples": int(min_samples or smallest_group(sheet, contrasts)),
    }


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
    counts: pd.DataFrame, metadata: pd.DataFrame, design: str, settings: DESettings
):
    """PyDESeq2 fit of `design` (R's `DESeq()`): size factors, dispersions, LFCs,
    Cook's distances, refits of outlier genes and the Cook's outlier mask. Nothing
    here depends on a contrast.

    counts: samples x genes, already pre-filtered; metadata: the design variables,
    each factor's first category being its reference level. Returns the fitted
    `DeseqDataSet` (of the class `settings.dispersion_prior` selects).
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
    dds.deseq2()  # ends with the Cook's outlier mask, stored in dds.var
    return dds


def wald_results(dds, contrast: list[str], settings: DESettings):
    """R's `results()` for one contrast ([variable, test, reference]) of a fitted
    dataset: Wald test, Cook's filter, independent filtering (R's rule or
    PyDESeq2's, per `settings`). Any two levels of a factor can be compared.

    Returns (table with baseMean, log2FoldChange, lfcSE, stat, pvalue, padj; the
    DeseqStats object, for shrinkage).
    """
    from pydeseq2.ds import DeseqStats

    use_r_filter = settings.independent_filtering and settings.independent_filtering_rule == "r"
    stats = DeseqStats(
        dds,
        contrast=list(contrast),
        alpha=settings.alpha,
        cooks_filter=settings.cooks_filter,
        independent_filter=settings.independent_filtering and not use_r_filter,
        lfc_null=settings.lfc_threshold,
        alt_hypothesis="greaterAbs" if settings.lfc_threshold > 0 else None,
        inference=dds.inference,
        quiet=True,
    )
    stats.summary()
    table = stats.results_df.copy()
    if use_r_filter:
        from .r_compat import independent_filter_r

        padj, threshold = independent_filter_r(
            table["baseMean"].to_numpy(), table["pvalue"].to_numpy(), settings.alpha
        )
        table["padj"] = padj
        log.info("independent filtering at baseMean > %.4g", threshold)
    return table, stats


def fit_and_test(
    counts: pd.DataFrame,
    metadata: pd.DataFrame,
    design: str,
    contrast: list[str],
    settings: DESettings,
):
    """`fit_design` then `wald_results`: returns (results table, fitted dataset,
    DeseqStats). counts: samples x genes, already pre-filtered."""
    dds = fit_design(counts, metadata, design, settings)
    table, stats = wald_results(dds, contrast, settings)
    return table, dds, stats


def shrink_lfc(stats, contrast: Contrast) -> tuple[pd.Series, pd.Series]:
    """apeGLM-style shrunken log2 fold changes and their standard errors.

    PyDESeq2's `lfc_shrink` (like R's `lfcShrink(type="apeglm")`) shrinks one model
    coefficient. When the contrast is not one coefficient of the fitted model (its
    reference is not the factor's reference level), the model is reparametrised with
    the contrast's reference as reference level, as R's `relevel` + `nbinomWaldTest`
    would: the dispersions, fitted means and Wald statistics do not depend on the
    parametrisation, and the maximum-likelihood LFCs of the releveled design X' = X T
    are exactly T^-1 times the fitted ones (the same optimum IRLS would converge to
    again), so they are transformed instead of refitted.
    """
    coefficient = f"{contrast.variable}[T.{contrast.test}]"
    columns = stats.design_matrix.columns
    unit = np.zeros(len(columns))
    if coefficient in columns:
        unit[columns.get_loc(coefficient)] = 1.0
    if not np.allclose(stats.contrast_vector, unit):
        _relevel(stats, contrast)
    stats.lfc_shrink(coeff=coefficient)
    return stats.results_df["log2FoldChange"].copy(), stats.results_df["lfcSE"].copy()


def _relevel(stats, contrast: Contrast) -> None:
    """Put `stats` (design matrix and LFCs) in the parametrisation whose reference
    level of `contrast.variable` is `contrast.reference`."""
    from formulaic_contrasts import FormulaicContrasts

    dds = stats.dds
    sheet = with_reference_levels(
        dds.obs[design_variables(dds.design)], {contrast.variable: contrast.reference}
    )
    releveled = FormulaicContrasts(sheet, dds.design).design_matrix
    old = stats.design_matrix.to_numpy(dtype=float)
    new = releveled.to_numpy(dtype=float)
    # X' = X T (same column space); LFCs as rows: B' = B T^-T.
    transform = np.linalg.lstsq(old, new, rcond=None)[0]
    if not np.allclose(old @ transform, new, atol=1e-10):
        raise ValueError(
            f"releveling {contrast.variable!r} changed the design's column space; "
            f"cannot shrink contrast {contrast.name!r}"
        )
    lfc = stats.LFC.to_numpy(dtype=float) @ np.linalg.inv(transform).T
    stats.design_matrix = releveled
    stats.LFC = pd.DataFrame(lfc, index=stats.LFC.index, columns=releveled.columns)
    vector = np.zeros(len(releveled.columns))
    vector[releveled.columns.get_loc(f"{contrast.variable}[T.{contrast.test}]")] = 1.0
    stats.contrast_vector = vector


# ------------------------------------------------------------- the workflow's two steps
@dataclass
class DesignFit:
    """A fitted design as the workflow keeps it between its fit and contrast jobs.

    dds: the fitted `DeseqDataSet` on the pre-filtered genes; genes: every input gene
    (index gene_id) with `symbol`, `kept` (passed the pre-filter) and `baseMean`
    (mean normalised count, with the fit's size factors).
    """

    dds: object
    genes: pd.DataFrame
    min_count: int
    min_samples: int

    @property
    def size_factors(self) -> pd.Series:
        return pd.Series(
            np.asarray(self.dds.obs["size_factors"], dtype=float),
            index=self.dds.obs_names,
            name="size_factor",
        )


FIT_FORMAT = 1  # bump when the saved fit's layout changes


def save_fit(fit: DesignFit, path) -> None:
    """Write what the contrast jobs need from a fitted design (one pickle, written
    atomically): counts, size factors, dispersions, LFCs, Cook's outlier mask, refit
    bookkeeping, the gene table. The per-sample layers of the fit (means, Cook's
    distances, normalised counts) are left out: no test needs them."""
    dds = fit.dds
    state = {
        "format": FIT_FORMAT,
        "design": dds.design,
        "design_columns": list(dds.obsm["design_matrix"].columns),
        "counts": np.asarray(dds.X),
        "obs": dds.obs,
        "var": dds.var,
        "lfc": dds.varm["LFC"],
        "uns": dict(dds.uns),
        "new_all_zeroes_genes": list(getattr(dds, "new_all_zeroes_genes", [])),
        "options": {
            name: getattr(dds, name)
            for name in (
                "min_mu", "min_disp", "max_disp", "refit_cooks", "min_replicates",
                "beta_tol", "fit_type", "size_factors_fit_type",
            )
        },
        "genes": fit.genes,
        "min_count": fit.min_count,
        "min_samples": fit.min_samples,
    }
    write_atomically(path, pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))


def load_fit(path, settings: DESettings) -> DesignFit:
    """The fitted design written by `save_fit`, as a `DeseqDataSet` ready for
    `wald_results` (inference engine from `settings`)."""
    import anndata as ad

    with open(path, "rb") as handle:
        state = pickle.load(handle)
    if state.get("format") != FIT_FORMAT:
        raise ValueError(f"{path}: saved fit format {state.get('format')}, expected {FIT_FORMAT}")
    adata = ad.AnnData(X=state["counts"], obs=state["obs"], var=state["var"])
    adata.varm["LFC"] = state["lfc"]
    adata.uns.update(state["uns"])
    dds = dataset_class(settings.dispersion_prior)(
        adata=adata,
        design=state["design"],
        inference=make_inference(settings.inference, settings.n_cpus),
        quiet=True,
        **state["options"],
    )
    if list(dds.obsm["design_matrix"].columns) != state["design_columns"]:
        raise ValueError(f"{path}: the design matrix rebuilt from the saved fit differs")
    non_zero = dds.var["non_zero"].to_numpy(dtype=bool)
    dds.non_zero_idx = np.flatnonzero(non_zero)
    dds.non_zero_genes = dds.var_names[non_zero]
    dds.new_all_zeroes_genes = pd.Index(state["new_all_zeroes_genes"], dtype=object)
    return DesignFit(dds, state["genes"], state["min_count"], state["min_samples"])


def fit_for_contrasts(
    counts: pd.DataFrame,
    sheet: pd.DataFrame,
    design: str,
    plan: dict,
    symbols: pd.Series,
    settings: DESettings,
) -> DesignFit:
    """Pre-filter and fit the design once for all contrasts (`plan` from `fit_plan`).

    counts: samples x genes (raw integers); sheet: indexed by sample with typed
    design variables. The pre-filter is per design: at least `settings.min_count`
    reads in at least `plan['min_samples']` samples.
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
    dds = fit_design(counts.loc[:, keep], metadata, design, settings)
    size_factors = np.asarray(dds.obs["size_factors"], dtype=float)
    genes = pd.DataFrame(
        {
            "symbol": symbols.reindex(counts.columns).to_numpy(),
            "kept": keep,
            "baseMean": (counts.to_numpy() / size_factors[:, None]).mean(axis=0),
        },
        index=pd.Index(counts.columns, name="gene_id"),
    )
    return DesignFit(dds, genes, settings.min_count, min_samples)


def contrast_result(fit: DesignFit, contrast: Contrast, settings: DESettings) -> ContrastResult:
    """One contrast's results from a fitted design.

    Returns one row per input gene (pre-filtered genes included, with
    `status='low_counts'`), sorted by padj then p-value then gene ID.
    """
    table, stats = wald_results(fit.dds, contrast.as_list(), settings)
    cooks = (
        np.asarray(fit.dds.cooks_outlier(), dtype=bool)
        if settings.cooks_filter
        else np.zeros(len(table), dtype=bool)
    )
    table["status"] = np.select(
        [cooks & table["pvalue"].isna().to_numpy(), table["padj"].isna().to_numpy()],
        ["cooks_outlier", "independent_filtering"],
        "tested",
    )
    if settings.lfc_shrinkage:
        table["log2FoldChange_shrunk"], table["lfcSE_shrunk"] = shrink_lfc(stats, contrast)
    return ContrastResult(_with_filtered_genes(table, fit.genes), fit.size_factors)


def run_contrast(
    counts: pd.DataFrame,
    sheet: pd.DataFrame,
    design: str,
    contrast: Contrast,
    symbols: pd.Series,
    settings: DESettings,
) -> ContrastResult:
    """Fit the design for one contrast alone and test it (its own pre-filter and
    reference level): what a separate per-contrast run gives."""
    plan = fit_plan(sheet, [contrast], settings.min_samples)
    fit = fit_for_contrasts(counts, sheet, design, plan, symbols, settings)
    return contrast_result(fit, contrast, settings)


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
