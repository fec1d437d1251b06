"""Benchmark: read and validate a 60,000 genes x 500 samples counts file.

Not a test. Generates a seeded negative-binomial count matrix (~100 MB of text) in a
temporary directory, then, in a fresh child process, times `read_counts` +
`check_counts` + `match_samples` (what rule check_inputs does
before writing) and reports the peak resident memory next to the size of one int64
copy of the matrix.

    python benchmarks/bench_validation.py [--genes 60000] [--samples 500] [--gzip]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))


def write_counts(path: Path, n_genes: int, n_samples: int, seed: int = 1) -> None:
    """Write genes x samples counts in blocks, so generating never holds the matrix."""
    rng = np.random.default_rng(seed)
    samples = [f"S{j:04d}" for j in range(n_samples)]
    means = np.exp(rng.normal(4.5, 2.0, size=n_genes))  # many low, some very high
    with open(path, "w") as handle:
        handle.write("gene_id\t" + "\t".join(samples) + "\n")
        for start in range(0, n_genes, 5000):
            mu = means[start : start + 5000, None] * rng.uniform(0.5, 1.5, n_samples)
            block = rng.negative_binomial(5, 5 / (5 + mu))
            lines = [
                f"ENSG{start + i:011d}\t" + "\t".join(map(str, row))
                for i, row in enumerate(block.tolist())
            ]
            handle.write("\n".join(lines) + "\n")


def sheet_for(n_samples: int):
    import pandas as pd

    return pd.DataFrame(
        {"sample": [f"S{j:04d}" for j in range(n_samples)],
         "response": ["responder", "non_responder"] * (n_samples // 2) + ["responder"] * (n_samples % 2)}
    ).set_index("sample", drop=False)


def measure(path: str, n_samples: int) -> dict:
    """Run in a fresh process: time the reading and validation, report peak RSS."""
    from msc_response.inputs.readers import read_counts
    from msc_response.inputs.validation import check_counts, match_samples

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    table = read_counts(path)
    read_s = time.perf_counter() - start
    counts = check_counts(table, path)
    del table
    counts, _ = match_samples(counts, sheet_for(n_samples), path, "samples.tsv")
    total_s = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "read_s": read_s,
        "validate_s": total_s - read_s,
        "total_s": total_s,
        "peak_rss_mb": peak / 1024,
        "rss_before_mb": base / 1024,
        "matrix_int64_mb": counts.shape[0] * counts.shape[1] * 8 / 2**20,
        "shape": list(counts.shape),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genes", type=int, default=60_000)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--gzip", action="store_true", help="also time a gzipped copy")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "counts.tsv"
        start = time.perf_counter()
        write_counts(path, args.genes, args.samples)
        print(
            f"generated {args.genes} genes x {args.samples} samples, "
            f"{path.stat().st_size / 2**20:.0f} MB of text in {time.perf_counter() - start:.1f} s"
        )
        paths = [path]
        if args.gzip:
            import gzip
            import shutil

            zipped = path.with_suffix(".tsv.gz")
            with open(path, "rb") as src, gzip.open(zipped, "wb", compresslevel=1) as dst:
                shutil.copyfileobj(src, dst)
            paths.append(zipped)
        for target in paths:
            child = subprocess.run(
                [sys.executable, __file__, "--child", str(target), str(args.samples)],
                capture_output=True, text=True, check=True,
                env={**os.environ, "PYTHONPATH": str(ROOT / "workflow" / "scripts")},
            )
            result = json.loads(child.stdout.strip().splitlines()[-1])
            print(
                f"{target.name}: read {result['read_s']:.2f} s + validate {result['validate_s']:.2f} s"
                f" = {result['total_s']:.2f} s; peak RSS {result['peak_rss_mb']:.0f} MB"
                f" (interpreter + imports {result['rss_before_mb']:.0f} MB; one int64 copy of the"
                f" matrix {result['matrix_int64_mb']:.0f} MB)"
            )


if __name__ == "__main__":
    main()
