"""Small simulated transcript quantifications (salmon, kallisto, RSEM), with isoform
switches between two groups, for the tests of the `quantifications` input.

Each gene has one to four isoforms of different lengths. In a share of the
multi-isoform genes the two groups use different isoforms (the gene's expression in
reads changes with the switch although its transcripts' abundance does not), and
some genes change expression. Reads per transcript are negative binomial; the
estimated counts are fractional, as a quantifier's are; effective lengths differ a
little between samples, as salmon's bias correction makes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

TOOLS = ("salmon", "kallisto", "rsem")
FILE_NAMES = {"salmon": "quant.sf", "kallisto": "abundance.tsv", "rsem": "sample.isoforms.results"}


@dataclass
class Quantifications:
    transcripts: pd.DataFrame  # transcript_id, gene_id, symbol, length
    counts: pd.DataFrame  # transcripts x samples, estimated (fractional)
    effective_length: pd.DataFrame  # transcripts x samples
    samples: pd.DataFrame  # sample, group
    switched: list[str]  # genes with an isoform switch
    changed: list[str]  # genes with a change in expression


def simulate(n_genes=400, n_per_group=4, switch_share=0.3, change_share=0.1, seed=1) -> Quantifications:
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(n_genes):
        n_iso = int(rng.choice([1, 2, 3, 4], p=[0.35, 0.35, 0.2, 0.1]))
        for k in range(n_iso):
            rows.append((f"ENST{g * 10 + k:011d}.{1 + k % 3}", f"ENSG{g:011d}.{1 + g % 4}", f"GENE{g}",
                         int(rng.integers(400, 6000))))
    tx = pd.DataFrame(rows, columns=["transcript_id", "gene_id", "symbol", "length"])
    n = 2 * n_per_group
    samples = pd.DataFrame({"sample": [f"Q{i + 1:02d}" for i in range(n)],
                            "group": ["control"] * n_per_group + ["treated"] * n_per_group})
    treated = (samples["group"] == "treated").to_numpy()
    genes = tx["gene_id"].unique()
    multi = tx.groupby("gene_id").size()
    multi = multi.index[multi > 1].to_numpy()
    switched = rng.choice(multi, size=int(switch_share * len(multi)), replace=False)
    changed = rng.choice(genes, size=int(change_share * len(genes)), replace=False)
    gene_level = dict(zip(genes, rng.lognormal(3.0, 1.5, len(genes))))
    # transcripts per kb per gene, split over isoforms by usage
    abundance = np.zeros((len(tx), n))
    for gene, idx in tx.groupby("gene_id").indices.items():
        usage = rng.dirichlet(np.full(len(idx), 2.0))
        level = np.full(n, gene_level[gene])
        if gene in changed:
            level[treated] *= 2.0 ** rng.choice([-1.5, 1.5])
        for j in range(n):
            use = usage[::-1] if (gene in switched and treated[j]) else usage
            abundance[idx, j] = level[j] * use
    length = tx["length"].to_numpy(float)
    effective = np.maximum(length[:, None] - rng.normal(220, 15, size=(1, n)), 50.0)
    depth = rng.uniform(0.7, 1.4, n)
    mean = abundance * effective / 1000.0 * depth[None, :] * 4
    dispersion = 0.05
    reads = rng.negative_binomial(1 / dispersion, 1 / (1 + mean * dispersion))
    estimated = np.where(reads > 0, reads + rng.uniform(-0.49, 0.49, reads.shape), 0.0)
    estimated = np.round(estimated, 3)
    ids = tx["transcript_id"]
    return Quantifications(
        tx,
        pd.DataFrame(estimated, index=ids, columns=samples["sample"]),
        pd.DataFrame(np.round(effective, 3), index=ids, columns=samples["sample"]),
        samples,
        sorted(switched),
        sorted(changed),
    )


def tpm(counts: np.ndarray, effective: np.ndarray) -> np.ndarray:
    rate = counts / effective
    return rate / rate.sum() * 1e6


def write(q: Quantifications, tool: str, folder: Path) -> list[Path]:
    """One file per sample in folder/<sample>/, as `tool` writes it; their paths."""
    paths = []
    for sample in q.samples["sample"]:
        directory = folder / sample
        directory.mkdir(parents=True, exist_ok=True)
        counts = q.counts[sample].to_numpy()
        effective = q.effective_length[sample].to_numpy()
        t = tpm(counts, effective)
        ids = q.transcripts["transcript_id"]
        if tool == "salmon":
            table = pd.DataFrame({"Name": ids, "Length": q.transcripts["length"],
                                  "EffectiveLength": effective, "TPM": t, "NumReads": counts})
        elif tool == "kallisto":
            table = pd.DataFrame({"target_id": ids, "length": q.transcripts["length"],
                                  "eff_length": effective, "est_counts": counts, "tpm": t})
        else:
            fpkm = counts / effective / counts.sum() * 1e9
            gene_tpm = pd.Series(t).groupby(q.transcripts["gene_id"].to_numpy()).transform("sum").to_numpy()
            iso = np.where(gene_tpm > 0, 100 * t / np.where(gene_tpm > 0, gene_tpm, 1), 0)
            table = pd.DataFrame({"transcript_id": ids, "gene_id": q.transcripts["gene_id"],
                                  "length": q.transcripts["length"], "effective_length": effective,
                                  "expected_count": counts, "TPM": np.round(t, 2),
                                  "FPKM": np.round(fpkm, 2), "IsoPct": np.round(iso, 2)})
        path = directory / FILE_NAMES[tool]
        table.to_csv(path, sep="\t", index=False, float_format="%.10g", lineterminator="\n")
        paths.append(path)
    return paths


def write_rsem_genes(q: Quantifications, folder: Path) -> list[Path]:
    """RSEM's gene-level results (folder/<sample>/sample.genes.results): summed counts
    and TPM, lengths weighted by the isoforms' TPM (their mean for unexpressed genes)."""
    gene_of = q.transcripts["gene_id"].to_numpy()
    paths = []
    for sample in q.samples["sample"]:
        counts = q.counts[sample].to_numpy()
        effective = q.effective_length[sample].to_numpy()
        t = tpm(counts, effective)
        frame = pd.DataFrame({"gene_id": gene_of, "transcript_id": q.transcripts["transcript_id"].to_numpy(),
                              "tpm": t, "length": q.transcripts["length"].to_numpy(float),
                              "effective": effective, "counts": counts})
        rows = []
        for gene, part in frame.groupby("gene_id", sort=False):
            weights = part["tpm"].to_numpy() if part["tpm"].sum() > 0 else np.ones(len(part))
            rows.append((gene, ",".join(part["transcript_id"]), np.average(part["length"], weights=weights),
                         np.average(part["effective"], weights=weights), part["counts"].sum(),
                         round(part["tpm"].sum(), 2), 0.0))
        table = pd.DataFrame(rows, columns=["gene_id", "transcript_id(s)", "length", "effective_length",
                                            "expected_count", "TPM", "FPKM"])
        directory = folder / sample
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "sample.genes.results"
        table.to_csv(path, sep="\t", index=False, float_format="%.10g", lineterminator="\n")
        paths.append(path)
    return paths


def write_tx2gene(q: Quantifications, path: Path, versions: bool = True) -> Path:
    table = q.transcripts[["transcript_id", "gene_id", "symbol"]].copy()
    if not versions:
        table["transcript_id"] = table["transcript_id"].str.replace(r"\.\d+$", "", regex=True)
        table["gene_id"] = table["gene_id"].str.replace(r"\.\d+$", "", regex=True)
    table.to_csv(path, sep="\t", index=False, lineterminator="\n")
    return path
