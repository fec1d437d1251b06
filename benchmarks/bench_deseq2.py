#!/usr/bin/env python
"""Benchmark: FastInference vs PyDESeq2's DefaultInference vs R DESeq2 (Rscript).

Each engine runs as its own process, from process start to a written results table:

* ``fast``    -- FastInference + DeseqDataSetR + R's independent filter (this project)
* ``default`` -- PyDESeq2 0.5.4 as shipped (DefaultInference, n_cpus threads)
* ``r``       -- ``Rscript deseq2_reference.R`` (DESeq() + results())

Reported per engine: compute time (fit + results inside the process), whole-process
wall time, peak memory of the child (ru_maxrss from wait4), and agreement (log2FC
Pearson, padj < 0.05 Jaccard) with R and with DefaultInference.

Usage (from the repository root):
    python3 benchmarks/bench_deseq2.py --sizes pasilla,20000x40 \
        [--sizes 60000x200 --skip-default-above 5000000]

The fast engine is run once untimed first so numba's on-disk cache is warm (a
first-ever run compiles the kernels: about 10 s once per machine).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "workflow" / "scripts"
CONTRAST = ["condition", "treated", "untreated"]


# ------------------------------------------------------------------ worker (child) side
def worker(engine: str, workdir: Path, out: Path, n_cpus: int) -> None:
    """Import, read the inputs, fit, write the table; print compute seconds as JSON."""
    sys.path.insert(0, str(SCRIPTS))
    import warnings

    import pandas as pd

    warnings.filterwarnings("ignore")
    counts = pd.read_csv(workdir / "counts.tsv", sep="\t", index_col=0).T
    meta = pd.read_csv(workdir / "coldata.tsv", sep="\t", index_col=0, dtype=str)
    meta = meta.loc[counts.index]
    params = dict(
        line.rstrip("\n").split("\t", 1) for line in open(workdir / "params.tsv")
    )
    design = params["design"]
    # module imports are part of the wall time, not of the compute time
    from msc_response.de.fit import DESettings
    from msc_response.de.results import fit_and_test

    settings = {
        # the workflow's default: FastInference with R DESeq2's rules
        "fast": DESettings(n_cpus=n_cpus),
        # PyDESeq2 as it comes
        "default": DESettings(
            inference="default",
            dispersion_prior="pydeseq2",
            independent_filtering_rule="pydeseq2",
            n_cpus=n_cpus,
        ),
    }[engine]
    # imported here so their cost stays outside the compute time
    import pydeseq2.dds  # noqa: F401
    import pydeseq2.ds  # noqa: F401

    import msc_response.de.r_compat  # noqa: F401
    import msc_response.de.engine  # noqa: F401

    t0 = time.perf_counter()
    res, _, _ = fit_and_test(counts, meta, design, CONTRAST, settings)
    compute = time.perf_counter() - t0
    res.to_csv(out, sep="\t")
    print(json.dumps({"compute_seconds": compute}))


# ------------------------------------------------------------------ parent side
def _run_child(cmd: list[str], env=None) -> tuple[float, float, str, str]:
    """Run a child process; return (wall seconds, peak RSS MB, stdout, stderr)."""
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=fo, stderr=fe, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read().decode(), fe.read().decode()
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed ({proc.returncode}):\n{err[-3000:]}")
    return wall, usage.ru_maxrss / 1024.0, out, err


def make_dataset(name: str, seed: int = 7):
    """(counts samples x genes, metadata) for 'pasilla' or 'GxN' synthetic data."""
    import numpy as np
    import pandas as pd

    if name == "pasilla":
        from inmoose.data.pasilla import pasilla

        adata = pasilla()
        counts = pd.DataFrame(
            np.asarray(adata.X), index=adata.obs_names, columns=adata.var_names
        )
        meta = adata.obs[["condition"]].astype(str)
        return counts, meta
    n_genes, n_samples = (int(v) for v in name.lower().split("x"))
    rng = np.random.default_rng(seed)
    groups = np.array(["untreated"] * (n_samples // 2) + ["treated"] * (n_samples - n_samples // 2))
    samples = [f"s{i:03d}" for i in range(n_samples)]
    meta = pd.DataFrame({"condition": groups}, index=samples)
    base = np.exp(rng.normal(np.log(150), 1.8, n_genes))
    disp = (0.03 + 1.5 / base) * np.exp(rng.normal(0, 0.4, n_genes))
    lfc = np.where(rng.random(n_genes) < 0.1, rng.normal(0, 1.2, n_genes), 0.0)
    sf = np.exp(rng.normal(0, 0.2, n_samples))
    treated = (groups == "treated").astype(float)
    counts = np.empty((n_samples, n_genes), dtype=np.int64)
    size = 1 / disp
    for i in range(n_samples):  # row by row keeps the peak memory of this step low
        mu = sf[i] * base * np.exp(treated[i] * lfc * np.log(2))
        counts[i] = rng.negative_binomial(size, size / (size + mu))
    genes = [f"gene{i:05d}" for i in range(n_genes)]
    return pd.DataFrame(counts, index=samples, columns=genes), meta


def agreement(a, b) -> tuple[float, float]:
    import numpy as np

    from msc_response.de.crosscheck import jaccard

    b = b.loc[a.index]
    ok = a["log2FoldChange"].notna() & b["log2FoldChange"].notna()
    rho = float(np.corrcoef(a.loc[ok, "log2FoldChange"], b.loc[ok, "log2FoldChange"])[0, 1])
    sa = set(a.index[a["padj"] < 0.05])
    sb = set(b.index[b["padj"] < 0.05])
    return rho, jaccard(sa, sb)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="pasilla,20000x40",
                    help="comma-separated: pasilla and/or GENESxSAMPLES (e.g. 60000x200)")
    ap.add_argument("--engines", default="fast,default,r")
    ap.add_argument("--skip-default-above", type=float, default=5e6,
                    help="skip DefaultInference when genes x samples exceeds this")
    ap.add_argument("--n-cpus", type=int, default=2)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--worker", nargs=3, metavar=("ENGINE", "WORKDIR", "OUT"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker[0], Path(args.worker[1]), Path(args.worker[2]), args.n_cpus)
        return 0

    sys.path.insert(0, str(SCRIPTS))
    import pandas as pd

    from msc_response.de.r_reference import prepare_r_inputs, r_command, read_r_outputs

    engines = args.engines.split(",")
    base = Path(args.workdir or tempfile.mkdtemp(prefix="bench_deseq2_"))
    rows = []
    warmed = False
    for size in args.sizes.split(","):
        counts, meta = make_dataset(size)
        wd = base / size
        prepare_r_inputs(counts, meta, "~condition", CONTRAST, wd)
        n_cells = counts.shape[0] * counts.shape[1]
        del counts
        results = {}
        for engine in engines:
            if engine == "default" and n_cells > args.skip_default_above:
                print(f"[{size}] skipping default ({n_cells:.0f} cells)", file=sys.stderr)
                continue
            if engine == "r":
                wall, rss, _, _ = _run_child(r_command(wd))
                r = read_r_outputs(wd, wall)
                results[engine] = r.results
                compute = r.compute_seconds
            else:
                out = wd / f"results_{engine}.tsv"
                cmd = [sys.executable, str(Path(__file__).resolve()), "--n-cpus",
                       str(args.n_cpus), "--worker", engine, str(wd), str(out)]
                if engine == "fast" and not warmed:
                    _run_child(cmd)  # compile / load numba's cache once
                    warmed = True
                wall, rss, stdout, _ = _run_child(cmd)
                compute = json.loads(stdout.strip().splitlines()[-1])["compute_seconds"]
                results[engine] = pd.read_csv(out, sep="\t", index_col=0)
            rows.append(dict(data=size, engine=engine, compute_s=compute, wall_s=wall,
                             peak_mb=rss))
            print(f"[{size}] {engine}: compute {compute:.2f} s, wall {wall:.2f} s, "
                  f"peak {rss:.0f} MB", file=sys.stderr)
        for row in rows:
            if row["data"] != size:
                continue
            res = results[row["engine"]]
            for ref in ("r", "default"):
                if ref in results and ref != row["engine"]:
                    rho, jac = agreement(res, results[ref])
                    row[f"pearson_vs_{ref}"] = rho
                    row[f"jaccard_vs_{ref}"] = jac
    table = pd.DataFrame(rows)
    for ref in ("r", "default"):
        for k in (f"pearson_vs_{ref}", f"jaccard_vs_{ref}"):
            if k not in table:
                table[k] = float("nan")
    r_compute = table[table.engine == "r"].set_index("data")["compute_s"]
    r_wall = table[table.engine == "r"].set_index("data")["wall_s"]
    table["compute_speedup_vs_r"] = table["data"].map(r_compute) / table["compute_s"]
    table["wall_fraction_of_r"] = table["wall_s"] / table["data"].map(r_wall)
    with pd.option_context("display.width", 200, "display.max_columns", 20,
                           "display.float_format", "{:.4g}".format):
        print(table.to_string(index=False))
    print(f"(inputs and outputs in {base})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
