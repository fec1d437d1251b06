"""The workflow on a real SLURM cluster through profiles/slurm.

A one-node cluster (.ci/slurm_up.sh: slurmctld, slurmd, munge on 127.0.0.1, no
accounting database) runs the workflow on the small cohort. The tests check that the
jobs went through SLURM (their IDs in SLURM's job-completion log), that the tables
are byte-identical to a local run's, that a job failing once is resubmitted and the
run finishes, and that a job failing every time ends the run with the rule, the SLURM
job ID and the log paths on the terminal.

The failures are injected into a copy of the workflow made for the test: its
check_inputs script is prefixed with a few lines that fail the first N attempts
(counted in a file). The workflow itself carries no test hooks; to SLURM and
Snakemake the injected failure is an ordinary job exiting non-zero.

Every Snakemake call runs under `timeout -s KILL`: the SLURM executor plugin can wait
forever on a status it cannot get, and ignores SIGTERM.
"""

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import ROOT, result_tables, run_snakemake

pytestmark = [pytest.mark.integration, pytest.mark.slurm]

RUN_LIMIT = 900  # seconds, for one whole Snakemake run on the cluster
SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+) \(log: (\S+)\)")
LOCAL_RULES = {"design_audit", "describe_contrasts", "de_plots", "provenance"}
CLUSTER_RULES = {"check_inputs", "normalise", "sample_qc"}  # and the DE rule(s)

FAULT = """\
# Injected by tests/integration/test_slurm.py: the first {failures} attempt(s) fail.
import pathlib as _pathlib
import sys as _sys

_attempts = _pathlib.Path({counter!r})
with _attempts.open("a") as _handle:
    _handle.write("attempt\\n")
if len(_attempts.read_text().splitlines()) <= {failures}:
    _sys.exit("injected failure for the retry test")
"""


def bounded(seconds: int, *command: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["timeout", "-s", "KILL", str(seconds), *command], capture_output=True, text=True, **kwargs
    )


def cluster_answers() -> bool:
    if shutil.which("sinfo") is None:
        return False
    states = bounded(15, "sinfo", "-h", "-o", "%t")
    return states.returncode == 0 and bool(
        re.search(r"^(idle|mix|alloc)", states.stdout, re.MULTILINE)
    )


