"""The whole DE process on airway, side by side with the plain R alternative.

A benchmark, not a test: it prints figures.

airway (inmoose's copy of the Bioconductor data set: 64,102 genes x 8 samples, design
`~ cell + dex`, contrast dex trt vs untrt, no pre-filter), written once as the
workflow's inputs (a gzipped count table and a sample sheet). Then, alternating, in
one run (--pairs times each; medians):

- the workflow: `snakemake results/de/dex_trt_vs_untrt.tsv --forceall --cores 2`, the
  whole snakemake process (input checks, design audit, fit, contrast);
- `Rscript benchmarks/lab_deseq2.R ... de-only`: read the same counts and sheet,
  `DESeq()`, `results()`, write the table.

Target: the workflow at <= 0.5x the Rscript's wall time. The per-job CPU seconds come
from Snakemake's benchmark files of the last workflow run: on a busy machine the wall
times stretch, the CPU times much less.

    python benchmarks/bench_de_process.py [--pairs 5] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import yaml
from timing import timed

ROOT = Path(__file__).resolve().parents[1]
CONTRAST = "dex_trt_vs_untrt"
DESIGN = "~ cell + dex"


def prepare(workdir: Path) -> None:
    """airway as the workflow's inputs, and its config (written once)."""
    if (workdir / "config.yaml").exists():
        return
    import anndata as ad
    import inmoose.data.airway  # noqa: F401 (the package holds the file)
    import pandas as pd

    path = Path(inmoose.data.airway.__file__).parent / "airway.h5ad"
    adata = ad.read_h5ad(path)
    counts = pd.DataFrame(adata.X.T.astype("int64"), index=adata.var_names, columns=adata.obs_names)
    counts.index.name = "gene_id"
    counts.to_csv(workdir / "counts.tsv.gz", sep="\t")
    sheet = adata.obs[["cell", "dex"]].astype(str).rename_axis("sample")
    sheet.to_csv(workdir / "samples.tsv", sep="\t")
    config = {
        "counts": str(workdir / "counts.tsv.gz"),
        "samples": str(workdir / "samples.tsv"),
        "design": DESIGN,
        "contrasts": {CONTRAST: {"variable": "dex", "test": "trt", "reference": "untrt"}},
        "diffexp": {"prefilter": {"min_count": 0}},
    }
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))


def workflow_command(workdir: Path) -> list[str]:
    return [
        sys.executable, "-m", "snakemake", f"results/de/{CONTRAST}.tsv", "--forceall",
        "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir),
        "--configfile", str(workdir / "config.yaml"), "--cores", "2", "--quiet", "all",
    ]


def r_command(workdir: Path) -> list[str]:
    return [
        "Rscript", str(ROOT / "benchmarks" / "lab_deseq2.R"), str(workdir / "counts.tsv.gz"),
        str(workdir / "samples.tsv"), DESIGN, "dex", "trt", "untrt", str(workdir / "r"), "de-only",
    ]


def job_cpu(workdir: Path) -> list[tuple[str, float, float]]:
    import pandas as pd

    rows = []
    for path in sorted((workdir / "results/benchmarks").rglob("*.tsv")):
        row = pd.read_csv(path, sep="\t").iloc[0]
        job = str(path.relative_to(workdir / "results/benchmarks")).removesuffix(".tsv")
        rows.append((job, float(row["s"]), float(row["cpu_time"])))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--workdir", help="work in this directory and keep it")
    args = parser.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="msc-bench-de-"))
    workdir.mkdir(parents=True, exist_ok=True)
    prepare(workdir)
    print("warming up (numba's cache, R's packages) ...", flush=True)
    timed(workflow_command(workdir))
    timed(r_command(workdir))
    walls = {"workflow (snakemake process)": [], "Rscript DESeq() + results()": []}
    for _ in range(args.pairs):
        walls["workflow (snakemake process)"].append(timed(workflow_command(workdir)))
        walls["Rscript DESeq() + results()"].append(timed(r_command(workdir)))
    print(f"\nairway, 64,102 genes x 8 samples, {DESIGN}, no pre-filter; "
          f"{args.pairs} pairs, alternating; median wall s")
    medians = {}
    for name, values in walls.items():
        medians[name] = statistics.median(values)
        print(f"{name:<32}{medians[name]:>8.2f}   ({', '.join(f'{v:.2f}' for v in values)})")
    ours, theirs = medians.values()
    print(f"{'workflow / Rscript':<32}{ours / theirs:>8.2f}   (target <= 0.5)")
    print(f"\njobs of the last workflow run (Snakemake's benchmark files)")
    print(f"{'job':<40}{'wall s':>8}{'CPU s':>8}")
    for job, wall, cpu in job_cpu(workdir):
        print(f"{job:<40}{wall:>8.2f}{cpu:>8.2f}")


if __name__ == "__main__":
    main()
