"""Run R DESeq2 (``DESeq()`` + ``results()``) through ``Rscript`` on the same inputs.

Used by the workflow's optional cross-check rule, by the agreement tests and by the
benchmarks. Needs ``Rscript`` with the Bioconductor package DESeq2
(Debian: ``apt-get install -y r-bioc-deseq2``).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "RDeseq2Result",
    "run_r_deseq2",
    "prepare_r_inputs",
    "read_r_outputs",
    "r_command",
    "write_counts_tsv",
    "R_SCRIPT",
]

R_SCRIPT = Path(__file__).with_name("deseq2_reference.R")
RESULT_COLUMNS = ["baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj"]


@dataclass
class RDeseq2Result:
    """R DESeq2's answers for one contrast."""

    results: pd.DataFrame  # index: gene; columns RESULT_COLUMNS
    size_factors: pd.Series  # index: sample
    dispersions: pd.Series  # index: gene (final, MAP or gene-wise outliers)
    compute_seconds: float  # inside R, around DESeq() + results()
    wall_seconds: float  # the whole Rscript process
    filter_threshold: float | None = None  # baseMean cut of independent filtering


def write_counts_tsv(counts: pd.DataFrame, path: str | Path) -> None:
    """Write a samples x genes count table as a genes x samples TSV (R's orientation)."""
    mat = np.asarray(counts.to_numpy(), dtype=np.int64).T
    genes = counts.columns.astype(str)
    with open(path, "w") as fh:
        fh.write("gene_id\t" + "\t".join(map(str, counts.index)) + "\n")
        body = pd.DataFrame(mat, index=genes)
        body.to_csv(fh, sep="\t", header=False)


def _design_variables(design: str) -> list[str]:
    rhs = design.split("~", 1)[-1]
    out = []
    for term in rhs.replace("-", "+").split("+"):
        term = term.strip()
        if not term or term in ("1", "0"):
            continue
        if ":" in term or "*" in term or "(" in term:
            raise ValueError(
                f"design term {term!r}: only main effects of plain variables are supported"
            )
        out.append(term)
    return out


def _levels(series: pd.Series) -> list[str] | None:
    """Factor levels in the order PyDESeq2/formulaic uses, or None for numeric."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return [str(c) for c in series.cat.categories]
    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        return sorted({str(v) for v in series})
    return None


def r_command(workdir: str | Path) -> list[str]:
    """The Rscript command line that runs the reference script on ``workdir``."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        raise RuntimeError(
            "Rscript not found; install R and DESeq2 (apt-get install -y r-bioc-deseq2)"
        )
    return [rscript, "--vanilla", str(R_SCRIPT), str(workdir)]


def prepare_r_inputs(
    counts: pd.DataFrame,
    metadata: pd.DataFrame,
    design: str,
    contrast: list[str],
    workdir: str | Path,
    *,
    alpha: float = 0.05,
    cooks_filter: bool = True,
    independent_filter: bool = True,
) -> Path:
    """Write the input files of deseq2_reference.R into ``workdir``."""
    if len(contrast) != 3:
        raise ValueError("contrast must be [variable, test_level, reference_level]")
    if not counts.index.equals(metadata.index):
        if set(counts.index) != set(metadata.index):
            raise ValueError("counts and metadata must have the same samples")
        metadata = metadata.loc[counts.index]
    variables = _design_variables(design)
    missing = [v for v in variables if v not in metadata.columns]
    if missing:
        raise ValueError(f"design variables missing from metadata: {missing}")
    wd = Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    write_counts_tsv(counts, wd / "counts.tsv")
    coldata = metadata[variables].copy()
    level_rows = []
    for v in variables:
        lv = _levels(coldata[v])
        if lv is not None:
            coldata[v] = coldata[v].astype(str)
            level_rows += [(v, lev) for lev in lv]
    coldata.index = coldata.index.astype(str)
    coldata.index.name = "sample"
    coldata.to_csv(wd / "coldata.tsv", sep="\t")
    pd.DataFrame(level_rows, columns=["variable", "level"]).to_csv(
        wd / "levels.tsv", sep="\t", index=False
    )
    params = {
        "design": design,
        "contrast_variable": contrast[0],
        "contrast_test": str(contrast[1]),
        "contrast_reference": str(contrast[2]),
        "alpha": repr(float(alpha)),
        "cooks_filter": "TRUE" if cooks_filter else "FALSE",
        "independent_filter": "TRUE" if independent_filter else "FALSE",
    }
    with open(wd / "params.tsv", "w") as fh:
        for k, v in params.items():
            fh.write(f"{k}\t{v}\n")
    return wd


def read_r_outputs(workdir: str | Path, wall_seconds: float = float("nan")) -> RDeseq2Result:
    """Read what deseq2_reference.R wrote into ``workdir``."""
    wd = Path(workdir)
    res = pd.read_csv(wd / "results.tsv", sep="\t", index_col=0, na_values="NA")
    res.index = res.index.astype(str)
    res = res[RESULT_COLUMNS].astype(float)
    sf = pd.read_csv(wd / "size_factors.tsv", sep="\t", index_col=0)["size_factor"]
    disp = pd.read_csv(wd / "dispersions.tsv", sep="\t", index_col=0, na_values="NA")[
        "dispersion"
    ]
    disp.index = disp.index.astype(str)
    timing = pd.read_csv(wd / "timing.tsv", sep="\t", index_col=0, na_values="NA")["value"]
    thr = timing.get("filter_threshold")
    return RDeseq2Result(
        results=res,
        size_factors=sf.astype(float),
        dispersions=disp.astype(float),
        compute_seconds=float(timing["compute_seconds"]),
        wall_seconds=wall_seconds,
        filter_threshold=None if thr is None or pd.isna(thr) else float(thr),
    )


def run_r_deseq2(
    counts: pd.DataFrame,
    metadata: pd.DataFrame,
    design: str,
    contrast: list[str],
    *,
    alpha: float = 0.05,
    cooks_filter: bool = True,
    independent_filter: bool = True,
    workdir: str | Path | None = None,
) -> RDeseq2Result:
    """R DESeq2 on ``counts`` (samples x genes integers) and ``metadata`` (samples x
    variables) with ``design`` (main effects, e.g. ``"~ batch + condition"``) and
    ``contrast`` = [variable, test level, reference level].

    Factor variables: categorical, string or boolean columns (level order: the
    categorical order, else sorted, as PyDESeq2). Numeric columns are covariates.
    ``workdir``: where input/output files go (kept); a temporary directory otherwise.
    """
    r_command(".")  # fails early with a clear message when Rscript is missing
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="rdeseq2_")
        wd = Path(tmp.name)
    else:
        wd = Path(workdir)
    try:
        prepare_r_inputs(
            counts, metadata, design, contrast, wd, alpha=alpha,
            cooks_filter=cooks_filter, independent_filter=independent_filter,
        )
        start = time.perf_counter()
        proc = subprocess.run(r_command(wd), capture_output=True, text=True)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(
                f"R DESeq2 failed (exit code {proc.returncode}):\n{proc.stderr.strip()}"
            )
        return read_r_outputs(wd, wall)
    finally:
        if tmp is not None:
            tmp.cleanup()
