"""Data and R DESeq2 runs for the contrast-kind agreement tests (test_de_kinds_r.py):
pasilla (real; inmoose ships it) and seeded simulations of a 3-level factor, a
continuous outcome and paired donors."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from msc_response.de.r_reference import r_command, write_counts_tsv

R_SCRIPT = Path(__file__).with_name("deseq2_kinds.R")


def pasilla_data():
    from inmoose.data.pasilla import pasilla

    adata = pasilla()
    counts = pd.DataFrame(adata.X, index=adata.obs_names, columns=adata.var_names).astype(int)
    counts = counts.loc[:, counts.sum() >= 10]  # the same genes for R and for us
    sheet = adata.obs[["condition", "type"]].copy()
    sheet["type"] = pd.Categorical(sheet["type"].str.replace("-", "_"))
    sheet["condition"] = pd.Categorical(sheet["condition"])
    return counts, sheet


def simulate(sheet: pd.DataFrame, effects: dict, n_genes: int = 1500, seed: int = 1):
    """NB counts (samples x genes) with a mean-dispersion trend; `effects`: column ->
    (design column values per sample, fraction of genes affected, log2 effect sd).
    Returns (counts, truth: genes x effect names, True where a gene is affected)."""
    rng = np.random.default_rng(seed)
    n = len(sheet)
    base = np.exp(rng.normal(np.log(200), 1.5, n_genes))
    log_mu = np.tile(np.log(base), (n, 1))
    truth = {}
    for name, (values, fraction, sd) in effects.items():
        hit = rng.random(n_genes) < fraction
        size = rng.normal(0, sd, n_genes) * hit
        log_mu += np.outer(np.asarray(values, dtype=float), size * np.log(2))
        truth[name] = hit
    size_factors = np.exp(rng.normal(0, 0.2, n))
    mu = np.exp(log_mu) * size_factors[:, None]
    disp = (0.04 + 2.0 / mu.mean(axis=0)) * np.exp(rng.normal(0, 0.3, n_genes))
    counts = rng.negative_binomial(1 / disp, 1 / (1 + mu * disp))
    genes = [f"g{i:05d}" for i in range(n_genes)]
    counts = pd.DataFrame(counts, index=sheet.index, columns=genes)
    keep = counts.sum() >= 10
    return counts.loc[:, keep], pd.DataFrame(truth, index=genes).loc[keep]


def _write_job(wd: Path, counts: pd.DataFrame, sheet: pd.DataFrame, design: str, params: dict):
    wd.mkdir(parents=True)
    write_counts_tsv(counts, wd / "counts.tsv")
    coldata = sheet.copy()
    levels = []
    for column in coldata.columns:
        if isinstance(coldata[column].dtype, pd.CategoricalDtype):
            levels += [(column, str(c)) for c in coldata[column].cat.categories]
            coldata[column] = coldata[column].astype(str)
    coldata.rename_axis("sample").to_csv(wd / "coldata.tsv", sep="\t")
    pd.DataFrame(levels, columns=["variable", "level"]).to_csv(
        wd / "levels.tsv", sep="\t", index=False
    )
    with open(wd / "params.tsv", "w") as handle:
        for key, value in {"design": design, **params}.items():
            handle.write(f"{key}\t{value}\n")


def r_kinds(jobs: dict) -> dict:
    """R DESeq2 (deseq2_kinds.R, one process) for each job: name -> (counts, sheet,
    design, params with mode, reduced, name, terms). Returns name -> results table
    (with R's dispersions; `attrs['names']`: resultsNames)."""
    with tempfile.TemporaryDirectory(prefix="rkinds_") as tmp:
        folders = {}
        for i, (name, (counts, sheet, design, params)) in enumerate(jobs.items()):
            folders[name] = Path(tmp) / f"job{i}"
            _write_job(folders[name], counts, sheet, design, params)
        command = r_command(tmp)[:2] + [str(R_SCRIPT)] + [str(f) for f in folders.values()]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(done.stderr)
        out = {}
        for name, wd in folders.items():
            table = pd.read_csv(wd / "results.tsv", sep="\t", index_col=0, na_values="NA")
            table.attrs["names"] = (wd / "names.tsv").read_text().split()
            table["dispersion"] = pd.read_csv(
                wd / "dispersions.tsv", sep="\t", index_col=0
            )["dispersion"]
            out[name] = table
        return out
