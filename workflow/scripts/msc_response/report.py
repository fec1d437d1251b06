"""The HTML report: the workflow's result tables and figures in one offline page.

`ResultFiles` names every file the report reads (the paths fixed in the project's
contracts); the Snakemake rule takes its inputs from it, so the rule and the reader
cannot drift apart. `build_context` reads those files into plain dicts, tables and
embedded figures; `render` fills the Jinja2 template `templates/report.html.j2`
with them. The page needs nothing but itself: figures are base64 PNGs, CSS and
JavaScript are inlined, and every table carries its own data for the TSV download.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import jinja2
import pandas as pd

from .errors import InputError
from .report_files import ResultFiles, Stages
from .report_blocks import (
    Column,
    Table,
    figure,
    format_fixed,
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

TEMPLATES = Path(__file__).parent / "templates"
MAIN_TEMPLATE = "report.html.j2"
METHODS_TEMPLATE = "methods.txt.j2"

CITATIONS = {
    "deseq2": "Love MI, Huber W, Anders S (2014). Moderated estimation of fold change and "
    "dispersion for RNA-seq data with DESeq2. Genome Biology 15:550. doi:10.1186/s13059-014-0550-8",
    "pydeseq2": "Muzellec B, Teleńczuk M, Cabeli V, Andreux M (2023). PyDESeq2: a python "
    "package for bulk RNA-seq differential expression analysis. Bioinformatics 39:btad547. "
    "doi:10.1093/bioinformatics/btad547",
    "gseapy": "Fang Z, Liu X, Peltz G (2023). GSEApy: a comprehensive package for performing "
    "gene set enrichment analysis in Python. Bioinformatics 39:btac757. "
    "doi:10.1093/bioinformatics/btac757",
    "gsea": "Subramanian A, Tamayo P, Mootha VK, et al. (2005). Gene set enrichment analysis: "
    "a knowledge-based approach for interpreting genome-wide expression profiles. PNAS "
    "102:15545-15550. doi:10.1073/pnas.0506580102",
    "fgsea": "Korotkevich G, Sukhov V, Budin N, Shpak B, Artyomov MN, Sergushichev A "
    "(2016, revised 2021). Fast gene set enrichment analysis. bioRxiv 060012. doi:10.1101/060012",
    "go": "The Gene Ontology Consortium (2023). The Gene Ontology knowledgebase in 2023. "
    "Genetics 224:iyad031. doi:10.1093/genetics/iyad031",
    "snakemake": "Mölder F, Jablonski KP, Letcher B, et al. (2021). Sustainable data analysis "
    "with Snakemake. F1000Research 10:33. doi:10.12688/f1000research.29032.2",
    "scanpy": "Wolf FA, Angerer P, Theis FJ (2018). SCANPY: large-scale single-cell gene "
    "expression data analysis. Genome Biology 19:15. doi:10.1186/s13059-017-1382-0",
    "altaner": "Altaner C, Altanerova V, Cihova M, et al. (2013). Characterization of "
    'mesenchymal stem cells of "no-options" patients with critical limb ischemia treated '
    "by autologous bone marrow mononuclear cells. PLoS ONE 8:e73722. "
    "doi:10.1371/journal.pone.0073722",
    "liang": "Liang H, Zhao B, Ren Y, Li P, Dai X (2025). Application of Wharton's jelly "
    "mesenchymal stem cells in critical limb ischemia. Journal of Endovascular Therapy. "
    "doi:10.1177/15266028251361770",
    "isct": "Dominici M, Le Blanc K, Mueller I, et al. (2006). Minimal criteria for defining "
    "multipotent mesenchymal stromal cells. The International Society for Cellular Therapy "
    "position statement. Cytotherapy 8:315-317. doi:10.1080/14653240600855905",
}


# ---------------------------------------------------------------------------
# Reading the result tables


def read_tsv(path: str | Path, required: Iterable[str] = (), what: str = "") -> pd.DataFrame:
    """A result table; an error naming the file and the missing columns if it does not
    have the columns the report relies on (a stage wrote something else)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Report input '{path}' does not exist; rerun the workflow.")
    if path.stat().st_size == 0:
        frame = pd.DataFrame()
    else:
        try:
            frame = pd.read_csv(path, sep="\t", keep_default_na=True, na_values=["NA"])
        except pd.errors.EmptyDataError:
            frame = pd.DataFrame()
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(
            f"Report input '{path}'{f' ({what})' if what else ''} lacks the column(s) "
            f"{', '.join(missing)}; it was written by an older or different version of the "
            f"stage that makes it. Delete it and rerun the workflow."
        )
    return frame


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", str(text)).strip("-").lower() or "x"


