"""Enrichment of one contrast against both collections: time, peak memory, p-values.

A benchmark, not a test: it prints figures.

1. Speed and memory, side by side in one run (alternating, --repeats times each):
   - plain gseapy: the script a user who has read gseapy's documentation writes, on
     the same DE table and GMTs: gene sets read into dicts, then per collection
     `gseapy.prerank(method="multilevel", threads=2, seed=1)` on the Wald statistics
     of the tested genes and `gseapy.enrich(gene_list, gene_sets=dict,
     background=list)` on the up and on the down genes (padj < 0.05), the tested
     genes as background;
   - the workflow: `snakemake --cores 2` producing the same tables of both
     collections (GO BP, MSC biology; plus sets.tsv) of the example's contrast, the
     whole snakemake process, with only the enrichment job left to run (the DE table
     is made once beforehand; figures are not requested, as the plain script draws
     none).
   Both are measured the same way: wall time, and the peak over time of the summed
   resident memory (RSS; PSS too) of the process and all its children, sampled every
   20 ms. Targets: the workflow at <= 0.5x the time and <= 0.3x the memory.
2. p-values against a long permutation reference: for ~40 GO BP sets (the planted
   ones and sets drawn across the range of p-values of the workflow's table), 100,000
   random gene sets of the same size each (numpy, fgsea's definition of the
   permutation p-value: the share of random sets of the same sign whose ES is at
   least as extreme). Pearson correlation of -log10 p where the reference resolves
   them (at least 10 random sets as extreme), and the ratio of the two.

    python benchmarks/bench_enrichment.py [--repeats 5] [--permutations 100000] [--keep DIR]
        [--skip-accuracy]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

CONTRAST = "responder_vs_non_responder"
GO_BP = ROOT / "resources" / "gene_sets" / "go_bp.gmt.gz"
# name: (GMT, min_size, max_size), as config/config.yaml
COLLECTIONS = {
    "go_bp": (GO_BP, 15, 500),
    "msc_biology": (ROOT / "resources" / "gene_sets" / "msc_biology.gmt", 3, 500),
}
TABLES = [
    f"results/enrichment/{CONTRAST}/{collection}.{kind}.tsv"
    for collection in COLLECTIONS
    for kind in ("gsea", "ora_up", "ora_down", "sets")
]

PLAIN_SCRIPT = textwrap.dedent(
    """
    import gzip
    import sys

    import gseapy
    import pandas as pd

    def read_gmt(path):
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt") as handle:
            rows = [line.rstrip("\\n").split("\\t") for line in handle if line.strip()]
        return {row[0]: [gene for gene in row[2:] if gene] for row in rows}

    de = pd.read_csv(sys.argv[1], sep="\\t")
    tested = de[de["padj"].notna()]
    ranking = tested.set_index("symbol")["stat"]
    background = tested["symbol"].tolist()
    up = tested.loc[(tested["padj"] < 0.05) & (tested["log2FoldChange"] > 0), "symbol"]
    down = tested.loc[(tested["padj"] < 0.05) & (tested["log2FoldChange"] < 0), "symbol"]
    for gmt, min_size, max_size in zip(sys.argv[2::3], sys.argv[3::3], sys.argv[4::3]):
        sets = read_gmt(gmt)
        gseapy.prerank(rnk=ranking, gene_sets=sets, method="multilevel", threads=2, seed=1,
                       min_size=int(min_size), max_size=int(max_size), outdir=None,
                       no_plot=True)
        for genes in (up, down):
            gseapy.enrich(gene_list=genes.tolist(), gene_sets=sets, background=background,
                          outdir=None, no_plot=True)
    """
)


def measure(command: list[str], cwd: Path | None = None) -> dict:
    """Wall time and peak summed RSS/PSS (MB) of `command` and its descendants."""
    start = time.perf_counter()
    process = psutil.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = {"rss": 0.0, "pss": 0.0}
    done = threading.Event()

    def sample():
        while not done.is_set():
            rss = pss = 0
            try:
                tree = [process, *process.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            for member in tree:
                try:
                    info = member.memory_full_info()
                    rss, pss = rss + info.rss, pss + info.pss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    pass
            peak["rss"] = max(peak["rss"], rss / 2**20)
            peak["pss"] = max(peak["pss"], pss / 2**20)
            done.wait(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    _, stderr = process.communicate()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    if process.returncode != 0:
        sys.exit(f"{' '.join(command[:4])} ... failed:\n{stderr.decode()[-4000:]}")
    return {"wall": wall, **peak}


def snakemake_command(workdir: Path, *targets: str) -> list[str]:
    return [
        sys.executable, "-m", "snakemake", *targets, "--snakefile", str(ROOT / "Snakefile"),
        "--directory", str(workdir), "--configfile", str(workdir / "config.yaml"),
        "--cores", "2", "--quiet", "all",
    ]


def prepare(workdir: Path) -> None:
    defaults = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    config = {k: str((ROOT / defaults[k]).resolve()) for k in ("counts", "samples", "annotation")}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    if not (workdir / f"results/de/{CONTRAST}.tsv").exists():
        print("preparing: the example's DE table (once) ...", flush=True)
        subprocess.run(snakemake_command(workdir, f"results/de/{CONTRAST}.tsv"), check=True)
    (workdir / "plain_gseapy.py").write_text(PLAIN_SCRIPT)


def speed(workdir: Path, repeats: int) -> None:
    runs = {"plain gseapy script": [], "workflow (snakemake process)": []}
    plain = [sys.executable, str(workdir / "plain_gseapy.py"), str(workdir / f"results/de/{CONTRAST}.tsv")]
    for gmt, min_size, max_size in COLLECTIONS.values():
        plain += [str(gmt), str(min_size), str(max_size)]
    for _ in range(repeats):
        runs["plain gseapy script"].append(measure(plain))
        for table in TABLES:
            (workdir / table).unlink(missing_ok=True)
        runs["workflow (snakemake process)"].append(measure(snakemake_command(workdir, *TABLES)))
    print(f"\n1. one contrast x (GO BP, MSC biology), GSEA + ORA up + ORA down "
          f"({repeats} runs each, alternating; median)")
    print(f"{'':<32}{'wall s':>9}{'peak RSS MB':>13}{'peak PSS MB':>13}")
    medians = {}
    for name, values in runs.items():
        medians[name] = {key: statistics.median(v[key] for v in values) for key in ("wall", "rss", "pss")}
        m = medians[name]
        print(f"{name:<32}{m['wall']:>9.1f}{m['rss']:>13.0f}{m['pss']:>13.0f}"
              f"   (walls: {', '.join(format(v['wall'], '.1f') for v in values)})")
    plain_m, ours = medians["plain gseapy script"], medians["workflow (snakemake process)"]
    print(f"{'workflow / plain':<32}{ours['wall'] / plain_m['wall']:>9.2f}"
          f"{ours['rss'] / plain_m['rss']:>13.2f}{ours['pss'] / plain_m['pss']:>13.2f}"
          "   (target: <= 0.5 time, <= 0.3 memory)")
    job = pd.read_csv(workdir / f"results/benchmarks/enrichment/{CONTRAST}.tsv", sep="\t").iloc[0]
    print(f"the enrichment job alone (Snakemake benchmark file, last run): {job['s']:.1f} s, "
          f"{job['cpu_time']:.1f} CPU s, max RSS {job['max_rss']:.0f} MB")


def random_set_es(positions: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    """ES (fgsea/gseapy definition, weight 1) of gene sets given as rows of positions."""
    positions = np.sort(positions, axis=1)
    k = positions.shape[1]
    w = weights[positions]
    total = w.sum(axis=1, keepdims=True)
    after = np.cumsum(w, axis=1) / total - (positions - np.arange(k)) / (n - k)
    before = after - w / total
    high, low = after.max(axis=1), np.minimum(before.min(axis=1), 0)
    return np.where(np.abs(high) > np.abs(low), high, low)


def random_subsets(rng, n: int, k: int, count: int) -> np.ndarray:
    """`count` uniform random k-subsets of range(n): draw, then redraw repeats."""
    draws = rng.integers(0, n, size=(count, k))
    while True:
        draws.sort(axis=1)
        repeated = np.zeros(draws.shape, dtype=bool)
        repeated[:, 1:] = draws[:, 1:] == draws[:, :-1]
        if not repeated.any():
            return draws
        draws[repeated] = rng.integers(0, n, size=int(repeated.sum()))


def permutation_pvalue(observed: float, k: int, weights, n: int, permutations: int, rng):
    more = same_sign = 0
    for start in range(0, permutations, 20_000):
        null = random_set_es(random_subsets(rng, n, k, min(20_000, permutations - start)), weights, n)
        if observed >= 0:
            more += int((null >= observed).sum())
            same_sign += int((null >= 0).sum())
        else:
            more += int((null <= observed).sum())
            same_sign += int((null <= 0).sum())
    return (more + 1) / (same_sign + 1), more


def accuracy(workdir: Path, permutations: int) -> None:
    from msc_response.enrichment.analysis import ranked_genes, read_de_table
    from msc_response.enrichment.gene_sets import match_sets, read_gmt

    table = pd.read_csv(workdir / TABLES[0], sep="\t")
    ranked = ranked_genes(read_de_table(workdir / f"results/de/{CONTRAST}.tsv"), "stat", None)
    sets = match_sets(read_gmt(GO_BP, "go_bp"), ranked.universe, 15, 500)
    planted = pd.read_csv(ROOT / "resources/example/planted_pathways.tsv", sep="\t")
    rng = np.random.default_rng(2024)
    chosen = list(planted.loc[planted["collection"] == "go_bp", "term"])
    bins = [0, 1e-6, 1e-4, 1e-3, 1e-2, 0.1, 1.01]
    for low, high in zip(bins[:-1], bins[1:]):
        pool = table.loc[(table["pvalue"] >= low) & (table["pvalue"] < high) & ~table["term"].isin(chosen), "term"]
        chosen += list(rng.choice(pool, min(len(pool), 7), replace=False)) if len(pool) else []
    weights = np.abs(ranked.ranking.to_numpy(float))
    position = pd.Series(np.arange(len(weights)), index=ranked.ranking.index)
    rows = []
    start = time.perf_counter()
    for term in chosen:
        hits = position[sets.genes[term]].to_numpy()[None, :]
        observed = random_set_es(hits, weights, len(weights))[0]
        reference, more = permutation_pvalue(observed, hits.shape[1], weights, len(weights), permutations, rng)
        ours = table.set_index("term").loc[term]
        assert abs(observed - ours["es"]) < 1e-7, term  # the table keeps 8 digits
        rows.append({"term": term, "size": hits.shape[1], "es": observed, "p_workflow": ours["pvalue"],
                     "log2err": ours["log2err"], "p_reference": reference, "as_extreme": more})
    result = pd.DataFrame(rows).sort_values("p_workflow")
    resolvable = result["as_extreme"] >= 10
    x = -np.log10(result.loc[resolvable, "p_workflow"])
    y = -np.log10(result.loc[resolvable, "p_reference"])
    ratio = result.loc[resolvable, "p_workflow"] / result.loc[resolvable, "p_reference"]
    print(f"\n2. p-values vs {permutations:,} random gene sets per set ({len(result)} GO BP sets, "
          f"{time.perf_counter() - start:.0f} s)")
    with pd.option_context("display.width", 200, "display.max_colwidth", 48):
        print(result.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print(f"resolvable by the reference (>= 10 as extreme): {int(resolvable.sum())} sets; "
          f"Pearson of -log10 p: {np.corrcoef(x, y)[0, 1]:.4f} (target >= 0.95); "
          f"p_workflow / p_reference: median {ratio.median():.2f}, "
          f"range {ratio.min():.2f}-{ratio.max():.2f}")
    unresolved = result.loc[~resolvable]
    print(f"beyond the reference ({len(unresolved)} sets, < 10 as extreme): workflow p from "
          f"{unresolved['p_workflow'].min():.2g} to {unresolved['p_workflow'].max():.2g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--permutations", type=int, default=100_000)
    parser.add_argument("--keep", help="work in this directory and keep it")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-accuracy", action="store_true")
    args = parser.parse_args()
    workdir = Path(args.keep or tempfile.mkdtemp(prefix="msc-bench-enrichment-"))
    workdir.mkdir(parents=True, exist_ok=True)
    prepare(workdir)
    print(f"machine: {psutil.cpu_count()} cores, load average {psutil.getloadavg()[0]:.1f}")
    if not args.skip_speed:
        speed(workdir, args.repeats)
    else:
        subprocess.run(snakemake_command(workdir, *TABLES), check=True)
    if not args.skip_accuracy:
        accuracy(workdir, args.permutations)


if __name__ == "__main__":
    main()
