#!/usr/bin/env python
"""Benchmark: the marker stage's steps on a finished run, one at a time.

Times (wall and CPU of this process) the marker table + panel, the figures, the
identity check and the signature with the default config, on the results of a run
of the workflow (default: run the example cohort up to the DE table and the dataset
in a temporary directory first). `--profile` prints the signature's cProfile top
functions (where its time goes: gene selection and the batched L2 fits, see
signature_cv.py).

    python3 benchmarks/bench_markers.py [--results DIR/results] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))
CONTRAST = "responder_vs_non_responder"


def example_results() -> Path:
    workdir = Path(tempfile.mkdtemp(prefix="msc-bench-markers-"))
    defaults = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    config = {k: str((ROOT / defaults[k]).resolve()) for k in ("counts", "samples", "annotation")}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
         "--directory", str(workdir), "--configfile", str(workdir / "config.yaml"),
         "--cores", "2", "--quiet", "all", "results/dataset.h5ad", f"results/de/{CONTRAST}.tsv"],
        check=True, capture_output=True,
    )
    return workdir / "results"


def timed(label: str, function):
    wall, cpu = time.perf_counter(), time.process_time()
    value = function()
    print(f"{label:<34}{time.perf_counter() - wall:>9.2f}{time.process_time() - cpu:>9.2f}")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", help="results/ of a finished run (default: run the example)")
    parser.add_argument("--profile", action="store_true", help="cProfile the signature")
    args = parser.parse_args()
    results = Path(args.results) if args.results else example_results()

    print(f"{'step':<34}{'wall s':>9}{'cpu s':>9}")
    timed("imports (anndata, scanpy, sklearn, ...)", lambda: [
        importlib.import_module(name) for name in
        ("anndata", "scanpy", "sklearn.linear_model", "msc_response.markers.figures")])
    import anndata as ad
    import numpy as np
    import pandas as pd

    from msc_response.markers.config import check_marker_config
    from msc_response.markers.figures import contrast_figures, signature_roc
    from msc_response.markers.signature import SignatureSettings, run_signature
    from msc_response.markers.tables import contrast_samples, contrast_tables, identity_table

    settings = yaml.safe_load((ROOT / "config/config.yaml").read_text())["markers"]
    contrast = yaml.safe_load((ROOT / "config/config.yaml").read_text())["contrasts"][CONTRAST]
    adata = timed("read dataset.h5ad", lambda: ad.read_h5ad(results / "dataset.h5ad"))
    de = pd.read_csv(results / f"de/{CONTRAST}.tsv", sep="\t")
    panel = check_marker_config(settings, ROOT).panel
    table, rows = timed("markers.tsv + panel.tsv", lambda: contrast_tables(
        de, adata, contrast, panel, settings, 0.05))
    samples = contrast_samples(adata, contrast)
    out = Path(tempfile.mkdtemp(prefix="msc-bench-figures-"))
    names = ["strip_top", "strip_panel", "heatmap", "panel_dotplot", "volcano_panel"]
    timed("five figures", lambda: contrast_figures(
        de, table, rows, panel, samples, name=CONTRAST, alpha=0.05,
        n_strip=settings["plots"]["strip_genes"], heatmap_genes=settings["plots"]["heatmap_genes"],
        colour_by=settings["plots"]["colour_by"], expressed_min_count=settings["expressed_min_count"],
        paths={name: out / f"{name}.png" for name in names}))
    checked = check_marker_config(settings, ROOT)
    timed("identity.tsv", lambda: identity_table(
        adata, checked.positive, checked.negative,
        **{k: settings["identity"][k] for k in ("positive_min_count", "negative_min_count", "z")}))
    view = samples.adata
    signature_settings = SignatureSettings.from_config(settings["signature"])
    profiler = cProfile.Profile()

    def signature():
        if args.profile:
            profiler.enable()
        result = run_signature(
            np.asarray(view.layers["vst"], dtype=float), np.asarray(view.layers["normalised"], dtype=float),
            view.obs, view.uns["design"], samples.variable, samples.is_test, view.var_names,
            view.var["symbol"], signature_settings)
        profiler.disable()
        return result

    result = timed(
        f"signature ({signature_settings.repeats} repeats + {signature_settings.permutations} perm.)",
        signature,
    )
    timed("signature_roc.png", lambda: signature_roc(result, out / "roc.png", CONTRAST))
    perf = result.performance.iloc[0]
    print(f"\nsignature AUROC {perf['auroc_mean']:.3f}, null {perf['null_auroc_mean']:.3f}, "
          f"p {perf['p_value']:.3f}; figures in {out}")
    if args.profile:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(15)


if __name__ == "__main__":
    main()
