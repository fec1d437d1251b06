#!/usr/bin/env python
"""Benchmark: a large cohort through the workflow against a lab's R DESeq2 script, and
the cost of extra contrasts on the example.

A benchmark, not a test: it prints a table.

1. Writes (once, seeded) a synthetic cohort of 60,000 genes x 200 samples: three tissue
   sources, four batches, responders and non-responders (msc_response.example.cohort, the
   human gene table padded with synthetic Ensembl-like IDs).
2. Runs, side by side on the same files,
   - the workflow: `snakemake --cores N` in a fresh directory with the targets
     results/de/responder_vs_non_responder.tsv, results/dataset.h5ad, both tables in
     results/counts/ and results/qc/samples_qc.tsv (design ~ batch + source + response);
   - `Rscript benchmarks/lab_deseq2.R`: what a lab would otherwise do (DESeq(),
     results(), vst(), results, normalised counts and VST written gzipped).
   and reports wall time and peak memory (the workflow's per job, from Snakemake's
   benchmark files). Targets: workflow <= 60 s, <= 0.25x the Rscript, <= 4 GB per job.
   With --rerun the workflow runs a second time in another fresh directory and every
   table is compared byte for byte.
3. On the shipped example: the DE table of one contrast, then of four contrasts
   (responder vs non-responder and the three pairwise source comparisons), each in a
   fresh directory (target: four at <= 1.3x the wall time of one).

    python benchmarks/bench_scale.py [--workdir DIR] [--cores 2] [--rerun]
        [--skip-r] [--skip-scale] [--skip-example] [--repeats 1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

DESIGN = "~ batch + source + response"
MAIN = {"variable": "response", "test": "responder", "reference": "non_responder"}
SOURCE_PAIRS = {
    "adipose_vs_bone_marrow": ("adipose", "bone_marrow"),
    "wharton_jelly_vs_bone_marrow": ("wharton_jelly", "bone_marrow"),
    "wharton_jelly_vs_adipose": ("wharton_jelly", "adipose"),
}
SCALE_TARGETS = [
    "results/de/responder_vs_non_responder.tsv",
    "results/dataset.h5ad",
    "results/counts/normalised_counts.tsv.gz",
    "results/counts/vst.tsv.gz",
    "results/qc/samples_qc.tsv",
]


def write_large_cohort(directory: Path, n_genes: int, n_samples: int, seed: int) -> dict:
    """A synthetic cohort's counts, sample sheet and annotation (written once, seeded;
    reused when present).

    Samples: responders and non-responders (60:40), three tissue sources unevenly
    spread over response, four batches, sex and age. Genes: the shipped human gene
    table padded with synthetic Ensembl-like IDs; heavy-tailed means, DESeq2-like
    dispersions (0.08 + 1.5 / mean, log-normal scatter), response effects on 5% of
    the genes, source effects on 10%, small batch effects on 30%; negative binomial
    counts.
    """
    paths = {
        "counts": directory / "counts.tsv.gz",
        "samples": directory / "samples.tsv",
        "annotation": directory / "annotation.tsv",
    }
    if all(path.exists() for path in paths.values()):
        return {key: str(path) for key, path in paths.items()}
    import numpy as np
    import pandas as pd

    from msc_response.common.tables import write_table

    start = time.perf_counter()
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    human = pd.read_csv(
        ROOT / "resources/gene_sets/human_genes.tsv.gz", sep="\t", usecols=[0, 1], dtype=str
    )
    padding = max(0, n_genes - len(human))
    genes = pd.concat(
        [
            human.iloc[:n_genes],
            pd.DataFrame(
                {
                    "gene_id": [f"ENSG9{i:010d}" for i in range(padding)],
                    "symbol": [f"SYN{i}" for i in range(padding)],
                }
            ),
        ],
        ignore_index=True,
    )
    responders = round(0.6 * n_samples)
    response = rng.permutation(
        np.repeat(["responder", "non_responder"], [responders, n_samples - responders])
    )
    source = np.where(
        response == "responder",
        rng.choice(["bone_marrow", "adipose", "wharton_jelly"], n_samples, p=[0.3, 0.3, 0.4]),
        rng.choice(["bone_marrow", "adipose", "wharton_jelly"], n_samples, p=[0.6, 0.25, 0.15]),
    )
    sheet = pd.DataFrame(
        {
            "sample": [f"MSC{i + 1:03d}" for i in range(n_samples)],
            "response": response,
            "source": source,
            "sex": rng.choice(["female", "male"], n_samples),
            "age": rng.integers(50, 86, n_samples),
            "batch": [f"batch{i % 4 + 1}" for i in rng.permutation(n_samples)],
        }
    )
    mean = np.where(
        rng.random(n_genes) < 0.15,
        10 ** rng.uniform(-1, 1, n_genes),
        np.exp(rng.normal(np.log(250), 1.5, n_genes)),
    )
    size = 1 / ((0.08 + 1.5 / mean) * np.exp(rng.normal(0, 0.5, n_genes)))

    def effects(fraction: float, sd: float, levels: int) -> np.ndarray:
        hit = rng.random(n_genes) < fraction
        return np.where(hit[:, None], rng.normal(0, sd, (n_genes, levels)), 0.0)

    log2_effect = (
        effects(0.05, 1.2, 1)[:, [0]] * (sheet["response"] == "responder").to_numpy()
        + effects(0.10, 1.5, 3)[:, pd.factorize(sheet["source"], sort=True)[0]]
        + effects(0.30, 0.25, 4)[:, pd.factorize(sheet["batch"], sort=True)[0]]
    )
    size_factors = np.exp(rng.normal(0, 0.3, n_samples))
    counts = np.empty((n_genes, n_samples), dtype=np.int64)
    for j in range(n_samples):  # a sample at a time keeps the memory low
        mu = size_factors[j] * mean * np.exp2(log2_effect[:, j])
        counts[:, j] = rng.negative_binomial(size, size / (size + mu))
    table = pd.DataFrame(counts, columns=sheet["sample"])
    table.insert(0, "gene_id", genes["gene_id"])
    write_table(table, paths["counts"])
    write_table(sheet, paths["samples"])
    write_table(genes, paths["annotation"])
    print(f"(cohort written to {directory} in {time.perf_counter() - start:.0f} s)")
    return {key: str(path) for key, path in paths.items()}


def run_child(command: list[str], cwd: Path | None = None) -> tuple[float, float]:
    """Run a command to completion; (wall seconds, peak RSS MB of the largest process
    among it and its descendants, from wait4)."""
    with tempfile.TemporaryFile() as log:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, stdout=log, stderr=log)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status):
            log.seek(0)
            sys.exit(f"{' '.join(command[:4])} failed:\n{log.read().decode()[-4000:]}")
    return wall, usage.ru_maxrss / 1024


def snakemake(workdir: Path, config: dict, targets: list[str], cores: int) -> tuple[float, float]:
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    command = [
        sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
        "--directory", str(workdir), "--configfile", str(workdir / "config.yaml"),
        "--cores", str(cores), *targets,
    ]
    return run_child(command)


def job_table(workdir: Path) -> list[tuple[str, float, float, float]]:
    """(job, seconds, CPU seconds, max RSS MB) from Snakemake's benchmark files."""
    import pandas as pd

    rows = []
    for path in sorted((workdir / "results/benchmarks").rglob("*.tsv")):
        row = pd.read_csv(path, sep="\t").iloc[0]
        job = str(path.relative_to(workdir / "results/benchmarks")).removesuffix(".tsv")
        rows.append((job, float(row["s"]), float(row["cpu_time"]), float(row["max_rss"])))
    return rows


