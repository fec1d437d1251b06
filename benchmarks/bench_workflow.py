"""Wall time of the whole default workflow on the example cohort, first run and warm,
and each job's fixed cost.

A benchmark, not a test: it prints tables. With power.enabled: false (the power
stage's own cost is held by its issue), in a fresh temporary directory:

1. first run of a fresh clone: `git clone` of this repository (its committed state:
   commit first) into the directory, then `snakemake --cores N` with the clone's
   Snakefile: nothing cached, numba's kernels compiled on the way (target: <= 32 s);
2. warm: `snakemake --cores N --forceall` --runs times with the repository's own
   Snakefile (numba's cache as left by the first warm-up run); the median
   (target: <= 20 s on 2 cores);
3. per job of the last warm run: wall and CPU seconds (Snakemake's benchmark files),
   and the fixed cost, the CPU a job spends before its work (interpreter, Snakemake's
   preamble, the script's imports), from the line `msc_response.common.scripting`
   writes to the job's log; imports made inside the work count as work.

    python benchmarks/bench_workflow.py [--cores 2] [--runs 3] [--keep DIR] [--skip-clone]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import yaml
from timing import timed

ROOT = Path(__file__).resolve().parents[1]
BEFORE = re.compile(r"CPU before the work \(interpreter and imports\): ([0-9.]+) s")


def write_config(workdir: Path, source: Path) -> Path:
    defaults = yaml.safe_load((source / "config/config.yaml").read_text())
    config = {k: str((source / defaults[k]).resolve()) for k in ("counts", "samples", "annotation")}
    config["power"] = {"enabled": False}
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def run(source: Path, workdir: Path, cores: int, *extra: str) -> float:
    return timed([
        sys.executable, "-m", "snakemake", "--snakefile", str(source / "Snakefile"),
        "--directory", str(workdir), "--configfile", str(workdir / "config.yaml"),
        "--cores", str(cores), "--quiet", "all", *extra,
    ])


def jobs(workdir: Path) -> pd.DataFrame:
    rows = []
    for path in sorted((workdir / "results/benchmarks").rglob("*.tsv")):
        row = pd.read_csv(path, sep="\t").iloc[0]
        job = str(path.relative_to(workdir / "results/benchmarks")).removesuffix(".tsv")
        log = workdir / "logs" / f"{job}.log"
        found = BEFORE.search(log.read_text()) if log.exists() else None
        rows.append({
            "job": job, "wall_s": row["s"], "cpu_s": row["cpu_time"],
            "fixed_cpu_s": float(found.group(1)) if found else float("nan"),
            "max_rss_mb": row["max_rss"],
        })
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", help="work in this directory and keep it")
    parser.add_argument("--skip-clone", action="store_true", help="no first run of a fresh clone")
    args = parser.parse_args()
    base = Path(args.keep or tempfile.mkdtemp(prefix="msc-bench-"))
    base.mkdir(parents=True, exist_ok=True)

    print(f"example cohort, default config with power.enabled: false, --cores {args.cores}")
    if not args.skip_clone:
        clone, first = base / "clone", base / "first"
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        first.mkdir()
        write_config(first, clone)
        print(f"{'first run of a fresh clone, wall':<44}{run(clone, first, args.cores):>8.1f} s"
              "   (target <= 32 s)")

    warm = base / "warm"
    warm.mkdir(exist_ok=True)
    write_config(warm, ROOT)
    run(ROOT, warm, args.cores)  # fills numba's cache of this tree, not timed
    walls = [run(ROOT, warm, args.cores, "--forceall") for _ in range(args.runs)]
    print(f"{'warm run (--forceall), median wall':<44}{statistics.median(walls):>8.1f} s"
          f"   (target <= 20 s; runs: {', '.join(f'{w:.1f}' for w in walls)})")

    table = jobs(warm)
    print(f"\njobs of the last warm run: {table['cpu_s'].sum():.1f} CPU s in all, "
          f"{table['fixed_cpu_s'].sum():.1f} of them fixed costs")
    print(f"{'job':<48}{'wall s':>8}{'CPU s':>8}{'fixed CPU s':>13}{'max RSS MB':>12}")
    for row in table.itertuples():
        print(f"{row.job:<48}{row.wall_s:>8.1f}{row.cpu_s:>8.2f}{row.fixed_cpu_s:>13.2f}"
              f"{row.max_rss_mb:>12.0f}")
    print(f"\n(kept in {base})" if args.keep else "")


if __name__ == "__main__":
    main()
