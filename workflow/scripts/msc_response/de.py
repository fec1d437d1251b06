"""Differential expression of one contrast with PyDESeq2, as a tidy results table."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .engines import dataset_class, make_inference
from .validation import Contrast, design_variables, order_reference_first

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
    min_samples: int | None = None  # None: size of the smallest group in the contrast
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


def smallest_group(sheet: pd.DataFrame, contrast: Contrast) -> int:
    sizes = sheet[contrast.variable].value_counts()
    return int(sizes[[contrast.test, contrast.reference]].min())


def fit_and_test(
    counts: pd.DataFrame,
    metadata: pd.DataFrame,
    design: str,
    contrast: list[str],
    settings: DESettings,
):
    """PyDESeq2 fit of `design` and Wald test of `contrast` ([variable, test,
    reference]) with the engine, dispersion prior and filtering rule of `settings`.

    counts: samples x genes, already pre-filtered. Returns (results table with
    baseMean, log2FoldChange, lfcSE, stat, pvalue, padj; the fitted dataset; the
    DeseqStats object, for shrinkage).
    """
    from pydeseq2.ds import DeseqStats

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
    dds.deseq2()
    use_r_filter = settings.independent_filtering and settings.independent_filtering_rule == "r"
    stats = DeseqStats(
        dds,
        contrast=list(contrast),
        alpha=settings.alpha,
        cooks_filter=settings.cooks_filter,
        independent_filter=settings.independent_filtering and not use_r_filter,
        lfc_null=settings.lfc_threshold,
        alt_hypothesis="greaterAbs" if settings.lfc_threshold > 0 else None,
        inference=inference,
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
    return table, dds, stats


def run_contrast(
    counts: pd.DataFrame,
    sheet: pd.DataFrame,
    design: str,
    contrast: Contrast,
    symbols: pd.Series,
    settings: DESettings,
) -> ContrastResult:
    """Fit the design and test one contrast.

    counts: samples x genes (raw integers), sheet: indexed by sample with typed design
    variables. Returns one row per gene (pre-filtered genes included, with
    `status='low_counts'`), sorted by padj then p-value then gene ID.
    """
    sheet = order_reference_first(sheet, contrast)
    metadata = sheet[design_variables(design)]
    min_samples = settings.min_samples or smallest_group(sheet, contrast)
    keep = prefilter_mask(counts, settings.min_count, min_samples)
    log.info(
        "%s: %d of %d genes pass the pre-filter (>= %d counts in >= %d samples)",
        contrast.name,
        keep.sum(),
        len(keep),
        settings.min_count,
        min_samples,
    )
    table, dds, stats = fit_and_test(
        counts.loc[:, keep], metadata, design, contrast.as_list(), settings
    )
    cooks = (
        np.asarray(dds.cooks_outlier(), dtype=bool)
        if settings.cooks_filter
        else np.zeros(len(table), dtype=bool)
    )
    table["status"] = np.select(
        [cooks & table["pvalue"].isna().to_numpy(), table["padj"].isna().to_numpy()],
        ["cooks_outlier", "independent_filtering"],
        "tested",
    )
    if settings.lfc_shrinkage:
        coefficient = f"{contrast.variable}[T.{contrast.test}]"
        stats.lfc_shrink(coeff=coefficient)
        table["log2FoldChange_shrunk"] = stats.results_df["log2FoldChange"]
        table["lfcSE_shrunk"] = stats.results_df["lfcSE"]

    size_factors = pd.Series(
        np.asarray(dds.obs["size_factors"], dtype=float), index=dds.obs_names
    )
    return ContrastResult(
        _with_filtered_genes(table, counts, keep, size_factors, symbols), size_factors
    )


def _with_filtered_genes(table, counts, keep, size_factors, symbols) -> pd.DataFrame:
    filtered = counts.loc[:, ~keep]
    dropped = pd.DataFrame(
        {"baseMean": (filtered.to_numpy() / size_factors.to_numpy()[:, None]).mean(axis=0)},
        index=filtered.columns,
    )
    dropped["status"] = "low_counts"
    full = pd.concat([table, dropped]) if len(dropped) else table
    full.index.name = "gene_id"
    full = full.reset_index()
    full["symbol"] = symbols.reindex(full["gene_id"]).to_numpy()
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