def tables(workdir: Path) -> dict[str, bytes]:
    results = workdir / "results"
    return {
        str(path.relative_to(results)): path.read_bytes()
        for path in sorted(results.rglob("*.tsv*"))
        if "benchmarks" not in path.parts
    }


def scale(args, base: Path) -> None:
    files = write_large_cohort(base / "cohort", args.genes, args.samples, seed=12)
    config = {**files, "design": DESIGN, "contrasts": {"responder_vs_non_responder": MAIN}}
    wall, peak = snakemake(base / "workflow", config, SCALE_TARGETS, args.cores)
    jobs = job_table(base / "workflow")
    print(f"\n{args.genes:,} genes x {args.samples} samples, {DESIGN}, --cores {args.cores}")
    print(f"{'':<44}{'wall s':>10}{'peak MB':>10}")
    print(f"{'workflow (snakemake, 5 targets)':<44}{wall:>10.1f}{max(j[3] for j in jobs):>10.0f}")
    if not args.skip_r:
        r_wall, r_peak = run_child(
            [
                "Rscript", str(ROOT / "benchmarks" / "lab_deseq2.R"), files["counts"],
                files["samples"], DESIGN, MAIN["variable"], MAIN["test"],
                MAIN["reference"], str(base / "r_lab"),
            ]
        )
        print(f"{'Rscript lab_deseq2.R':<44}{r_wall:>10.1f}{r_peak:>10.0f}")
        print(f"{'workflow / Rscript (target <= 0.25)':<44}{wall / r_wall:>10.2f}")
    print(f"\n{'job':<44}{'wall s':>10}{'CPU s':>10}{'max RSS MB':>12}")
    for job, seconds, cpu, rss in jobs:
        print(f"{job:<44}{seconds:>10.1f}{cpu:>10.1f}{rss:>12.0f}")
    if args.rerun:
        snakemake(base / "workflow_rerun", config, SCALE_TARGETS, args.cores)
        first, second = tables(base / "workflow"), tables(base / "workflow_rerun")
        differ = [name for name in first if first[name] != second.get(name)]
        print(f"\nrerun: {len(first)} tables, {len(differ)} differ {differ or ''}")


