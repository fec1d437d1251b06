"""Print the `set-resources:` block of profiles/slurm/config.yaml from measured benchmarks.

    snakemake --cores all                               # one local run on your data
    python profiles/slurm/size_resources.py results/benchmarks [more/benchmarks ...]

Snakemake's `benchmark:` files record each job's wall time (`s`) and peak memory
(`max_rss`, MB). Per rule (all wildcard values, all repeats, all the directories
given) this takes the largest of each and adds headroom:

    mem_mb  = max(1000, 2 x max_rss rounded up to 500 MB)
    runtime = max(10, 5 x wall seconds / 60 rounded up) minutes

and scales both with Snakemake's `attempt` (1, 2, ...), so a job that SLURM ended for
memory or time is resubmitted (profile `retries`) with twice as much, then three times.
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

MEMORY_FACTOR, MEMORY_STEP, MEMORY_FLOOR = 2, 500, 1000  # MB
RUNTIME_FACTOR, RUNTIME_FLOOR = 5, 10  # minutes


def rule_of(benchmark: Path, root: Path) -> str:
    """results/benchmarks/normalise.tsv -> normalise; deseq2_contrast/{contrast}.tsv -> deseq2_contrast."""
    parts = benchmark.relative_to(root).parts
    return parts[0] if len(parts) > 1 else benchmark.stem


def measured_peaks(roots: list[Path]) -> dict[str, tuple[float, float]]:
    """Largest wall time (s) and peak memory (MB) of each rule's benchmark files."""
    peaks: dict[str, tuple[float, float]] = {}
    benchmarks = [(root, path) for root in roots for path in sorted(root.rglob("*.tsv"))]
    for root, benchmark in benchmarks:
        with open(benchmark, newline="") as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                rule = rule_of(benchmark, root)
                seconds, rss = float(row["s"]), float(row["max_rss"])
                old_seconds, old_rss = peaks.get(rule, (0.0, 0.0))
                peaks[rule] = (max(seconds, old_seconds), max(rss, old_rss))
    return peaks


def sized(seconds: float, rss_mb: float) -> tuple[int, int]:
    """(mem_mb, runtime in minutes) for attempt 1, with the headroom above."""
    memory = MEMORY_STEP * math.ceil(MEMORY_FACTOR * rss_mb / MEMORY_STEP)
    runtime = math.ceil(RUNTIME_FACTOR * seconds / 60)
    return max(MEMORY_FLOOR, memory), max(RUNTIME_FLOOR, runtime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("benchmarks", nargs="*", default=[Path("results/benchmarks")], type=Path)
    args = parser.parse_args()
    peaks = measured_peaks(args.benchmarks)
    if not peaks:
        raise SystemExit(f"no benchmark files under {args.benchmarks}: run the workflow first")
    print("set-resources:")
    for rule, (seconds, rss) in sorted(peaks.items()):
        memory, runtime = sized(seconds, rss)
        print(f"  {rule}:  # measured {seconds:.0f} s, {rss:.0f} MB")
        print(f'    mem_mb: "{memory} * attempt"')
        print(f'    runtime: "{runtime} * attempt"')


if __name__ == "__main__":
    main()
