"""The biology the example cohort is simulated from: tissue sources, the planted
Altaner et al. 2013 markers and their effects, typical cultured-MSC expression levels
of curated genes, source and sex genes, pathways, and the shipped gene tables it
draws genes from. `example.cohort` turns them into counts; every number is explained
in resources/example/README.md.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

# workflow/scripts/msc_response/example/biology.py -> the repository
REPO_ROOT = Path(__file__).resolve().parents[4]
GENE_SETS_DIR = REPO_ROOT / "resources" / "gene_sets"

SOURCES = ("bone_marrow", "adipose", "wharton_jelly")

RESPONSE_LEVELS = ("responder", "non_responder")  # test, reference

# Planted responder vs non_responder log2 fold changes of the Altaner et al. 2013
# markers: clear, but within the range of the other planted genes.
SEED_EFFECTS: dict[str, float] = {"IL4": 2.0, "IL6": 1.3, "CCL4": 1.5, "CDH1": 1.6, "PDX1": 1.8}

SEED_MARKERS = tuple(SEED_EFFECTS)

# Mean normalised counts (male bone-marrow non-responder, size factor 1, ~20 M
# reads) of the genes of resources/gene_sets/msc_biology.gmt and of the named
# source genes below, at levels typical of cultured MSCs (reasons and sources in
# resources/example/README.md). These genes get no random role.
MSC_GENE_LEVELS: dict[str, float] = {
    # ISCT positive markers: high in every MSC (Dominici et al. 2006)
    "NT5E": 2500, "THY1": 6000, "ENG": 2500,
    # ISCT negative markers: haematopoietic / antigen-presenting, near zero
    "PTPRC": 0.3, "CD34": 1.0, "CD14": 0.5, "ITGAM": 0.3, "CD79A": 0.1, "CD19": 0.1,
    "HLA-DRA": 2.0,
    # Altaner et al. 2013 responder markers: IL6 is one of the most abundant MSC
    # transcripts; IL4 and PDX1 are barely expressed; CCL4 and CDH1 are low
    "IL4": 10, "IL6": 2000, "CCL4": 40, "CDH1": 25, "PDX1": 15,
    # paracrine / angiogenic factors
    "VEGFA": 1500, "FGF2": 800, "HGF": 150, "IGF1": 150, "ANGPT1": 120, "TGFB1": 2500,
    "PTGS2": 250, "IDO1": 3, "TNFAIP6": 300, "CXCL12": 3000,
    # immunomodulation (IDO1, PTGS2, TNFAIP6, TGFB1 above)
    "HLA-G": 4, "CD274": 40, "HMOX1": 1200, "LGALS1": 25000, "LGALS9": 150,
    # lineage markers of undifferentiated MSCs: matrix genes high, terminal markers low
    "RUNX2": 600, "SP7": 1, "ALPL": 150, "COL1A1": 150000, "SPP1": 20, "IBSP": 0.5,
    "BGLAP": 15,
    "PPARG": 120, "CEBPA": 8, "FABP4": 4, "LPL": 40, "ADIPOQ": 0.3, "PLIN1": 0.5, "LEP": 3,
    "SOX9": 300, "ACAN": 80, "COL2A1": 1, "COL10A1": 4,
    # named source genes
    "CD200": 3, "VCAM1": 40, "DLX5": 60, "NPR3": 80, "FLT1": 60, "EGF": 4,
}

# Documented tissue-source differences of named genes, log2 vs bone marrow
# (adipose, wharton_jelly); sources in resources/example/README.md.
NAMED_SOURCE_EFFECTS: dict[str, tuple[float, float]] = {
    "RUNX2": (0.0, -1.0), "DLX5": (0.0, -2.0), "NPR3": (0.0, -1.5),  # BM more osteogenic
    "ALPL": (-1.0, -1.5),
    "FLT1": (0.0, 1.5), "EGF": (0.0, 2.5),  # WJ more angiogenic / growth genes
    "CD200": (0.0, 4.0),  # CD200 only in umbilical-cord MSCs
    "VCAM1": (2.0, 0.0),  # CD106 in adipose MSCs
    "FABP4": (1.5, 0.0), "PPARG": (0.5, 0.0),  # adipose MSCs primed for adipogenesis
}

# Gene families a mesenchymal cell does not transcribe (olfactory and taste receptors)
SILENT_FAMILIES = re.compile(r"^(OR\d+[A-Z]+\d+|TAS[12]R\d+)")

# Y-linked genes (absent in females) and X-inactivation escapees (higher in females)
SEX_Y_GENES = ("RPS4Y1", "DDX3Y", "KDM5D", "UTY", "EIF1AY", "ZFY", "USP9Y")

SEX_X_GENES = ("KDM5C", "KDM6A")

# Source composition of each response group: bone_marrow, adipose, wharton_jelly.
# Responders are mostly Wharton's jelly, non-responders mostly bone marrow (for 41
# patients: 7/7/16 and 7/3/1): imbalanced, never confounded.
DEFAULT_SOURCE_FRACTIONS: dict[str, tuple[float, float, float]] = {
    "responder": (0.23, 0.23, 0.54),
    "non_responder": (0.64, 0.27, 0.09),
}

# Default planted pathways: (collection, exact first GMT field, direction)
DEFAULT_PATHWAYS: tuple[tuple[str, str, str], ...] = (
    ("go_bp", "sprouting angiogenesis (GO:0002040)", "up"),
    ("go_bp", "cellular senescence (GO:0090398)", "down"),
)

# For small, quick test cohorts that need a clear signal (24 samples in the workflow's
# integration tests): source balanced across response, no donor factors or
# low-quality samples, a cell line's dispersion and larger response effects. The
# shipped example cohort uses the realistic defaults.
CLEAR_SIGNAL: dict = {
    "source_fractions": {"responder": (1, 1, 1), "non_responder": (1, 1, 1)},
    "seed_effects": {"IL4": 2.5, "IL6": 2.0, "CCL4": 2.5, "CDH1": 2.5, "PDX1": 2.5},
    "de_lfc": (0.8, 0.8, 3.0),
    "asympt_disp": 0.05,
    "n_donor_factors": 0,
    "low_depth": 0,
    "degraded_sd": 0,
}

CATEGORIES = ("seed_marker", "de", "pathway", "source", "sex", "outlier", "null")


# --------------------------------------------------------------------------- resources
def read_gmt(path: str | Path) -> dict[str, list[str]]:
    """{name: genes} of a GMT file (optionally gzipped), read by gene_sets.read_gmt."""
    from msc_response.enrichment.gene_sets import read_gmt as read_collection

    return {name: list(s.genes) for name, s in read_collection(path).sets.items()}


def load_human_genes(path: str | Path | None = None) -> pd.DataFrame:
    """The shipped protein-coding gene table (gene_id, symbol, entrez_id, gene_type)."""
    path = Path(path) if path else GENE_SETS_DIR / "human_genes.tsv.gz"
    return pd.read_csv(path, sep="\t", dtype=str)


def default_gmts() -> dict[str, Path]:
    return {"go_bp": GENE_SETS_DIR / "go_bp.gmt.gz"}


def msc_biology_genes() -> list[str]:
    """Every gene of the curated resources/gene_sets/msc_biology.gmt."""
    sets = read_gmt(GENE_SETS_DIR / "msc_biology.gmt")
    return sorted({g for genes in sets.values() for g in genes})
