"""The report's cohort and QC sections: samples per group and covariate, the design
audit, per-sample QC flags and the MSC identity check."""

from __future__ import annotations

import pandas as pd

from msc_response.report.blocks import (
    Column,
    figure,
    format_general,
    format_int,
    format_text,
    make_table,
    missing,
    num_column,
    truthy,
)
from msc_response.report.files import ResultFiles
from msc_response.report.reading import categorical_design_variables, read_tsv, slug


def cohort_section(
    sheet: pd.DataFrame, audit: pd.DataFrame, audit_bytes: bytes, config: dict
) -> dict:
    """Samples per group and covariate (from the sheet) and the design audit."""
    categorical = [v for v in categorical_design_variables(audit) if v in sheet.columns]
    # the categorical variables two-level contrasts compare (a continuous variable or
    # an LRT has no groups to count)
    contrast_variables = list(dict.fromkeys(
        c["variable"] for c in config["contrasts"].values()
        if "test" in c and "reference" in c and c.get("variable") in categorical
    ))
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
        *(
            [Column("n_cells", "cells", format_int, numeric=True,
                    help="cells summed into this sample's pseudobulk profile")]
            if "n_cells" in merged.columns else []
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