def _level(value) -> str:
    return format_text(value).replace("_", " ")


def contrast_label(contrast: dict) -> str:
    return f"{_level(contrast['test'])} vs {_level(contrast['reference'])}"


# ---------------------------------------------------------------------------
# Sections


# audit.COLUMNS; not imported, as audit.py would bring formulaic into the report env
DESIGN_AUDIT_REQUIRED = [
    "section",
    "variable",
    "level",
    "covariate",
    "measure",
    "value",
    "flag",
    "message",
]


def categorical_design_variables(audit: pd.DataFrame) -> list[str]:
    """The design's categorical variables, in formula order, as the design audit found
    them (it counts samples per level of each)."""
    if not len(audit):
        return []
    levels = audit[audit["section"] == "samples_per_level"]
    return list(dict.fromkeys(levels["variable"].astype(str)))


def cohort_section(
    sheet: pd.DataFrame, audit: pd.DataFrame, audit_bytes: bytes, config: dict
) -> dict:
    """Samples per group and covariate (from the sheet) and the design audit."""
    contrast_variables = list(dict.fromkeys(c["variable"] for c in config["contrasts"].values()))
    categorical = [v for v in categorical_design_variables(audit) if v in sheet.columns]
    crosstabs = []
    for variable in contrast_variables:
        for covariate in [v for v in categorical if v != variable]:
            counts = pd.crosstab(
                sheet[variable], sheet[covariate], margins=True, margins_name="total"
            )
            crosstabs.append(
                {
                    "variable": variable,
                    "covariate": covariate,
                    "columns": [format_text(c) for c in counts.columns],
                    "rows": [
                        {"level": format_text(level), "counts": [int(n) for n in row]}
                        for level, row in counts.iterrows()
                    ],
                }
            )
    groups = [
        {
            "variable": variable,
            "levels": [
                {"level": format_text(level), "n": int(n)}
                for level, n in sheet[variable].value_counts(sort=False).sort_index().items()
            ],
        }
        for variable in contrast_variables
        if variable in sheet.columns
    ]
    sheet_columns = [Column("sample", "sample")] + [
        Column(
            c,
            c,
            format_general if c not in categorical and _is_numeric(sheet[c]) else format_text,
            numeric=c not in categorical and _is_numeric(sheet[c]),
        )
        for c in sheet.columns
        if c != "sample"
    ]
    flagged = audit[audit["flag"].astype(str) != "ok"] if len(audit) else audit
    design_rows = audit[audit["section"] == "design"] if len(audit) else audit
    design_facts = {
        row["measure"]: format_general(row["value"]) for _, row in design_rows.iterrows()
    }
    association = audit[audit["section"] == "association"] if len(audit) else audit
    audit_columns = [
        Column("section", "section"),
        Column("variable", "variable"),
        Column("level", "level"),
        Column("covariate", "covariate"),
        Column("measure", "measure"),
        Column("value", "value", format_general, numeric=True),
        Column("flag", "flag", css=lambda v: "flag-" + slug(v) if format_text(v) != "ok" else ""),
        Column("message", "message"),
    ]
    return {
        "n_samples": len(sheet),
        "design": config["design"],
        "groups": groups,
        "crosstabs": crosstabs,
        "design_facts": design_facts,
        "audit_flags": [
            {
                "flag": format_text(row["flag"]),
                "text": format_text(row["message"])
                or f"{row['variable']} / {format_text(row['covariate'])}: {row['measure']} = {format_general(row['value'])}",
            }
            for _, row in flagged.iterrows()
        ],
        "association": make_table(
            association, "audit-association", audit_columns, "design_association.tsv"
        ),
        "audit": make_table(
            audit, "design-audit", audit_columns, "design_audit.tsv", download=audit_bytes
        ),
        "sheet": make_table(sheet, "sample-sheet", sheet_columns, "samples.tsv"),
    }


