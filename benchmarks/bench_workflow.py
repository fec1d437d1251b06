"""Wall time and peak memory of the whole default workflow on the example cohort.

A benchmark, not a test: it prints a table. Runs `snakemake --cores N` in a fresh
temporary directory (nothing cached) with the default config, and reports the whole
run's wall time and the peak resident memory of its largest process, then each job's
time and peak memory from Snakemake's own per-job benchmark files
(results/benchmarks/).

    python benchmarks/bench_workflow.py [--cores 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--keep", help="run in this directory and keep the results")
    args = parser.parse_args()

    workdir = Path(args.keep or tempfile.mkdtemp(prefix="msc-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    defaults = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    config = {k: str((ROOT / defaults[k]).resolve()) for k in ("counts", "samples", "annotation")}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    command = [
        sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
        "--directory", str(workdir), "--configfile", str(workdir / "config.yaml"),
        "--cores", str(args.cores), "--quiet", "all",
    ]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if result.returncode != 0:
        sys.exit(f"snakemake failed:\n{result.stderr[-4000:]}")

    print(f"example cohort, default config, --cores {args.cores}")
    print(f"{'whole run, wall time':<40}{wall:>10.1f} s")
    print(f"{'largest process, peak RSS':<40}{peak_mb:>10.0f} MB")
    # CPU seconds beside wall seconds: on a busy machine the wall times stretch, the
    # CPU times much less, so they tell which job costs what.
    print(f"\n{'job':<40}{'seconds':>10}{'CPU s':>10}{'max RSS MB':>12}")
    for path in sorted((workdir / "results/benchmarks").rglob("*.tsv")):
        row = pd.read_csv(path, sep="\t").iloc[0]
        job = str(path.relative_to(workdir / "results/benchmarks")).removesuffix(".tsv")
        print(f"{job:<40}{row['s']:>10.1f}{row['cpu_time']:>10.1f}{row['max_rss']:>12.0f}")
    print(f"\n(results kept in {workdir})" if args.keep else "", end="")


if __name__ == "__main__":
    main()
