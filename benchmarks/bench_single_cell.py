#!/usr/bin/env python
"""Benchmark: summing a large single-cell file per sample (pseudobulk).

A benchmark, not a test: it prints a table.

1. Writes (once, seeded, block by block so that writing it needs little memory) a
   cells x genes AnnData of raw counts in `layers['counts']` (CSR, int32; X left
   empty): by default 200,000 cells x 30,000 genes, about 1,000 genes detected per
   cell, cells of 40 donors.
2. Runs, each in a fresh Python process, side by side, `--repeats` times:
   - the workflow's reader (`msc_response.inputs.single_cell.pseudobulk`: blocks of
     cells read from the file, checked and summed with `scanpy.get.aggregate`);
   - what a scanpy user would write: `anndata.read_h5ad(path)` and
     `scanpy.get.aggregate(adata, by="donor", func="sum", layer="counts")`.
   and reports wall time and peak memory (max RSS of the child process); the two
   results are compared value for value. Targets: within 4 GB and a minute on 2 cores.

    python benchmarks/bench_single_cell.py [--cells 200000] [--genes 30000]
        [--per-cell 1000] [--workdir DIR] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

DONORS = 40


def write_cells(path: Path, n_cells: int, n_genes: int, per_cell: int, seed: int = 1) -> None:
    """A CSR count layer written straight into the .h5ad, block by block."""
    import anndata as ad
    import h5py
    import numpy as np
    import pandas as pd
    from anndata.io import write_elem

    rng = np.random.default_rng(seed)
    obs = pd.DataFrame(
        {"donor": pd.Categorical([f"D{i % DONORS:02d}" for i in range(n_cells)])},
        index=[f"c{i}" for i in range(n_cells)],
    )
    var = pd.DataFrame(index=[f"G{i:05d}" for i in range(n_genes)])
    # genes detected in proportion to a skewed expression level, as in real cells
    level = rng.gamma(0.3, 1.0, n_genes)
    level /= level.sum()
    with h5py.File(path, "w") as handle:
        write_elem(handle, "/", ad.AnnData(obs=obs, var=var))
        group = handle.create_group("layers/counts")
        group.attrs.update({"encoding-type": "csr_matrix", "encoding-version": "0.1.0",
                            "shape": (n_cells, n_genes)})
        nnz = n_cells * per_cell
        data = group.create_dataset("data", (nnz,), dtype="int32", chunks=(1 << 20,))
        indices = group.create_dataset("indices", (nnz,), dtype="int32", chunks=(1 << 20,))
        group.create_dataset("indptr", data=np.arange(n_cells + 1, dtype=np.int64) * per_cell)
        block = 10_000
        for start in range(0, n_cells, block):
            stop = min(start + block, n_cells)
            genes = np.sort(np.stack([
                rng.choice(n_genes, per_cell, replace=False, p=level) for _ in range(stop - start)
            ]), axis=1)
            values = rng.geometric(0.5, size=genes.shape).astype(np.int32)
            indices[start * per_cell:stop * per_cell] = genes.ravel()
            data[start * per_cell:stop * per_cell] = values.ravel()


WORKFLOW = """
import sys, json, numpy as np, pandas as pd
sys.path.insert(0, {scripts!r})
from msc_response.inputs.single_cell import SingleCellSpec, pseudobulk
samples = pd.Index([f"D{{i:02d}}" for i in range({donors})])
result = pseudobulk({path!r}, SingleCellSpec(layer="counts", sample_column="donor", min_cells=1), samples)
np.save({out!r}, result.counts.to_numpy().T)
"""

PLAIN = """
import numpy as np, anndata as ad, scanpy as sc
adata = ad.read_h5ad({path!r})
summed = sc.get.aggregate(adata, by="donor", func="sum", layer="counts")
order = np.argsort(summed.obs["donor"].astype(str).to_numpy())
np.save({out!r}, np.asarray(summed.layers["sum"])[order])
"""


def run_child(code: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of `code` in a fresh Python process."""
    wrapper = code + (
        "\nimport resource, json\n"
        "print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))\n"
    )
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    peak_kb = json.loads(done.stdout.strip().splitlines()[-1])
    return wall, peak_kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=200_000)
    parser.add_argument("--genes", type=int, default=30_000)
    parser.add_argument("--per-cell", type=int, default=1_000)
    parser.add_argument("--workdir", help="keep the file here (default: a temp dir)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import numpy as np

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench_sc_"))
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"cells_{args.cells}x{args.genes}x{args.per_cell}.h5ad"
    if not path.exists():
        start = time.perf_counter()
        write_cells(path, args.cells, args.genes, args.per_cell)
        print(f"(file written in {time.perf_counter() - start:.0f} s: "
              f"{path.stat().st_size / 1e9:.2f} GB)")
    codes = {
        "workflow (pseudobulk, blocks)": WORKFLOW.format(
            scripts=str(ROOT / "workflow" / "scripts"), donors=DONORS, path=str(path),
            out=str(workdir / "workflow.npy")),
        "plain (read_h5ad + aggregate)": PLAIN.format(path=str(path), out=str(workdir / "plain.npy")),
    }
    times = {name: [] for name in codes}
    peaks = {name: [] for name in codes}
    for _ in range(args.repeats):
        for name, code in codes.items():  # side by side, in pairs
            wall, peak = run_child(code)
            times[name].append(wall)
            peaks[name].append(peak)
    same = np.array_equal(np.load(workdir / "workflow.npy"),
                          np.rint(np.load(workdir / "plain.npy")).astype(np.int64))
    print(f"\n{args.cells:,} cells x {args.genes:,} genes, {args.per_cell:,} stored values "
          f"per cell, {DONORS} donors; medians of {args.repeats}")
    print(f"{'':36}{'wall s':>10}{'peak MB':>10}")
    for name in codes:
        print(f"{name:36}{statistics.median(times[name]):10.1f}{statistics.median(peaks[name]):10.0f}")
    print(f"same sums: {same}")


if __name__ == "__main__":
    main()
