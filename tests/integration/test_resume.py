"""A run killed with SIGKILL in the middle of the DE step resumes to the same results.

Snakemake and its job processes are killed at once (the whole process group), as an
out-of-memory killer or a lost node would: nothing gets to clean up. Tables and h5ad
files are written under a temporary name and renamed (msc_response.inputs.readers), so no file
under its real name is ever half-written; after `snakemake --unlock`, the rerun
(profiles/default sets --rerun-incomplete) redoes the interrupted job.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import yaml

from msc_response.common.provenance import without_time_stamp

from .conftest import ROOT, hash_seed_env, result_tables, run_snakemake

pytestmark = pytest.mark.integration


def start_snakemake(workdir, config, output):
    workdir.mkdir(parents=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    command = [
        sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
        "--directory", str(workdir), "--configfile", str(workdir / "config.yaml"),
        "--cores", "2",
    ]
    # A session of its own: the kill reaches snakemake and every job it started.
    return subprocess.Popen(
        command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        env=hash_seed_env(), cwd=ROOT,
    )


def wait_for_de_job(process, workdir, timeout=600):
    """Block until a DE job (rule deseq2*) has started its script: its log exists."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        started = list((workdir / "logs").glob("deseq2*/**/*.log"))
        if started:
            return started
        if process.poll() is not None:
            return None
        time.sleep(0.05)
    return None


def test_killed_during_de_resumes_to_identical_results(reference_run, tmp_path):
    reference, config = reference_run
    workdir = tmp_path / "run"
    with open(tmp_path / "first.log", "w") as output:
        process = start_snakemake(workdir, config, output)
        try:
            started = wait_for_de_job(process, workdir)
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    first = (tmp_path / "first.log").read_text()
    assert started, f"no DE job started before the run ended:\n{first[-3000:]}"

    # At the kill point the DE step had started and not finished ...
    de_tables = list((workdir / "results" / "de").glob("*.summary.tsv"))
    assert not de_tables, f"the DE step had already finished: {de_tables}"
    # ... and every file under its real name is complete: the same bytes as the
    # uninterrupted run's (at most a hidden temporary of an atomic write is left).
    present = [
        path for path in (workdir / "results").rglob("*")
        if path.is_file() and "benchmarks" not in path.parts and not path.name.startswith(".")
    ]
    assert present, "nothing written before the DE step?"
    for path in present:
        relative = path.relative_to(workdir)
        assert path.read_bytes() == (reference / relative).read_bytes(), (
            f"{relative} differs from the uninterrupted run's: truncated at the kill?"
        )

    # The killed Snakemake left its lock (it cannot tell a kill from a second run
    # still going): `--unlock`, as its message says, then the plain rerun, with the
    # default profile's --rerun-incomplete, finishes the run.
    run_snakemake(workdir, config, "--unlock")
    resumed = run_snakemake(workdir, config)
    assert "profiles/default" in resumed.stderr, "the default profile was not used"
    assert result_tables(workdir) == result_tables(reference)
    assert set(result_tables(workdir)) >= {"de/responder_vs_non_responder.tsv", "qc/samples_qc.tsv"}
    # Same inputs, same record, apart from its time stamp.
    record, expected = (
        json.loads((run / "results" / "provenance.json").read_text()) for run in (workdir, reference)
    )
    assert without_time_stamp(record) == without_time_stamp(expected)
    assert record["outputs"]["results/de/responder_vs_non_responder.tsv"]["sha256"]


def test_an_added_contrast_reuses_the_fit_and_runs_end_to_end(reference_run, tmp_path):
    """config/README.md: a new contrast that changes neither a reference level, nor the
    pre-filter, nor the LRT reduced designs reuses the fit. A contrast is added to a
    finished run (a copy of it): the reverse of the first. Only its own jobs and the
    summaries that gather all contrasts run; the fit, the inputs check and the QC do
    not. (A contrast on another variable sets that variable's reference level, or a
    smaller group may change the pre-filter: those refit, as documented.) The
    reverse contrast mirrors the first."""
    import pandas as pd

    reference, config = reference_run
    workdir = tmp_path / "run"
    shutil.copytree(reference, workdir, symlinks=True)
    fit = workdir / "results/de/fit.h5ad"
    fit_bytes, fit_mtime = fit.read_bytes(), fit.stat().st_mtime_ns
    first = "responder_vs_non_responder"
    added = {
        first: {"variable": "response", "test": "responder", "reference": "non_responder"},
        # named to sort after the first: the config written for the run has its keys
        # sorted, and the first contrast on a variable sets the reference level
        "reverse_non_responder_vs_responder": {
            "variable": "response", "test": "non_responder", "reference": "responder"},
    }
    # the dry run lists the jobs the added contrasts need
    planned = run_snakemake(workdir, {**config, "contrasts": added}, "--dry-run", "--quiet", "rules")
    jobs = planned.stdout + planned.stderr
    for rule in ("deseq2_fit", "check_inputs", "normalise", "sample_qc"):
        assert f"\n{rule} " not in jobs and not jobs.startswith(f"{rule} "), (rule, jobs)
    assert "deseq2_contrast" in jobs and "report" in jobs, jobs

    run_snakemake(workdir, {**config, "contrasts": added})
    assert fit.stat().st_mtime_ns == fit_mtime and fit.read_bytes() == fit_bytes
    de = workdir / "results/de"
    one, other = (pd.read_csv(de / f"{name}.tsv", sep="\t").set_index("gene_id")
                  for name in (first, "reverse_non_responder_vs_responder"))
    other = other.loc[one.index]
    tested = one["status"] == "tested"
    assert tested.sum() > 1000
    for column, sign in (("log2FoldChange", -1), ("stat", -1), ("lfcSE", 1), ("pvalue", 1),
                         ("padj", 1)):
        a, b = one.loc[tested, column].to_numpy(float), sign * other.loc[tested, column].to_numpy(float)
        assert (a == b).mean() > 0.99 and abs(a - b).max() < 1e-9 * max(1, abs(a).max()), column
    html = (workdir / "results/report/index.html").read_text()
    for name in added:
        assert name in html, name
    assert (workdir / "results/enrichment/reverse_non_responder_vs_responder").is_dir()