def _is_numeric(column: pd.Series) -> bool:
    return bool(len(column)) and not pd.to_numeric(column, errors="coerce").isna().any()


SAMPLES_QC_REQUIRED = [
    "sample",
    "library_size",
    "detected_genes",
    "size_factor",
    "flag",
    "flag_reason",
]
IDENTITY_REQUIRED = ["sample", "flagged", "reason", "positive_score", "negative_score"]


def qc_section(files: ResultFiles, sheet: pd.DataFrame, variables: list[str], config: dict) -> dict:
    """Per-sample QC with the outlier flags of sample_qc and the MSC identity check."""
    qc = read_tsv(files.samples_qc, SAMPLES_QC_REQUIRED, "per-sample QC")
    identity = read_tsv(files.identity, IDENTITY_REQUIRED, "MSC identity check")
    identity = identity.assign(flagged=[truthy(v) for v in identity["flagged"]])
    prefixed = identity[IDENTITY_REQUIRED].rename(
        columns=lambda c: c if c == "sample" else f"identity_{c}"
    )
    merged = qc.merge(prefixed, on="sample", how="left")
    variables = [v for v in variables if v in sheet.columns]
    merged = merged.merge(sheet[["sample", *variables]], on="sample", how="left")
    flag = merged["flag"].fillna("ok").astype(str)
    merged["flag"] = flag
    merged["flag_reason"] = merged["flag_reason"].fillna("").astype(str)
    columns = [
        Column("sample", "sample"),
        *[Column(v, v) for v in variables],
        Column("library_size", "library size", format_int, numeric=True, help="reads counted"),
        Column(
            "detected_genes",
            "genes detected",
            format_int,
            numeric=True,
            help="genes with a count > 0",
        ),
        num_column("size_factor", "size factor", 2),
        Column("flag", "QC flag", css=lambda v: f"flag-{slug(v)}"),
        Column("flag_reason", "QC reason"),
        Column(
            "identity_flagged",
            "identity flagged",
            format_text,
            css=lambda v: "flag-outlier" if truthy(v) else "",
            help="fails the ISCT marker profile (Dominici et al. 2006)",
        ),
        Column("identity_reason", "identity reason"),
        num_column("identity_positive_score", "ISCT positive score", 2),
        num_column("identity_negative_score", "ISCT negative score", 2),
    ]
    table = merged.copy()
    table["identity_flagged"] = [
        "" if missing(v) else ("yes" if truthy(v) else "no") for v in table["identity_flagged"]
    ]
    figures = files.qc_figures()
    return {
        "n_samples": len(qc),
        "outliers": _flag_list(merged, flag == "outlier"),
        "notes": _flag_list(merged, flag == "note"),
        "identity_flagged": [
            {"sample": row["sample"], "reason": format_text(row["reason"])}
            for _, row in identity[identity["flagged"]].iterrows()
        ],
        "table": make_table(table, "samples-qc", columns, "samples_qc.tsv", download=merged),
        "figures": [
            figure(
                figures["library_sizes"],
                "Library sizes",
                "Reads counted and genes detected per sample. Look for bars far below the "
                "others: a small library or few detected genes is a failed or degraded "
                "sample; flagged samples are drawn in red.",
            ),
            figure(
                figures["pca"],
                "PCA of the variance-stabilised counts",
                "The first two principal components, one panel per design variable. Look "
                "for samples far from all others (possible outliers or swaps) and for "
                "separation by batch or tissue source rather than by response: the design "
                "adjusts for covariates, but a dominant batch effect deserves a note.",
            ),
            figure(
                figures["sample_distances"],
                "Sample-to-sample distances",
                "Euclidean distances on the variance-stabilised counts, clustered. Look for "
                "a sample whose row is dark against every other sample, and for blocks "
                "that follow batch or source.",
                size="half",
            ),
        ],
    }


def _flag_list(frame: pd.DataFrame, mask: pd.Series) -> list[dict]:
    return [
        {"sample": row["sample"], "reason": format_text(row["flag_reason"])}
        for _, row in frame[mask.to_numpy()].iterrows()
    ]


DE_REQUIRED = ["gene_id", "symbol", "baseMean", "log2FoldChange", "pvalue", "padj"]
SUMMARY_REQUIRED = ["genes", "up", "down"]