@pytest.fixture(scope="module")
def slurm_cluster():
    """A running cluster: the one already up (e.g. from .ci/run), or one started here
    and stopped afterwards."""
    if cluster_answers():
        yield
        return
    # Outside CI, start the daemons if SLURM is installed, but do not install it.
    options = [] if os.environ.get("CI") else ["--no-install"]
    up = bounded(600, str(ROOT / ".ci" / "slurm_up.sh"), *options)
    if up.returncode != 0 or not cluster_answers():
        bounded(120, str(ROOT / ".ci" / "slurm_down.sh"))
        reason = f"SLURM could not be started (.ci/slurm_up.sh): {up.stderr.strip()[-800:]}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(f"{reason}\nTo enable: run .ci/slurm_up.sh as root (installs Debian's SLURM).")
    yield
    bounded(120, str(ROOT / ".ci" / "slurm_down.sh"))


def workflow_copy(destination, failures: int):
    """A copy of the workflow whose check_inputs fails its first `failures` attempts."""
    shutil.copytree(
        ROOT,
        destination,
        ignore=shutil.ignore_patterns(
            ".git", ".snakemake", "results", "logs", ".venv", "tests", "benchmarks",
            "__pycache__", ".pytest_cache",
        ),
    )
    counter = destination.parent / f"{destination.name}.attempts"
    script = destination / "workflow" / "scripts" / "check_inputs.py"
    script.write_text(FAULT.format(counter=str(counter), failures=failures) + script.read_text())
    return destination / "Snakefile", counter


def run_on_slurm(snakefile, workdir, config):
    started = time.monotonic()
    result = run_snakemake(
        workdir,
        config,
        "--profile", str(snakefile.parent / "profiles" / "slurm"),
        # No accounting database here: job states come from squeue (MinJobAge=600).
        "--slurm-status-command", "squeue",
        "--slurm-init-seconds-before-status-checks", "2",
        "--latency-wait", "5",
        snakefile=snakefile,
        check=False,
        prefix=("timeout", "-s", "KILL", str(RUN_LIMIT)),
        timeout=RUN_LIMIT + 60,
    )
    output = result.stdout + result.stderr
    submitted = [
        (job_id, re.search(r"/rule_([^/]+)/", log).group(1), log)
        for job_id, log in SUBMITTED.findall(output)
    ]
    # A run killed by the time limit leaves its jobs behind: cancel them.
    if submitted:
        bounded(30, "scancel", *[job_id for job_id, _, _ in submitted])
    return result, output, submitted, time.monotonic() - started


def job_states(job_ids) -> dict[str, str]:
    """Final SLURM state of each job, from the job-completion log (jobcomp/filetxt),
    else from slurmctld's memory of recent jobs."""
    config = bounded(30, "scontrol", "show", "config").stdout
    kind = re.search(r"^JobCompType\s*=\s*(\S+)", config, re.MULTILINE)
    where = re.search(r"^JobCompLoc\s*=\s*(\S+)", config, re.MULTILINE)
    states = {}
    if kind and kind.group(1) == "jobcomp/filetxt" and where:
        for _ in range(20):  # slurmctld appends the record as the job ends
            log = Path(where.group(1))
            text = log.read_text() if log.exists() else ""
            states = dict(re.findall(r"^JobId=(\d+) .*?JobState=(\S+)", text, re.MULTILINE))
            if all(job_id in states for job_id in job_ids):
                break
            time.sleep(0.5)
    else:
        for job_id in job_ids:
            shown = bounded(30, "scontrol", "-o", "show", "job", job_id).stdout
            found = re.search(r"JobState=(\S+)", shown)
            states[job_id] = found.group(1) if found else "unknown"
    return {job_id: states.get(job_id, "not recorded") for job_id in job_ids}


@pytest.fixture(scope="module")
def slurm_run(slurm_cluster, reference_run, tmp_path_factory):
    """The small cohort on SLURM; check_inputs fails on its first attempt."""
    _, config = reference_run
    base = tmp_path_factory.mktemp("slurm")
    snakefile, counter = workflow_copy(base / "workflow", failures=1)
    result, output, submitted, seconds = run_on_slurm(snakefile, base / "run", config)
    print(f"SLURM run: {seconds:.0f} s wall, {len(submitted)} SLURM jobs")
    assert result.returncode == 0, f"the SLURM run failed:\n{output[-6000:]}"
    return base / "run", output, submitted, counter


def test_jobs_ran_through_slurm(slurm_run):
    _, output, submitted, _ = slurm_run
    rules = {rule for _, rule, _ in submitted}
    assert CLUSTER_RULES <= rules, f"not submitted to SLURM: {CLUSTER_RULES - rules}"
    assert any(rule.startswith("deseq2") for rule in rules), "the DE step did not go to SLURM"
    assert not rules & LOCAL_RULES, f"local rules went to SLURM: {rules & LOCAL_RULES}"
    for rule in LOCAL_RULES:
        assert f"Rule: {rule})" in output, f"local rule {rule} did not run"
    states = job_states([job_id for job_id, _, _ in submitted])
    completed = {job_id for job_id, state in states.items() if state == "COMPLETED"}
    for job_id, rule, _ in submitted:
        if rule != "check_inputs":
            assert job_id in completed, f"SLURM job {job_id} ({rule}): {states[job_id]}"


def test_job_failing_once_is_resubmitted(slurm_run):
    _, _, submitted, counter = slurm_run
    attempts = [job_id for job_id, rule, _ in submitted if rule == "check_inputs"]
    assert len(attempts) == 2, f"check_inputs submitted {len(attempts)} times"
    assert len(counter.read_text().splitlines()) == 2
    states = job_states(attempts)
    assert [states[job_id] for job_id in attempts] == ["FAILED", "COMPLETED"]


def test_tables_equal_a_local_run(slurm_run, reference_run):
    workdir = slurm_run[0]
    reference, _ = reference_run
    tables = result_tables(workdir)
    assert "de/responder_vs_non_responder.tsv" in tables
    assert tables == result_tables(reference)
    # Same record, but for the time stamp and the workflow copy's missing git history.
    record, expected = (
        json.loads((run / "results" / "provenance.json").read_text())
        for run in (workdir, reference)
    )
    for key in ("created", "workflow"):
        record.pop(key), expected.pop(key)
    assert record == expected


def test_job_failing_every_time_ends_the_run_with_its_slurm_job_and_logs(
    slurm_cluster, reference_run, tmp_path
):
    _, config = reference_run
    snakefile, counter = workflow_copy(tmp_path / "workflow", failures=1000)
    result, output, submitted, seconds = run_on_slurm(snakefile, tmp_path / "run", config)
    assert result.returncode != 0
    assert seconds < RUN_LIMIT, "the run did not end by itself"
    attempts = [(job_id, log) for job_id, rule, log in submitted if rule == "check_inputs"]
    assert len(attempts) == 2, "one submission and one retry (profile: retries: 1)"
    assert len(counter.read_text().splitlines()) == 2
    last_job, slurm_log = attempts[-1]
    assert job_states([last_job])[last_job] == "FAILED"
    # The terminal names the rule, the SLURM job and both logs (the rule's and SLURM's).
    error = output[output.rindex("Error in rule check_inputs:"):]
    assert f"SLURM-job '{last_job}' failed" in error
    assert f"external_jobid: {last_job}" in error
    assert "logs/check_inputs.log" in error and slurm_log in error
    assert "injected failure for the retry test" in Path(slurm_log).read_text()


def test_sbatch_profile_submits_with_plain_sbatch(slurm_cluster, reference_run, tmp_path):
    """profiles/slurm-sbatch (cluster-generic executor, no SLURM plugin) on one job."""
    reference, config = reference_run
    target = "results/checked/raw.h5ad"
    result = run_snakemake(
        tmp_path / "run",
        config,
        "--profile", str(ROOT / "profiles" / "slurm-sbatch"),
        "--latency-wait", "5",
        target,
        check=False,
        prefix=("timeout", "-s", "KILL", str(RUN_LIMIT)),
        timeout=RUN_LIMIT + 60,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    [job_id] = re.findall(r"Submitted job \d+ with external jobid '(\d+)", output)
    assert job_states([job_id])[job_id] == "COMPLETED"
    assert (tmp_path / "run" / "logs" / "slurm" / "check_inputs" / f"{job_id}.log").exists()
    assert (tmp_path / "run" / target).read_bytes() == (reference / target).read_bytes()