def example(args, base: Path) -> None:
    defaults = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    files = {k: str((ROOT / defaults[k]).resolve()) for k in ("counts", "samples", "annotation")}
    contrasts = {"responder_vs_non_responder": MAIN}
    contrasts.update(
        {
            name: {"variable": "source", "test": test, "reference": reference}
            for name, (test, reference) in SOURCE_PAIRS.items()
        }
    )
    one, four = [], []
    for _ in range(args.repeats):
        wall, _ = snakemake(
            base / "example_one",
            {**files, "contrasts": {"responder_vs_non_responder": MAIN}},
            ["results/de/responder_vs_non_responder.tsv"],
            args.cores,
        )
        one.append(wall)
        wall, _ = snakemake(
            base / "example_four",
            {**files, "contrasts": contrasts},
            [f"results/de/{name}.tsv" for name in contrasts],
            args.cores,
        )
        four.append(wall)
    one_s, four_s = statistics.median(one), statistics.median(four)
    print(f"\nexample cohort, DE tables only, --cores {args.cores}, median of {args.repeats}")
    print(f"{'one contrast':<44}{one_s:>10.1f} s")
    print(f"{'four contrasts':<44}{four_s:>10.1f} s")
    print(f"{'four / one (target <= 1.3)':<44}{four_s / one_s:>10.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", help="keep the cohort and runs here (default: a temp dir)")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--genes", type=int, default=60_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--rerun", action="store_true", help="check byte-identical reruns")
    parser.add_argument("--skip-r", action="store_true")
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--skip-example", action="store_true")
    parser.add_argument("--repeats", type=int, default=1, help="example runs (median)")
    args = parser.parse_args()
    base = Path(args.workdir or tempfile.mkdtemp(prefix="msc-bench-scale-"))
    base.mkdir(parents=True, exist_ok=True)
    if not args.skip_scale:
        scale(args, base)
    if not args.skip_example:
        example(args, base)
    print(f"\n(files in {base})")


if __name__ == "__main__":
    main()