def padj_column(alpha: float, help: str = "") -> Column:
    """Adjusted p-values, marked significant below `alpha`."""
    return Column(
        "padj",
        "adjusted p",
        format_p,
        numeric=True,
        help=help,
        css=lambda v: "sig" if not missing(v) and float(v) < alpha else "",
    )


def de_columns(alpha: float) -> list[Column]:
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
        num_column("log2FoldChange", "log2 FC", 2, "log2 fold change, test over reference (MLE)"),
        num_column(
            "log2FoldChange_shrunk",
            "log2 FC (shrunk)",
            2,
            "shrunken log2 fold change: use for ranking and effect sizes",
        ),
        num_column("lfcSE", "SE", 2, "standard error of the log2 fold change"),
        num_column("stat", "Wald stat", 2),
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
            de_columns(alpha),
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
                f"labelled. Look at both tails: genes up in {_level(contrast['test'])} on "
                f"the right, up in {_level(contrast['reference'])} on the left.",
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
    test = _level(contrast["test"])
    base = f"{slug(name)}-{slug(collection)}"
    analyses = []
    for key, title, required, columns in (
        ("gsea", "GSEA (preranked)", GSEA_REQUIRED, gsea_columns()),
        ("ora_up", f"Over-representation among genes up in {test}", ORA_REQUIRED, ora_columns()),
        (
            "ora_down",
            f"Over-representation among genes down in {test}",
            ORA_REQUIRED,
            ora_columns(),
        ),
    ):
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
        "figures": [
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
    test, reference = _level(contrast["test"]), _level(contrast["reference"])
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
        "sampling_low": two(result.get("auroc_sampling_ci_low")),
        "sampling_high": two(result.get("auroc_sampling_ci_high")),
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


# ---------------------------------------------------------------------------
# Methods: versions, parameters, checksums, text


def flatten(mapping, prefix: str = "") -> list[tuple[str, str]]:
    """Nested config -> sorted ('diffexp.alpha', '0.05') pairs; lists as JSON."""
    pairs = []
    for key in mapping:
        value = mapping[key]
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            pairs += flatten(value, name + ".")
        elif isinstance(value, (dict, list, tuple)):
            pairs.append((name, json.dumps(value, sort_keys=True, default=str)))
        elif value is None:
            pairs.append((name, "null"))
        elif isinstance(value, bool):
            pairs.append((name, "true" if value else "false"))
        else:
            pairs.append((name, str(value)))
    return pairs


def checksum_rows(inputs: dict) -> list[dict]:
    rows = []
    for name, entry in (inputs or {}).items():
        if name == "gene_sets":
            for collection, sub in (entry or {}).items():
                rows.append(_checksum_row(f"gene sets: {collection}", sub))
        else:
            rows.append(_checksum_row(name, entry))
    return rows


def _checksum_row(name: str, entry) -> dict:
    entry = entry or {}
    return {
        "input": name,
        "path": format_text(entry.get("path", "")) or "(none)",
        "sha256": format_text(entry.get("sha256", "")),
        "bytes": format_int(entry["bytes"]) if "bytes" in entry else "",
    }


def read_provenance(path: str | Path) -> dict:
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(
            f"Report input '{path}' is not readable JSON ({err}); rerun rule provenance."
        ) from None
    missing = [k for k in ("workflow", "config", "tools", "inputs") if k not in record]
    if missing:
        raise InputError(
            f"Report input '{path}' lacks {', '.join(missing)}; rerun rule provenance."
        )
    return record


def methods_section(provenance: dict, config: dict, facts: dict, env: jinja2.Environment) -> dict:
    tools = provenance.get("tools", {})
    parameters = flatten(config)
    text = env.get_template(METHODS_TEMPLATE).render(
        config=config, tools=tools, facts=facts, provenance=provenance
    )
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]
    return {
        "workflow": provenance.get("workflow", {}),
        "created": provenance.get("created", ""),
        "platform": provenance.get("platform", {}),
        "tools": sorted(
            ((name, version or "not installed") for name, version in tools.items()),
            key=lambda item: item[0].lower(),
        ),
        "parameters": make_table(
            pd.DataFrame(parameters, columns=["parameter", "value"]),
            "parameters",
            [Column("parameter", "parameter"), Column("value", "value")],
            "parameters.tsv",
        ),
        "checksums": checksum_rows(provenance.get("inputs", {})),
        "outputs": make_table(
            pd.DataFrame(
                [
                    _checksum_row(name, entry)
                    for name, entry in (provenance.get("outputs") or {}).items()
                ],
                columns=["input", "path", "sha256", "bytes"],
            ).drop(columns="input"),
            "result-checksums",
            [
                Column("path", "file"),
                Column("bytes", "bytes", numeric=True),
                Column("sha256", "sha256"),
            ],
            "result_checksums.tsv",
        ),
        "paragraphs": paragraphs,
        "citations": list(CITATIONS.values()),
    }


