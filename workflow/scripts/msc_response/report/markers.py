"""The report's marker sections: the contrast's marker genes, the curated panel's
verdicts and the response signature with its cross-validated AUROC."""

from __future__ import annotations

from pathlib import Path

from msc_response.report.blocks import (
    Column,
    figure,
    format_fixed,
    format_int,
    format_mean,
    format_p,
    format_text,
    make_table,
    missing,
    num_column,
)
from msc_response.report.files import ResultFiles
from msc_response.report.reading import contrast_label, level_label, padj_column, read_tsv, slug

MARKERS_REQUIRED = ["gene_id", "symbol", "direction", "rank", "log2FoldChange", "padj", "auroc"]


PANEL_REQUIRED = [
    "panel",
    "symbol",
    "gene_id",
    "status",
    "baseMean",
    "log2FoldChange",
    "padj",
    "auroc",
]


SIGNATURE_REQUIRED = ["gene_id", "symbol", "selection_frequency", "mean_coefficient"]


PERFORMANCE_REQUIRED = [
    "auroc_mean",
    "auroc_ci_low",
    "auroc_ci_high",
    "null_auroc_mean",
    "n_test",
    "n_reference",
]


def marker_columns(alpha: float) -> list[Column]:
    return [
        Column("symbol", "symbol"),
        Column("gene_id", "gene ID"),
        Column("direction", "direction", css=lambda v: slug(v)),
        Column("rank", "rank", format_int, numeric=True),
        Column("baseMean", "mean count", format_mean, numeric=True),
        Column(
            "mean_test",
            "mean (test)",
            format_mean,
            numeric=True,
            help="mean normalised count in the test group",
        ),
        Column("mean_reference", "mean (reference)", format_mean, numeric=True),
        num_column("log2FoldChange_shrunk", "log2 FC (shrunk)", 2),
        num_column("log2FoldChange", "log2 FC", 2),
        padj_column(alpha),
        num_column(
            "frac_expressed_test",
            "expressed in test",
            2,
            "fraction of test samples with the gene detected",
        ),
        num_column("frac_expressed_reference", "expressed in reference", 2),
        num_column(
            "auroc", "AUROC", 2, "how well the gene alone separates the groups (0.5: not at all)"
        ),
        num_column("auroc_ci_low", "AUROC CI low", 2),
        num_column("auroc_ci_high", "AUROC CI high", 2),
    ]


def panel_columns(alpha: float) -> list[Column]:
    return [
        Column("symbol", "symbol"),
        Column("panel", "panel"),
        Column("status", "status", css=lambda v: "status-" + slug(v)),
        Column("baseMean", "mean count", format_mean, numeric=True),
        num_column("log2FoldChange_shrunk", "log2 FC (shrunk)", 2),
        num_column("log2FoldChange", "log2 FC", 2),
        padj_column(alpha),
        num_column("auroc", "AUROC", 2),
        Column("note", "note"),
        Column("gene_id", "gene ID"),
    ]


SIGNATURE_NOT_RUN = {
    "skipped": True,
    "not_run": True,
    "note": "the marker stage was run without it (markers.signature.enabled is false)",
    "table": None,
    "figure": None,
}


def markers_section(
    files: ResultFiles, name: str, contrast: dict, config: dict, top: int, signature: bool
) -> dict:
    """Marker genes and the curated panel of one contrast."""
    paths = files.markers(name)
    alpha = config["diffexp"]["alpha"]
    markers = read_tsv(paths["markers"], MARKERS_REQUIRED, "marker genes")
    panel = read_tsv(paths["panel"], PANEL_REQUIRED, "curated panel")
    test, reference = level_label(contrast["test"]), level_label(contrast["reference"])
    panels = [
        {
            "name": format_text(panel_name),
            "genes": [
                {"symbol": format_text(r["symbol"]), "status": format_text(r["status"])}
                for _, r in rows.iterrows()
            ],
        }
        for panel_name, rows in (panel.groupby("panel", sort=False) if len(panel) else [])
    ]
    direction = markers["direction"].astype(str)
    return {
        "n_markers": len(markers),
        "n_up": int((direction == "up").sum()),
        "n_down": int((direction == "down").sum()),
        "table": make_table(
            # up markers first, each direction by rank
            markers.assign(_down=markers["direction"].astype(str) != "up")
            .sort_values(["_down", "rank", "symbol"], kind="mergesort")
            .drop(columns="_down"),
            f"markers-{slug(name)}",
            marker_columns(alpha),
            f"{name}.markers.tsv",
            max_rows=top,
            download=Path(paths["markers"]).read_bytes(),
        ),
        "panel": make_table(
            panel,
            f"panel-{slug(name)}",
            panel_columns(alpha),
            f"{name}.panel.tsv",
            download=Path(paths["panel"]).read_bytes(),
        ),
        "panels": panels,
        "signature": (signature_section(files, name, contrast) if signature else SIGNATURE_NOT_RUN),
        "marker_figures": [
            figure(
                paths["strip_top"],
                "Top markers per sample",
                f"Normalised counts of the strongest markers, one point per sample, split by "
                f"group ({test}, {reference}). A good marker separates the groups with little "
                "overlap, not only on average.",
            ),
            figure(
                paths["heatmap"],
                "Marker heatmap",
                "Scaled expression of the top markers (rows) across samples (columns), with "
                "the sample annotations on top. Look for a block structure that follows the "
                "response groups rather than batch or source.",
                "half",
            ),
        ],
        "panel_figures": [
            figure(
                paths["volcano_panel"],
                "Curated panel on the volcano plot",
                "The genes of the curated panels highlighted among all genes. Panel genes in "
                "the coloured tails are significant in this cohort; panel genes in the grey "
                "centre are not.",
                "half",
            ),
            figure(
                paths["panel_dotplot"],
                "Curated panel by group",
                "Panel genes (columns) in each group of samples (rows): colour is the mean "
                "expression scaled per gene, dot size the fraction of samples expressing it. "
                f"Look for genes whose colour differs between {test} and {reference} rows "
                "within the same tissue source.",
                "half",
            ),
            figure(
                paths["strip_panel"],
                "Curated panel per sample",
                f"Normalised counts of the panel genes per sample and group ({test}, "
                f"{reference}). Look for genes whose groups barely overlap.",
            ),
        ],
    }


