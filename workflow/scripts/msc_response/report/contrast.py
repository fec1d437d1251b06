"""The report's per-contrast DE and enrichment sections, and the enrichment overview
across contrasts and collections."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from msc_response.report.blocks import (
    Column,
    Table,
    figure,
    format_general,
    format_genes,
    format_int,
    format_mean,
    format_p,
    format_text,
    make_table,
    missing,
    num_column,
    p_column,
    truthy,
)
from msc_response.report.files import ResultFiles
from msc_response.report.reading import contrast_label, level_label, padj_column, read_tsv, slug

DE_REQUIRED = ["gene_id", "symbol", "baseMean", "log2FoldChange", "pvalue", "padj"]


SUMMARY_REQUIRED = ["genes", "up", "down"]


def de_columns(alpha: float, kind: str = "wald") -> list[Column]:
    # an LRT's statistic is the likelihood ratio and its log2FoldChange the last
    # coefficient's; a continuous variable's is per unit
    lfc_label, lfc_help = {
        "lrt": ("log2 FC (last coef.)", "Wald estimate of the design's last coefficient, as R"),
        "continuous": ("log2 FC per unit", "log2 fold change per unit of the variable (MLE)"),
    }.get(kind, ("log2 FC", "log2 fold change, test over reference (MLE)"))
    stat = (num_column("stat", "LR stat", 2, "likelihood-ratio statistic (chi-squared)")
            if kind == "lrt" else num_column("stat", "Wald stat", 2))
    return [
        Column("symbol", "symbol"),
        Column("gene_id", "gene ID"),
        Column(
            "baseMean",
            "mean count",
            format_mean,
            numeric=True,
            help="mean of normalised counts over all samples",
        ),
        num_column("log2FoldChange", lfc_label, 2, lfc_help),
        num_column(
            "log2FoldChange_shrunk",
            "log2 FC (shrunk)",
            2,
            "shrunken log2 fold change: use for ranking and effect sizes",
        ),
        num_column("lfcSE", "SE", 2, "standard error of the log2 fold change"),
        stat,
        p_column("pvalue", "p-value"),
        padj_column(alpha, f"Benjamini-Hochberg; significant below {alpha}"),
        Column("status", "status", help="why a p-value or adjusted p-value is NA"),
    ]


def de_section(
    files: ResultFiles, name: str, contrast: dict, config: dict, top: int, crosscheck: bool
) -> dict:
    paths = files.de(name)
    alpha = config["diffexp"]["alpha"]
    table = read_tsv(paths["table"], DE_REQUIRED, "DE results")
    summary = read_tsv(paths["summary"], SUMMARY_REQUIRED, "DE summary")
    row = summary.iloc[0] if len(summary) else pd.Series({"genes": len(table), "up": 0, "down": 0})
    counts = {
        key: int(row[key]) if key in row and not missing(row[key]) else 0
        for key in ("genes", "up", "down", "cooks_outlier", "independent_filtering", "low_counts")
    }
    tested = int(table["padj"].notna().sum())
    significant = table[table["padj"] < alpha]
    label = contrast_label(contrast)
    lfc = "log2FoldChange_shrunk" if "log2FoldChange_shrunk" in table.columns else "log2FoldChange"
    top_up = (
        significant[significant["log2FoldChange"] > 0].sort_values(lfc, ascending=False).head(5)
    )
    top_down = significant[significant["log2FoldChange"] < 0].sort_values(lfc).head(5)
    crosscheck = None
    if crosscheck:
        agreement = read_tsv(files.crosscheck(name), ["metric", "value"], "R cross-check")
        crosscheck = make_table(
            agreement,
            f"crosscheck-{slug(name)}",
            [Column("metric", "metric"), Column("value", "value", format_general, numeric=True)],
            f"{name}.crosscheck.tsv",
        )
    return {
        "alpha": alpha,
        "counts": counts,
        "tested": tested,
        "n_significant": len(significant),
        "top_up": [format_text(s) for s in top_up["symbol"]],
        "top_down": [format_text(s) for s in top_down["symbol"]],
        "table": make_table(
            table,
            f"de-{slug(name)}",
            de_columns(alpha, contrast.get("kind", "wald")),
            f"{name}.de.tsv",
            max_rows=top,
            download=Path(paths["table"]).read_bytes(),
        ),
        "crosscheck": crosscheck,
        "figures": [
            figure(
                paths["volcano"],
                f"Volcano plot: {label}",
                f"Each point is a gene: log2 fold change ({label}) against -log10 p-value. "
                f"Genes with adjusted p < {alpha} are coloured; the most significant are "
                f"labelled. Look at both tails: genes up in {level_label(contrast['test'])} on "
                f"the right, up in {level_label(contrast['reference'])} on the left.",
                size="half",
            ),
            figure(
                paths["ma"],
                f"MA plot: {label}",
                "log2 fold change against mean normalised count. Significant genes "
                "should be spread over the range of expression; a cloud of calls at low "
                "counts only, or a tilt of the whole cloud, points to a normalisation "
                "problem.",
                size="half",
            ),
        ],
    }


GSEA_REQUIRED = [
    "term",
    "description",
    "size",
    "nes",
    "pvalue",
    "fdr",
    "leading_edge",
    "group",
    "representative",
]


ORA_REQUIRED = [
    "term",
    "description",
    "size",
    "overlap",
    "odds_ratio",
    "pvalue",
    "fdr",
    "genes",
    "group",
    "representative",
]


def _significant_terms(frame: pd.DataFrame) -> pd.DataFrame:
    """Significant terms: those the enrichment stage placed in a group."""
    if not len(frame):
        return frame
    return frame[frame["group"].notna() & (frame["group"].astype(str) != "")]


def _representative(frame: pd.DataFrame) -> pd.DataFrame:
    significant = _significant_terms(frame)
    if not len(significant):
        return significant
    representative = significant[[truthy(v) for v in significant["representative"]]]
    counts = significant.groupby("group").size()
    return representative.assign(
        group_size=[int(counts.get(g, 1)) for g in representative["group"]]
    )


def gsea_columns() -> list[Column]:
    return [
        Column("term", "gene set"),
        Column("description", "description"),
        num_column(
            "nes",
            "NES",
            2,
            "normalised enrichment score: > 0 enriched among genes up in the test group",
        ),
        Column(
            "size", "genes", format_int, numeric=True, help="genes of the set found in the ranking"
        ),
        p_column("pvalue", "p-value"),
        p_column("fdr", "FDR"),
        Column(
            "group_size",
            "similar sets",
            format_int,
            numeric=True,
            help="significant sets in its group of overlapping sets (this one represents them)",
        ),
        Column(
            "leading_edge",
            "leading edge",
            format_genes(8),
            help="genes driving the enrichment (first 8)",
        ),
    ]


def ora_columns() -> list[Column]:
    return [
        Column("term", "gene set"),
        Column("description", "description"),
        Column("overlap", "overlap", format_int, numeric=True, help="DE genes in the set"),
        Column(
            "size", "genes", format_int, numeric=True, help="genes of the set in the background"
        ),
        num_column("odds_ratio", "odds ratio", 2),
        p_column("pvalue", "p-value"),
        p_column("fdr", "FDR"),
        Column("group_size", "similar sets", format_int, numeric=True),
        Column("genes", "genes", format_genes(8)),
    ]


def enrichment_section(
    files: ResultFiles, name: str, collection: str, contrast: dict, config: dict, top_terms: int
) -> dict:
    paths = files.enrichment(name, collection)
    fdr = config.get("enrichment", {}).get("fdr", 0.05)
    test = level_label(contrast["test"])
    base = f"{slug(name)}-{slug(collection)}"
    analyses = []
    kinds = (
        ("gsea", "GSEA (preranked)", GSEA_REQUIRED, gsea_columns()),
        ("ora_up", f"Over-representation among genes up in {test}", ORA_REQUIRED, ora_columns()),
        (
            "ora_down",
            f"Over-representation among genes down in {test}",
            ORA_REQUIRED,
            ora_columns(),
        ),
    )
    lrt = contrast.get("kind") == "lrt"
    if lrt:  # no direction: ORA of the significant genes (written as ora_up) only
        kinds = (("ora_up", "Over-representation among the significant genes (any "
                  "direction; the likelihood-ratio test has none)", ORA_REQUIRED, ora_columns()),)
    for key, title, required, columns in kinds:
        frame = read_tsv(paths[key], required, f"{key} enrichment results")
        significant = _significant_terms(frame)
        representative = _representative(frame)
        if len(representative):
            representative = representative.sort_values(["pvalue", "term"], kind="mergesort")
        direction = key == "gsea" and len(significant)
        analyses.append(
            {
                "key": key,
                "title": title,
                "tested": len(frame),
                "significant": len(significant),
                "representative": len(representative),
                "up": int((significant["nes"] > 0).sum()) if direction else None,
                "down": int((significant["nes"] < 0).sum()) if direction else None,
                "table": (
                    make_table(
                        representative,
                        f"enr-{base}-{key}",
                        columns,
                        f"{name}.{collection}.{key}.tsv",
                        max_rows=top_terms,
                        download=Path(paths[key]).read_bytes(),
                    )
                    if len(representative)
                    else None
                ),
                "best": _best_term(frame),
            }
        )
    return {
        "collection": collection,
        "id": f"enr-{base}",
        "fdr": fdr,
        "analyses": analyses,
        "figures": [] if lrt else [
            figure(
                paths["dotplot"],
                f"{collection}: top gene sets",
                "Most significant gene sets (one per group of overlapping sets; the label "
                "says how many similar sets it stands for): position is the normalised "
                "enrichment score, dot size the number of leading-edge genes, colour the "
                f"-log10 FDR. Sets on the right are enriched among genes up in {test}, on "
                "the left among genes down.",
            ),
            figure(
                paths["gsea_top"],
                f"{collection}: running enrichment scores",
                "Running-sum enrichment score along the ranked gene list for the top sets; "
                "the ticks mark the set's genes. A peak near the left end means the set's "
                "genes sit among the most up-regulated genes, near the right end among "
                "the most down-regulated.",
            ),
        ],
    }


def _best_term(frame: pd.DataFrame) -> dict | None:
    if not len(frame):
        return None
    best = frame.sort_values(["pvalue", "term"], kind="mergesort").iloc[0]
    return {
        "description": format_text(best["term"]),
        "fdr": format_p(best["fdr"]),
    }


def enrichment_overview(
    files: ResultFiles, contrasts: list[str], collections: list[str]
) -> Table | None:
    summary = read_tsv(
        files.enrichment_summary,
        ["contrast", "collection", "analysis", "sets_tested", "significant", "top_term", "top_fdr"],
        "enrichment summary",
    )
    return make_table(
        summary,
        "enrichment-summary",
        [
            Column("contrast", "contrast"),
            Column("collection", "collection"),
            Column("analysis", "analysis"),
            Column("sets_tested", "sets tested", format_int, numeric=True),
            Column("significant", "significant", format_int, numeric=True),
            Column("top_term", "top set"),
            p_column("top_fdr", "its FDR"),
        ],
        "enrichment_summary.tsv",
    )