# ---------------------------------------------------------------------------
# Assembly


@dataclass
class ReportSettings:
    title: str = "msc-response report"
    top_genes: int = 200
    top_terms: int = 20

    @classmethod
    def from_config(cls, config: dict) -> "ReportSettings":
        section = config.get("report", {}) or {}
        return cls(**{k: section[k] for k in ("title", "top_genes", "top_terms") if k in section})


def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html", "html.j2"], default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def build_context(
    files: ResultFiles,
    sheet: pd.DataFrame,
    config: dict,
    stages: Stages = Stages(),
    env: jinja2.Environment | None = None,
) -> dict:
    """Everything the template shows, read from the result files of `files` that the
    run's `stages` made."""
    env = env or environment()
    settings = ReportSettings.from_config(config)
    contrasts = config["contrasts"]
    collections = list(stages.collections)
    audit = read_tsv(files.design_audit, DESIGN_AUDIT_REQUIRED, "design audit")
    cohort = cohort_section(sheet, audit, Path(files.design_audit).read_bytes(), config)
    qc = qc_section(files, sheet, categorical_design_variables(audit), config)
    sections = []
    for name, contrast in contrasts.items():
        sections.append(
            {
                "name": name,
                "id": f"contrast-{slug(name)}",
                "label": contrast_label(contrast),
                "variable": contrast["variable"],
                "test": format_text(contrast["test"]),
                "reference": format_text(contrast["reference"]),
                "de": de_section(
                    files, name, contrast, config, settings.top_genes, stages.crosscheck
                ),
                "enrichment": [
                    enrichment_section(
                        files, name, collection, contrast, config, settings.top_terms
                    )
                    for collection in collections
                ],
                "markers": markers_section(
                    files, name, contrast, config, settings.top_genes, stages.signature
                ),
            }
        )
    provenance = read_provenance(files.provenance)
    facts = {
        "n_samples": len(sheet),
        "n_genes": sections[0]["de"]["counts"]["genes"] if sections else None,
        "contrasts": [
            {
                "name": s["name"],
                "label": s["label"],
                "variable": s["variable"],
                "up": s["de"]["counts"]["up"],
                "down": s["de"]["counts"]["down"],
            }
            for s in sections
        ],
        "collections": collections,
        "source_in_design": "source" in categorical_design_variables(audit),
    }
    return {
        "title": settings.title,
        "created": provenance.get("created", ""),
        "workflow": provenance.get("workflow", {}),
        "cohort": cohort,
        "qc": qc,
        "contrasts": sections,
        "enrichment_summary": (
            enrichment_overview(files, list(contrasts), collections) if collections else None
        ),
        "collections": collections,
        "methods": methods_section(provenance, config, facts, env),
        "settings": settings,
    }


def render(context: dict, env: jinja2.Environment | None = None) -> str:
    env = env or environment()
    # Inlined verbatim (the template marks them safe): our own files, not data.
    assets = {
        "css": (TEMPLATES / "report.css").read_text(),
        "js": (TEMPLATES / "report.js").read_text(),
    }
    return env.get_template(MAIN_TEMPLATE).render(**context, assets=assets)


def write_report(
    files: ResultFiles,
    sheet: pd.DataFrame,
    config: dict,
    output: str | Path,
    stages: Stages = Stages(),
) -> str:
    """Build, render and write the report (atomically); return the HTML."""
    from .io import write_atomically

    env = environment()
    html = render(build_context(files, sheet, config, stages, env), env)
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    write_atomically(output, html.encode("utf-8"))
    return html
