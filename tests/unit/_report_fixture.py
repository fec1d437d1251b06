"""A tiny results tree with every file the report reads, shaped as the stages write
them (paths and columns from the project's contracts): two contrasts, two gene-set
collections, QC flags, identity flags, markers, panel, signature, provenance.

`write_results(root, empty=True)` writes the same tree for a cohort where nothing is
significant: no DE gene, no enriched set, no marker, the signature skipped.
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from msc_response.common.tables import write_table
from msc_response.design.audit import COLUMNS as AUDIT_COLUMNS
from msc_response.enrichment.analysis import ORA_COLUMNS
from msc_response.report.files import ResultFiles, Stages

CONTRASTS = {
    "responder_vs_non_responder": {
        "variable": "response",
        "test": "responder",
        "reference": "non_responder",
    },
    "bone_marrow_vs_adipose": {"variable": "source", "test": "bone_marrow", "reference": "adipose"},
}
COLLECTIONS = {
    "go_bp": {"gmt": "resources/gene_sets/go_bp.gmt.gz", "min_size": 15, "max_size": 500},
    "msc_biology": {"gmt": "resources/gene_sets/msc_biology.gmt", "min_size": 3, "max_size": 500},
}
PANEL = {
    "altaner2013": ["IL4", "IL6", "CCL4", "CDH1", "PDX1"],
    "isct_positive": ["NT5E", "THY1", "ENG"],
}
OTHER_GENES = [
    "VEGFA",
    "FGF2",
    "HGF",
    "IGF1",
    "ANGPT1",
    "TGFB1",
    "PTGS2",
    "IDO1",
    "TNFAIP6",
    "CXCL12",
    "COL1A1",
    "COL3A1",
    "FN1",
    "SPARC",
    "ACTA2",
    "TAGLN",
    "MMP2",
    "TIMP1",
    "SERPINE1",
    "CD44",
    "PTPRC",
    "CD34",
    "CD14",
    "HLA-DRA",
    "CD79A",
    "ITGAM",
    "GAPDH",
    "ACTB",
    "B2M",
    "RPLP0",
]


def _sheet() -> pd.DataFrame:
    samples = [f"S{i:02d}" for i in range(1, 13)]
    return pd.DataFrame(
        {
            "sample": samples,
            "response": ["responder"] * 8 + ["non_responder"] * 4,
            "source": (["bone_marrow", "adipose"] * 6),
            "batch": (["b1", "b2", "b3"] * 4),
            "age": [str(50 + 2 * i) for i in range(12)],
        }
    )


def png_bytes(width: int = 600, height: int = 400, dpi: int = 100, seed: int = 0) -> bytes:
    """A small valid PNG (RGB, with a pHYs chunk giving its DPI, as matplotlib writes):
    a pale background with a band of colour, written without a plotting library."""
    rng = np.random.default_rng(seed)
    colour = rng.integers(40, 200, 3).astype(np.uint8)
    pixels = np.full((height, width, 3), 245, dtype=np.uint8)
    pixels[height // 3 : 2 * height // 3, width // 8 : 7 * width // 8] = colour
    raw = b"".join(b"\x00" + row.tobytes() for row in pixels)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    per_metre = round(dpi / 0.0254)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1))
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def _png(path: Path, title: str) -> None:
    Path(path).write_bytes(png_bytes(seed=len(title)))


def _de_table(genes: list[str], empty: bool, rng) -> pd.DataFrame:
    n = len(genes)
    lfc = rng.normal(0, 1.2, n)
    if empty:
        pvalue = rng.uniform(0.2, 1, n)
        padj = np.minimum(1, pvalue * 1.5)
    else:
        pvalue = np.sort(rng.uniform(0, 1, n) ** 4)
        padj = np.minimum(1, pvalue * n / (np.arange(n) + 1))
        lfc[:5] = [2.1, 1.8, 1.5, -1.7, 1.2]  # IL4, IL6, CCL4, CDH1, PDX1 up or down
    table = pd.DataFrame(
        {
            "gene_id": [f"ENSG{i:011d}" for i in range(n)],
            "symbol": genes,
            "baseMean": rng.uniform(5, 5000, n),
            "log2FoldChange": lfc,
            "lfcSE": rng.uniform(0.1, 0.6, n),
            "log2FoldChange_shrunk": lfc * 0.8,
            "lfcSE_shrunk": rng.uniform(0.1, 0.5, n),
            "stat": lfc / 0.3,
            "pvalue": pvalue,
            "padj": padj,
            "status": "tested",
        }
    )
    table.loc[n - 3 :, ["pvalue", "padj", "stat"]] = np.nan
    table.loc[n - 3 :, "status"] = "low_counts"
    table.loc[n - 5 : n - 4, "padj"] = np.nan
    table.loc[n - 5 : n - 4, "status"] = "independent_filtering"
    return table


def _summary(table: pd.DataFrame, name: str, contrast: dict, alpha: float) -> pd.DataFrame:
    significant = table["padj"] < alpha
    return pd.DataFrame(
        [
            {
                "contrast": name,
                "variable": contrast["variable"],
                "test": contrast["test"],
                "reference": contrast["reference"],
                "alpha": alpha,
                "genes": len(table),
                "up": int((significant & (table["log2FoldChange"] > 0)).sum()),
                "down": int((significant & (table["log2FoldChange"] < 0)).sum()),
                "cooks_outlier": 0,
                "independent_filtering": int((table["status"] == "independent_filtering").sum()),
                "low_counts": int((table["status"] == "low_counts").sum()),
            }
        ]
    )


def _gsea(collection: str, empty: bool, rng) -> pd.DataFrame:
    n = 12
    fdr = np.sort(rng.uniform(0.2, 1, n)) if empty else np.sort(rng.uniform(0, 0.35, n) ** 2)
    significant = fdr < 0.05
    groups = [np.nan] * n
    representative = [False] * n
    next_group = 1
    for i in np.flatnonzero(significant):
        groups[i] = (next_group + 1) // 2  # pairs of overlapping sets
        representative[i] = next_group % 2 == 1
        next_group += 1
    frame = pd.DataFrame(
        {
            # as in the shipped GMTs: a readable name, the ID as description
            "term": [
                f"{collection} process {i} <b>&amp;</b>" if i == 0 else f"{collection} pathway {i}"
                for i in range(n)
            ],
            "description": [f"{collection.upper()}:{i:05d}" for i in range(n)],
            "size_gmt": rng.integers(20, 300, n),
            "size": rng.integers(15, 200, n),
            "es": rng.normal(0, 0.5, n),
            "nes": np.where(np.arange(n) % 3 == 2, -1, 1) * rng.uniform(1.2, 2.5, n),
            "pvalue": fdr / 3,
            "fdr": fdr,
            "leading_edge": ["IL6;CCL4;VEGFA;HGF;FGF2;IGF1;TGFB1;PTGS2;IDO1;CXCL12"] * n,
            "group": pd.array([g if not pd.isna(g) else pd.NA for g in groups], dtype="Int64"),
            "representative": representative,
        }
    )
    return frame


def _ora(direction: str, empty: bool, rng) -> pd.DataFrame:
    if empty:
        return pd.DataFrame(columns=ORA_COLUMNS)
    n = 4
    fdr = np.array([0.001, 0.01, 0.2, 0.6])
    return pd.DataFrame(
        {
            "term": [f"GO:{direction}{i}" for i in range(n)],
            "description": [f"{direction} process {i}" for i in range(n)],
            "size_gmt": [40, 60, 80, 100],
            "size": [30, 50, 70, 90],
            "overlap": [6, 5, 3, 2],
            "n_query": [20] * n,
            "n_background": [3000] * n,
            "odds_ratio": [12.5, 8.1, 2.0, 1.1],
            "pvalue": fdr / 4,
            "fdr": fdr,
            "genes": ["IL4;IL6;CCL4"] * n,
            "group": pd.array([1, 1, pd.NA, pd.NA], dtype="Int64"),
            "representative": [True, False, False, False],
        }
    )


def _markers(de: pd.DataFrame, empty: bool, rng) -> pd.DataFrame:
    columns = [
        "gene_id",
        "symbol",
        "direction",
        "rank",
        "baseMean",
        "mean_test",
        "mean_reference",
        "log2FoldChange",
        "log2FoldChange_shrunk",
        "padj",
        "frac_expressed_test",
        "frac_expressed_reference",
        "auroc",
        "auroc_ci_low",
        "auroc_ci_high",
    ]
    if empty:
        return pd.DataFrame(columns=columns)
    top = de.head(10).copy()
    top["direction"] = np.where(top["log2FoldChange"] > 0, "up", "down")
    top["rank"] = np.arange(1, len(top) + 1)
    top["mean_test"] = top["baseMean"] * 1.5
    top["mean_reference"] = top["baseMean"] * 0.7
    top["frac_expressed_test"] = 1.0
    top["frac_expressed_reference"] = 0.75
    top["auroc"] = rng.uniform(0.7, 0.95, len(top))
    top["auroc_ci_low"] = top["auroc"] - 0.15
    top["auroc_ci_high"] = np.minimum(1, top["auroc"] + 0.1)
    return top[columns]


def _panel(de: pd.DataFrame, empty: bool, alpha: float) -> pd.DataFrame:
    rows = []
    by_symbol = de.set_index("symbol")
    for panel, symbols in PANEL.items():
        for symbol in symbols:
            gene = by_symbol.loc[symbol] if symbol in by_symbol.index else None
            if symbol == "PDX1" and empty:
                gene = None
            if gene is None:
                status = "not in data"
            elif pd.isna(gene["padj"]):
                status = "low counts"
            elif gene["padj"] < alpha:
                status = "up" if gene["log2FoldChange"] > 0 else "down"
            else:
                status = "not significant"
            rows.append(
                {
                    "panel": panel,
                    "symbol": symbol,
                    "gene_id": gene["gene_id"] if gene is not None else np.nan,
                    "status": status,
                    "baseMean": gene["baseMean"] if gene is not None else np.nan,
                    "log2FoldChange": gene["log2FoldChange"] if gene is not None else np.nan,
                    "log2FoldChange_shrunk": (
                        gene["log2FoldChange_shrunk"] if gene is not None else np.nan
                    ),
                    "padj": gene["padj"] if gene is not None else np.nan,
                    "auroc": 0.8 if gene is not None else np.nan,
                }
            )
    return pd.DataFrame(rows)


def write_results(root: Path, empty: bool = False) -> dict:
    """Write the tree under `root` (a run directory: results/ and config/ inside it) and
    return the config the report needs (paths relative to `root`)."""
    root = Path(root)
    rng = np.random.default_rng(11)
    files = ResultFiles(str(root / "results"))
    for folder in ("qc", "de", "markers", "enrichment", "config"):
        (root / "results" / folder).mkdir(parents=True, exist_ok=True)
    (root / "config").mkdir(exist_ok=True)
    alpha = 0.05
    sheet = _sheet()
    sheet.to_csv(root / "config" / "samples.tsv", sep="\t", index=False)
    config = {
        "counts": "resources/example/counts.tsv.gz",
        "samples": "config/samples.tsv",
        "annotation": None,
        "design": "~ batch + source + response",
        "categorical_variables": [],
        "contrasts": CONTRASTS,
        "qc": {"vst_blind": True, "pca_top_genes": 500, "outlier_z": 3.5},
        "diffexp": {
            "inference": "fast",
            "dispersion_prior": "r",
            "alpha": alpha,
            "lfc_threshold": 0,
            "prefilter": {"min_count": 10, "min_samples": None},
            "cooks": {"refit": True, "filter": True},
            "independent_filtering": True,
            "independent_filtering_rule": "r",
            "lfc_shrinkage": True,
            "fit_type": "parametric",
            "size_factors_fit_type": "ratio",
            "top_genes_labelled": 10,
        },
        "enrichment": {
            "enabled": True,
            "collections": COLLECTIONS,
            "ranking": "stat",
            "seed": 42,
            "fdr": 0.05,
            "group_overlap": 0.5,
            "ora": {"padj": 0.05, "min_abs_log2fc": 0.5},
        },
        "markers": {"seed": 1},
        "audit": {"warn_association": 0.8},
        "crosscheck_r": {"enabled": False},
        "threads": 2,
        "report": {"title": "MSC response report", "top_genes": 25, "top_terms": 10},
    }

    audit = pd.DataFrame(
        [
            ["samples_per_level", "response", "responder", "", "n_samples", 8, "ok", ""],
            ["samples_per_level", "response", "non_responder", "", "n_samples", 4, "ok", ""],
            ["samples_per_level", "source", "adipose", "", "n_samples", 6, "ok", ""],
            ["samples_per_level", "source", "bone_marrow", "", "n_samples", 6, "ok", ""],
            ["samples_per_level", "batch", "b1", "", "n_samples", 4, "ok", ""],
            ["samples_per_level", "batch", "b2", "", "n_samples", 4, "ok", ""],
            ["samples_per_level", "batch", "b3", "", "n_samples", 4, "ok", ""],
            ["association", "response", "", "source", "cramers_v", 0.0, "ok", ""],
            [
                "association",
                "response",
                "",
                "batch",
                "cramers_v",
                0.85 if not empty else 0.1,
                "nearly_confounded" if not empty else "ok",
                "response and batch are nearly confounded (Cramér's V 0.85)" if not empty else "",
            ],
            ["design", "~ batch + source + response", "", "", "n_samples", 12, "ok", ""],
            ["design", "~ batch + source + response", "", "", "n_coefficients", 5, "ok", ""],
            ["design", "~ batch + source + response", "", "", "rank", 5, "ok", ""],
            ["design", "~ batch + source + response", "", "", "residual_df", 7, "ok", ""],
        ],
        columns=AUDIT_COLUMNS,
    )
    write_table(audit, files.design_audit)

    flags = ["ok"] * 12
    reasons = [""] * 12
    if not empty:
        flags[3], reasons[3] = "outlier", "small library; far from other samples"
        flags[7], reasons[7] = "note", "few detected genes"
    qc = pd.DataFrame(
        {
            "sample": sheet["sample"],
            "library_size": rng.integers(8_000_000, 30_000_000, 12),
            "detected_genes": rng.integers(14000, 16000, 12),
            "size_factor": rng.uniform(0.6, 1.5, 12),
            "PC1": rng.normal(size=12),
            "PC2": rng.normal(size=12),
            "median_distance": rng.uniform(40, 60, 12),
            "flag": flags,
            "flag_reason": reasons,
        }
    )
    write_table(qc, files.samples_qc)
    for name, path in files.qc_figures().items():
        _png(Path(path), name.replace("_", " "))
    identity = pd.DataFrame(
        {
            "sample": sheet["sample"],
            "flagged": [(not empty) and i == 5 for i in range(12)],
            "reason": [
                "PTPRC (CD45) expressed" if (not empty) and i == 5 else "" for i in range(12)
            ],
            "positive_score": rng.uniform(5, 8, 12),
            "negative_score": rng.uniform(0, 2, 12),
        }
    )
    write_table(identity, files.identity)

    genes = [g for symbols in PANEL.values() for g in symbols] + OTHER_GENES
    genes.remove("NT5E")  # a panel gene missing from the data
    summary_rows = []
    for index, (name, contrast) in enumerate(CONTRASTS.items()):
        de_paths = files.de(name)
        table = _de_table(genes, empty or index == 1, rng)
        write_table(table, de_paths["table"])
        write_table(_summary(table, name, contrast, alpha), de_paths["summary"])
        _png(Path(de_paths["ma"]), f"MA plot: {name}")
        _png(Path(de_paths["volcano"]), f"Volcano plot: {name}")
        for collection in COLLECTIONS:
            paths = files.enrichment(name, collection)
            Path(paths["gsea"]).parent.mkdir(parents=True, exist_ok=True)
            gsea = _gsea(collection, empty, rng)
            write_table(gsea, paths["gsea"])
            for key in ("ora_up", "ora_down"):
                write_table(_ora(key, empty or collection == "msc_biology", rng), paths[key])
            write_table(
                pd.DataFrame(
                    {
                        "collection": [collection],
                        "sets_usable": [12],
                        "genes_usable": [35],
                        "gmt_sha256": ["0" * 64],
                    }
                ),
                paths["sets"],
            )
            _png(Path(paths["dotplot"]), f"{collection} dot plot")
            _png(Path(paths["gsea_top"]), f"{collection} running scores")
            significant = gsea[gsea["group"].notna()]
            summary_rows.append(
                [
                    name,
                    collection,
                    "gsea",
                    len(gsea),
                    len(significant),
                    gsea["description"].iloc[0],
                    gsea["fdr"].iloc[0],
                ]
            )
        marker_paths = files.markers(name)
        Path(marker_paths["markers"]).parent.mkdir(parents=True, exist_ok=True)
        write_table(_markers(table, empty, rng), marker_paths["markers"])
        write_table(_panel(table, empty, alpha), marker_paths["panel"])
        if empty:
            signature = pd.DataFrame(
                columns=["gene_id", "symbol", "selection_frequency", "mean_coefficient"]
            )
            performance = pd.DataFrame(
                [
                    {
                        "auroc_mean": np.nan,
                        "auroc_ci_low": np.nan,
                        "auroc_ci_high": np.nan,
                        "null_auroc_mean": np.nan,
                        "n_test": 8,
                        "n_reference": 4,
                        "status": "skipped",
                        "note": "fewer than 5 samples in the reference group for nested cross-validation",
                    }
                ]
            )
        else:
            signature = table.head(4)[["gene_id", "symbol"]].assign(
                selection_frequency=[1.0, 0.9, 0.6, 0.4], mean_coefficient=[0.8, 0.5, -0.3, 0.2]
            )
            performance = pd.DataFrame(
                [
                    {
                        "auroc_mean": 0.78,
                        "auroc_ci_low": 0.5,  # the sampling interval
                        "auroc_ci_high": 1.0,
                        "null_auroc_mean": 0.5,
                        "n_test": 8,
                        "n_reference": 4,
                        "status": "ok",
                        "note": "",
                        # beyond the contract: what the signature stage also writes
                        "null_auroc_q95": 0.66,
                        "p_value": 1 / 100,
                        "permutations": 99,
                        "repeats": 10,
                        "outer_folds": 5,
                        "cv_repeat_range_low": 0.61,
                        "cv_repeat_range_high": 0.93,
                    }
                ]
            )
        write_table(signature, marker_paths["signature"])
        write_table(performance, marker_paths["signature_performance"])
        for key, path in marker_paths.items():
            if path.endswith(".png"):
                _png(Path(path), f"{key} {name}")
    write_table(
        pd.DataFrame(
            summary_rows,
            columns=[
                "contrast",
                "collection",
                "analysis",
                "sets_tested",
                "significant",
                "top_term",
                "top_fdr",
            ],
        ),
        files.enrichment_summary,
    )
    provenance = {
        "workflow": {
            "name": "msc-response",
            "git_commit": "0123456789abcdef0123",
            "git_dirty": False,
            "version": "0.3.0",
        },
        "created": "2026-11-26T01:00:00+00:00",
        "config": config,
        "tools": {
            "python": "3.11.7",
            "snakemake": "9.27.1",
            "pydeseq2": "0.5.4",
            "gseapy": "1.3.1",
            "scanpy": "1.11.5",
            "inmoose": None,
        },
        "platform": {"system": "Linux", "machine": "x86_64", "python_implementation": "CPython"},
        "inputs": {
            "counts": {
                "path": "resources/example/counts.tsv.gz",
                "sha256": "a" * 64,
                "bytes": 123456,
            },
            "samples": {"path": "config/samples.tsv", "sha256": "b" * 64, "bytes": 789},
            "annotation": None,
            "gene_sets": {
                "go_bp": {
                    "path": "resources/gene_sets/go_bp.gmt.gz",
                    "sha256": "c" * 64,
                    "bytes": 1000,
                },
                "msc_biology": {
                    "path": "resources/gene_sets/msc_biology.gmt",
                    "sha256": "d" * 64,
                    "bytes": 100,
                },
            },
        },
    }
    provenance["outputs"] = {
        "results/de/responder_vs_non_responder.tsv": {
            "path": "results/de/responder_vs_non_responder.tsv",
            "sha256": "e" * 64,
            "bytes": 4321,
        },
        "results/qc/pca.png": {"path": "results/qc/pca.png"},
    }
    Path(files.provenance).write_text(json.dumps(provenance, indent=2))
    return config


STAGES = Stages(collections=tuple(COLLECTIONS), signature=True, crosscheck=False)


def render(root: Path, config: dict, stages: Stages = STAGES) -> str:
    """The report of the tree under `root` (written to results/report/index.html)."""
    from msc_response.inputs.readers import read_sample_sheet
    from msc_response.report.render import write_report

    return write_report(
        ResultFiles(str(Path(root) / "results")),
        read_sample_sheet(Path(root) / "config" / "samples.tsv"),
        config,
        Path(root) / "results" / "report" / "index.html",
        stages,
    )


def context(root: Path, config: dict) -> dict:
    from msc_response.inputs.readers import read_sample_sheet
    from msc_response.report.context import build_context

    return build_context(
        ResultFiles(str(Path(root) / "results")),
        read_sample_sheet(Path(root) / "config" / "samples.tsv"),
        config,
        STAGES,
    )
