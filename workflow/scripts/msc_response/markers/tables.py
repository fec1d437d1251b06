"""Marker genes of a contrast, the curated panel's verdicts and the MSC identity check.

Everything here reads what earlier stages wrote (the DE table of a contrast and
`results/dataset.h5ad`); nothing re-tests differential expression. The per-gene
effect size a clinician can read is the AUROC: the probability that a random test
sample (e.g. a responder) has a higher covariate-adjusted expression than a random
reference sample, with a 95% interval that accounts for the adjustment
(`markers.auroc`). Panel genes DESeq2 did not test (`low counts`) get no AUROC.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from msc_response.common.errors import InputError
from msc_response.design.covariates import DesignParts, design_parts, remove_covariates
from msc_response.markers.auroc import auroc, auroc_interval

__all__ = ["auroc"]  # re-exported: the signature scores its folds with it

if TYPE_CHECKING:  # the config check at parse time must not pay for importing anndata
    import anndata as ad

log = logging.getLogger(__name__)

MARKER_COLUMNS = [
    "gene_id", "symbol", "direction", "rank", "baseMean", "mean_test", "mean_reference",
    "log2FoldChange", "log2FoldChange_shrunk", "padj", "frac_expressed_test",
    "frac_expressed_reference", "auroc", "auroc_ci_low", "auroc_ci_high",
]
PANEL_COLUMNS = [
    "panel", "symbol", "gene_id", "status", "baseMean", "mean_test", "mean_reference",
    "log2FoldChange", "log2FoldChange_shrunk", "padj", "auroc", "auroc_ci_low",
    "auroc_ci_high", "note",
]
PANEL_STATUSES = ("up", "down", "not significant", "low counts", "not in data")
# The DE table's numbers a panel row carries.
DE_NUMBERS = ["baseMean", "log2FoldChange", "log2FoldChange_shrunk", "padj"]
# Panel statuses of genes DESeq2 did not test: no AUROC or interval for them.
UNTESTED_STATUSES = ("low counts", "not in data")
AUROC_COLUMNS = ["auroc", "auroc_ci_low", "auroc_ci_high"]
# DE statuses whose missing padj means "too few reads to test".
LOW_COUNT_STATUSES = ("low_counts", "independent_filtering")


# ---------------------------------------------------------------- contrast samples


@dataclass
class ContrastSamples:
    """The samples of one contrast (test and reference levels only)."""

    adata: ad.AnnData  # view restricted to the two groups
    is_test: np.ndarray  # bool per sample
    variable: str
    test: str
    reference: str

    @property
    def n_test(self) -> int:
        return int(self.is_test.sum())

    @property
    def n_reference(self) -> int:
        return int((~self.is_test).sum())

    def design_parts(self) -> DesignParts:
        """The design's columns of the contrast's variable and of the covariates."""
        return design_parts(self.adata.obs, self.adata.uns["design"], self.variable)

    def adjusted_vst(self) -> np.ndarray:
        """VST with the design's covariate terms removed, the contrast's kept."""
        return remove_covariates(
            np.asarray(self.adata.layers["vst"], dtype=float),
            self.adata.obs,
            self.adata.uns["design"],
            self.variable,
        )


def contrast_samples(adata: ad.AnnData, contrast: dict) -> ContrastSamples:
    """The contrast's two groups of samples; for a `within: {factor: level}` contrast,
    those in that level only."""
    variable = contrast["variable"]
    test, reference = str(contrast["test"]), str(contrast["reference"])
    levels = adata.obs[variable].astype(str)
    keep = levels.isin([test, reference]).to_numpy()
    for factor, level in (contrast.get("within") or {}).items():
        keep &= (adata.obs[factor].astype(str) == str(level)).to_numpy()
    view = adata[keep].copy()
    view.uns["design"] = adata.uns["design"]
    return ContrastSamples(view, (levels[keep] == test).to_numpy(), variable, test, reference)


# ---------------------------------------------------------------- per-gene summaries


def _gene_positions(adata: ad.AnnData, gene_ids) -> np.ndarray:
    """Column positions of `gene_ids` in the dataset; an InputError if the DE table
    has genes the dataset lacks (they come from different runs)."""
    positions = adata.var_names.get_indexer(pd.Index(gene_ids))
    if (positions < 0).any():
        missing = list(pd.Index(gene_ids)[positions < 0][:5])
        raise InputError(
            f"Genes {missing} of the DE table are not in results/dataset.h5ad: the DE "
            f"table and the dataset come from different runs. Rerun the workflow."
        )
    return positions


def group_summary(
    samples: ContrastSamples,
    gene_ids,
    *,
    expressed_min_count: float,
    adjusted: np.ndarray,
    n_boot: int,
    seed: int,
    parts: DesignParts | None = None,
) -> pd.DataFrame:
    """Group means of normalised counts, fraction of samples expressing (normalised
    count >= `expressed_min_count`), AUROC on the `adjusted` values and its interval
    (`markers.auroc.auroc_interval`: the adjustment refitted in each bootstrap
    resample of the VST, widened to Newcombe's score interval), per gene ID."""
    positions = _gene_positions(samples.adata, gene_ids)
    normalised = np.asarray(samples.adata.layers["normalised"], dtype=float)[:, positions]
    values = adjusted[:, positions]
    t, r = samples.is_test, ~samples.is_test
    point = auroc(values, t)
    parts = samples.design_parts() if parts is None else parts
    vst = np.asarray(samples.adata.layers["vst"], dtype=float)[:, positions]
    low, high = auroc_interval(vst, t, parts.kept, parts.covariates, point, n_boot, seed)
    return pd.DataFrame(
        {
            "mean_test": normalised[t].mean(axis=0) if t.any() else np.nan,
            "mean_reference": normalised[r].mean(axis=0) if r.any() else np.nan,
            "frac_expressed_test": (normalised[t] >= expressed_min_count).mean(axis=0),
            "frac_expressed_reference": (normalised[r] >= expressed_min_count).mean(axis=0),
            "auroc": point,
            "auroc_ci_low": low,
            "auroc_ci_high": high,
        },
        index=pd.Index(list(gene_ids), name="gene_id"),
    )


def effect_column(de: pd.DataFrame) -> str:
    """The shrunk log2FC when the DE stage wrote it, else the raw one."""
    shrunk = "log2FoldChange_shrunk"
    return shrunk if shrunk in de and de[shrunk].notna().any() else "log2FoldChange"


# ---------------------------------------------------------------- marker table


def marker_table(
    de: pd.DataFrame,
    samples: ContrastSamples,
    *,
    n_top: int,
    rank_by: str,
    alpha: float,
    min_abs_log2fc: float,
    min_base_mean: float,
    expressed_min_count: float,
    n_boot: int,
    seed: int,
    adjusted: np.ndarray | None = None,
) -> pd.DataFrame:
    """Top `n_top` up and top `n_top` down genes of a DE table.

    Candidates pass padj < alpha, |effect log2FC| >= min_abs_log2fc and baseMean >=
    min_base_mean; they are ranked by effect size, not by padj (which saturates for
    strong genes): `rank_by='log2fc'` by |shrunk log2FC|, `'auroc'` by the AUROC
    (highest for up, lowest for down). Ties fall back to padj, then gene ID.
    Up genes come first (rank 1..), then down genes. No candidate: an empty table
    with the columns.
    """
    if rank_by not in ("log2fc", "auroc"):
        raise InputError(f"config 'markers.rank_by': '{rank_by}' is not one of 'log2fc', 'auroc'.")
    lfc = effect_column(de)
    candidates = de[
        (de["padj"] < alpha)
        & (de[lfc].abs() >= min_abs_log2fc)
        & (de["baseMean"] >= min_base_mean)
    ].copy()
    if candidates.empty:
        return pd.DataFrame(columns=MARKER_COLUMNS)
    if adjusted is None:
        adjusted = samples.adjusted_vst()
    positions = _gene_positions(samples.adata, candidates["gene_id"])
    candidates["auroc"] = auroc(adjusted[:, positions], samples.is_test)
    candidates["direction"] = np.where(candidates[lfc] > 0, "up", "down")
    chosen = []
    for direction, sign in (("up", -1), ("down", 1)):
        group = candidates[candidates["direction"] == direction].copy()
        group["_key"] = sign * (group["auroc"] if rank_by == "auroc" else group[lfc])
        group["_abs"] = -group[lfc].abs()
        group = group.sort_values(["_key", "_abs", "padj", "gene_id"], kind="mergesort")
        group = group.head(n_top)
        group["rank"] = np.arange(1, len(group) + 1)
        chosen.append(group)
    table = pd.concat(chosen, ignore_index=True)
    summary = group_summary(
        samples,
        table["gene_id"],
        expressed_min_count=expressed_min_count,
        adjusted=adjusted,
        n_boot=n_boot,
        seed=seed,
    )
    table = table.drop(columns=["auroc"]).join(summary, on="gene_id")
    return table.reindex(columns=MARKER_COLUMNS).reset_index(drop=True)


# ---------------------------------------------------------------- panel


def _symbol_lookup(de: pd.DataFrame, symbols) -> dict[str, pd.Series]:
    """Symbol -> its DE row, for the wanted symbols; several genes with one symbol:
    the one with the highest baseMean, with `_copies` saying how many there are."""
    wanted = de[de["symbol"].isin(set(symbols))]
    ordered = wanted.sort_values(["baseMean", "gene_id"], ascending=[False, True], kind="mergesort")
    copies = wanted["symbol"].value_counts()
    rows = {}
    for _, row in ordered.drop_duplicates("symbol").iterrows():
        rows[row["symbol"]] = pd.concat([row, pd.Series({"_copies": int(copies[row["symbol"]])})])
    return rows


def panel_status(row: pd.Series | None, alpha: float) -> tuple[str, str]:
    """(status, note) of one panel gene from its DE row."""
    if row is None:
        return "not in data", "symbol not found in the counts' annotation"
    if row["status"] in LOW_COUNT_STATUSES:
        why = "removed by the pre-filter" if row["status"] == "low_counts" else (
            "independent filtering: mean count too low to reach significance"
        )
        return "low counts", why
    if pd.notna(row["padj"]) and row["padj"] < alpha:
        return ("up" if row["log2FoldChange"] > 0 else "down"), ""
    if row["status"] == "cooks_outlier":
        return "not significant", "Cook's outlier: no p-value"
    return "not significant", ""


def panel_table(
    de: pd.DataFrame,
    samples: ContrastSamples,
    panel: dict[str, list[str]],
    *,
    alpha: float,
    expressed_min_count: float,
    n_boot: int,
    seed: int,
    adjusted: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per panel x symbol with the DE verdict (`status`) and its numbers.

    `up`/`down`: padj < alpha (the DE calls; no fold-change threshold);
    `low counts`: not tested for too few reads; `not in data`: no gene with this
    symbol. The marker table's own thresholds do not apply here: the panel says
    whether the published markers hold in this cohort. Genes DESeq2 did not test
    (`low counts`, `not in data`) get no AUROC and no interval (NA): on mostly zero
    counts the covariate adjustment orders the tied zeros by each sample's
    covariates, which makes an AUROC out of nothing.
    """
    lookup = _symbol_lookup(de, [s for symbols in panel.values() for s in symbols])
    rows = []
    for name, symbols in panel.items():
        for symbol in symbols:
            row = lookup.get(symbol)
            status, note = panel_status(row, alpha)
            if row is not None and row["_copies"] > 1:
                note = "; ".join(
                    filter(None, [note, f"{row['_copies']} genes with this symbol: the most expressed shown"])
                )
            numbers = {c: np.nan for c in DE_NUMBERS} if row is None else {
                c: row.get(c, np.nan) for c in DE_NUMBERS
            }
            rows.append({"panel": name, "symbol": symbol,
                         "gene_id": None if row is None else row["gene_id"],
                         "status": status, "note": note, **numbers})
    table = pd.DataFrame(rows, columns=["panel", "symbol", "gene_id", "status", "note", *DE_NUMBERS])
    found = table["gene_id"].dropna().unique()
    if len(found):
        summary = group_summary(
            samples,
            found,
            expressed_min_count=expressed_min_count,
            adjusted=samples.adjusted_vst() if adjusted is None else adjusted,
            n_boot=n_boot,
            seed=seed,
        )
        table = table.join(summary.drop(columns=["frac_expressed_test", "frac_expressed_reference"]),
                           on="gene_id")
    table = table.reindex(columns=PANEL_COLUMNS)
    untested = table["status"].isin(UNTESTED_STATUSES)
    table.loc[untested, AUROC_COLUMNS] = np.nan
    table.loc[table["status"] == "low counts", "note"] = table["note"].where(
        table["note"] == "", table["note"] + "; "
    ) + "not tested: no AUROC"
    return table


# ---------------------------------------------------------------- MSC identity

# Robust z-scores use the cohort median and MAD of log2(normalised + 1); the MAD is
# floored at 0.5 log2 units (1.4-fold) so that a marker near zero in every sample,
# whose MAD is almost nothing, cannot turn counting noise into an "outlier".
MAD_FLOOR = 0.5
IDENTITY_COLUMNS = [
    "sample", "flagged", "reason", "positive_score", "negative_score",
    "positive_z", "negative_max_z",
]


def _marker_matrix(adata: ad.AnnData, symbols: list[str]) -> pd.DataFrame:
    """Normalised counts (samples x symbols) of the symbols found; a symbol with
    several genes: the most expressed one."""
    symbol_of = adata.var["symbol"].astype(str)
    normalised = np.asarray(adata.layers["normalised"], dtype=float)
    columns = {}
    for symbol in symbols:
        positions = np.flatnonzero(symbol_of.to_numpy() == symbol)
        if len(positions) == 0:
            continue
        best = positions[np.argmax(normalised[:, positions].mean(axis=0))]
        columns[symbol] = normalised[:, best]
    return pd.DataFrame(columns, index=adata.obs_names)


def robust_z(log_values: pd.DataFrame) -> pd.DataFrame:
    median = log_values.median(axis=0)
    mad = (log_values - median).abs().median(axis=0) * 1.4826
    return (log_values - median) / np.maximum(mad, MAD_FLOOR)


def identity_table(
    adata: ad.AnnData,
    positive: list[str],
    negative: list[str],
    *,
    positive_min_count: float,
    negative_min_count: float,
    z: float,
) -> pd.DataFrame:
    """Per sample: does its profile look like MSCs (ISCT markers)?

    Positive markers: flagged when one is absent (below `positive_min_count`
    normalised counts), or when the positive score (mean log2(normalised + 1) of the
    positive markers) is `z` robust SDs below the cohort's. The score, not each
    marker: dilution by other cells lowers all of them together, while one marker
    three-fold low with the others normal is donor variation (seen in the example
    cohort: CD105 3.4-fold low in one sample, z -3.5 on its own, -1 as a score).
    Haematopoietic markers: flagged when one has at least `negative_min_count`
    normalised counts AND is `z` robust SDs above the cohort median: both, so that
    counting noise near zero does not flag, nor does a marker every sample of this
    cohort expresses (CD34 of early-passage adipose MSCs, HLA-DR after interferon
    priming), which is logged instead. Per marker here: contamination by one cell
    type raises only its own markers (CD14 for monocytes, CD19/CD79A for B cells).
    """
    pos = _marker_matrix(adata, positive)
    neg = _marker_matrix(adata, negative)
    for kind, wanted, found in (("positive", positive, pos), ("negative", negative, neg)):
        missing = [s for s in wanted if s not in found]
        if missing:
            log.warning("identity: ISCT %s marker(s) not in the data: %s", kind, ", ".join(missing))
    for symbol in pos:
        if np.median(pos[symbol]) < positive_min_count:
            log.warning(
                "identity: ISCT positive marker %s is below %g normalised counts in most "
                "samples (median %.1f): every such sample is flagged; check the cohort and "
                "the gene annotation.", symbol, positive_min_count, np.median(pos[symbol]))
    for symbol in neg:
        if np.median(neg[symbol]) >= negative_min_count:
            log.warning(
                "identity: haematopoietic marker %s is expressed across the cohort (median "
                "%.1f normalised counts); only samples far above the cohort are flagged.",
                symbol, np.median(neg[symbol]))
    pos_score = np.log2(pos + 1).mean(axis=1)  # NaN when no positive marker is in the data
    neg_log = np.log2(neg + 1)
    pos_z = robust_z(pos_score.to_frame("score"))["score"]
    neg_z = robust_z(neg_log)
    absent = pos < positive_min_count
    neg_up = (neg >= negative_min_count) & (neg_z >= z)
    reasons = []
    for sample in adata.obs_names:
        parts = []
        gone = [s for s in pos if absent.at[sample, s]]
        if gone:
            parts.append("ISCT positive marker(s) absent: " + ", ".join(
                f"{s} ({pos.at[sample, s]:.0f} normalised counts)" for s in gone))
        if pos_z[sample] <= -z:
            parts.append(
                f"ISCT positive markers low together (score z {pos_z[sample]:.1f}: "
                + ", ".join(f"{s} {pos.at[sample, s]:.0f}" for s in pos) + " normalised counts)")
        up = [s for s in neg if neg_up.at[sample, s]]
        if up:
            parts.append("haematopoietic marker(s) up: " + ", ".join(
                f"{s} ({neg.at[sample, s]:.0f} normalised counts, z {neg_z.at[sample, s]:.1f})"
                for s in up))
        reasons.append("; ".join(parts))
    table = pd.DataFrame(
        {
            "sample": list(adata.obs_names),
            "flagged": [bool(r) for r in reasons],
            "reason": reasons,
            # NaN when no marker of a set is in the data
            "positive_score": pos_score.to_numpy(),
            "negative_score": neg_log.mean(axis=1).to_numpy(),
            "positive_z": pos_z.to_numpy(),
            "negative_max_z": neg_z.max(axis=1).to_numpy(),
        }
    )
    # Per-marker normalised counts, so the report can show why.
    markers = pd.concat([pos, neg.drop(columns=[c for c in neg if c in pos])], axis=1)
    return pd.concat([table, markers.reset_index(drop=True)], axis=1)


# ---------------------------------------------------------------- one contrast


def contrast_tables(
    de: pd.DataFrame,
    adata: ad.AnnData,
    contrast: dict,
    panel: dict[str, list[str]],
    settings: dict,
    alpha: float,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """markers.tsv and panel.tsv of one contrast from its DE table and the dataset."""
    samples = contrast_samples(adata, contrast)
    adjusted = samples.adjusted_vst()
    common = dict(
        expressed_min_count=settings["expressed_min_count"],
        n_boot=settings["bootstrap"],
        seed=settings["seed"],
        adjusted=adjusted,
    )
    markers = marker_table(
        de,
        samples,
        n_top=settings["n_top"],
        rank_by=settings["rank_by"],
        alpha=alpha,
        min_abs_log2fc=settings["min_abs_log2fc"],
        min_base_mean=settings["min_base_mean"],
        **common,
    )
    return markers, panel_table(de, samples, panel, alpha=alpha, **common)