def signature_section(files: ResultFiles, name: str, contrast: dict) -> dict:
    """The multi-gene response signature and its cross-validated AUROC against the null."""
    paths = files.markers(name)
    signature = read_tsv(paths["signature"], SIGNATURE_REQUIRED, "response signature")
    performance = read_tsv(
        paths["signature_performance"], PERFORMANCE_REQUIRED, "signature performance"
    )
    result = performance.iloc[0].to_dict() if len(performance) else {}
    status = format_text(result.get("status", "")) or ("ok" if result else "skipped")
    two = format_fixed(2)
    return {
        "skipped": status != "ok" or missing(result.get("auroc_mean")),
        "status": status,
        "note": format_text(result.get("note", "")),
        "auroc": two(result.get("auroc_mean")),
        "ci_low": two(result.get("auroc_ci_low")),
        "ci_high": two(result.get("auroc_ci_high")),
        "null": two(result.get("null_auroc_mean")),
        "n_test": format_int(result.get("n_test")),
        "n_reference": format_int(result.get("n_reference")),
        # written by the signature stage beyond the contract's columns, shown when there
        "null_q95": two(result.get("null_auroc_q95")),
        "p_value": format_p(result.get("p_value")),
        "permutations": format_int(result.get("permutations")),
        "range_low": two(result.get("cv_repeat_range_low")),
        "range_high": two(result.get("cv_repeat_range_high")),
        "repeats": format_int(result.get("repeats")),
        "outer_folds": format_int(result.get("outer_folds")),
        "n_genes": len(signature),
        "table": (
            make_table(
                signature.sort_values(
                    ["selection_frequency", "symbol"], ascending=[False, True], kind="mergesort"
                ),
                f"signature-{slug(name)}",
                [
                    Column("symbol", "symbol"),
                    Column("gene_id", "gene ID"),
                    num_column(
                        "selection_frequency",
                        "selected in",
                        2,
                        "fraction of cross-validation fits that chose the gene",
                    ),
                    num_column(
                        "mean_coefficient",
                        "mean coefficient",
                        3,
                        "> 0: higher expression raises the score for the test group",
                    ),
                ],
                f"{name}.signature.tsv",
                download=Path(paths["signature"]).read_bytes(),
            )
            if len(signature)
            else None
        ),
        "figure": figure(
            paths["signature_roc"],
            f"Response signature: ROC ({contrast_label(contrast)})",
            "Left: ROC curves of the signature on held-out samples (no sample scores "
            "itself), one per repeat of the cross-validation, beside those with permuted "
            "labels. Right: the AUROC of each repeat against the permutation null. Judge "
            "the signature by the gap between the two, not by the curve alone.",
        ),
    }


def kind_markers_section(
    files: ResultFiles, name: str, contrast: dict, config: dict, top: int
) -> dict:
    """The marker table and figure of a continuous or LRT contrast (markers.kinds)."""
    paths = files.kind_markers(name)
    alpha = config["diffexp"]["alpha"]
    markers = read_tsv(paths["markers"], ["gene_id", "symbol", "rank", "padj"], "marker genes")
    if contrast["kind"] == "continuous":
        variable = contrast["variable"]
        columns = [
            Column("symbol", "symbol"),
            Column("direction", "direction", css=lambda v: slug(v)),
            Column("rank", "rank", format_int, numeric=True),
            Column("baseMean", "mean count", format_mean, numeric=True),
            num_column("log2FoldChange_shrunk", "log2FC per unit (shrunk)"),
            padj_column(alpha),
            num_column("spearman", "Spearman rho", help=f"rank correlation with {variable}, covariate-adjusted VST"),
            num_column("spearman_ci_low", "rho 95% low"),
            num_column("spearman_ci_high", "rho 95% high"),
        ]
        lead = (f"{len(markers)} genes follow {variable} (adjusted p < {alpha}), ranked by "
                f"their per-unit log2 fold change; the Spearman correlation with its "
                f"bootstrap interval says how closely each follows it, in place of an AUROC.")
        caption = (f"Covariate-adjusted expression (VST) of the top genes against {variable}, "
                   f"one point per sample, with a least-squares line.")
    else:
        means = [c for c in markers.columns if c.startswith("mean_")]
        columns = [
            Column("symbol", "symbol"),
            Column("rank", "rank", format_int, numeric=True),
            Column("baseMean", "mean count", format_mean, numeric=True),
            num_column("stat", "LRT statistic", 1),
            padj_column(alpha),
        ] + [Column(c, c.removeprefix("mean_").replace("_", " "), format_mean, numeric=True)
             for c in means]
        lead = (f"The {len(markers)} most significant genes of the likelihood-ratio test, "
                f"with their mean normalised count in each level of the tested factor (in "
                f"place of an AUROC, which needs two groups).")
        caption = ("The top genes' covariate-adjusted expression averaged per level of the "
                   "tested factor, z-scored per gene: which levels differ, gene by gene.")
    return {
        "lead": lead,
        "table": make_table(markers, f"markers-{slug(name)}", columns, f"{name}.markers.tsv",
                            max_rows=top, download=Path(paths["markers"]).read_bytes()),
        "figures": [figure(paths["figure"], "Top genes", caption)],
    }
