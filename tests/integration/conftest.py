"""Run the real workflow with `snakemake` on small cohorts written to a temp dir."""

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
# A different string-hash seed for every snakemake run (users run without a fixed
# one): two runs compared byte for byte never share it, so output that depends on
# set or dict-of-str order fails the comparison.
HASH_SEEDS = itertools.count(101)


def hash_seed_env() -> dict:
    return {**os.environ, "PYTHONHASHSEED": str(next(HASH_SEEDS))}


def write_cohort(cohort, directory: Path) -> dict:
    """Write a simulated cohort as a user would supply it; return its config."""
    from msc_response.example.cohort import write_cohort as write_files

    paths = write_files(cohort, directory)
    return {key: str(paths[key]) for key in ("counts", "samples", "annotation")}


def run_snakemake(
    workdir: Path,
    config: dict,
    *args: str,
    check: bool = True,
    timeout=900,
    snakefile: Path = ROOT / "Snakefile",
    prefix: tuple[str, ...] = (),
    umask: int | None = None,
):
    """Run the workflow in `workdir` with `config` layered over config/config.yaml.

    `prefix` goes before the command (e.g. `timeout -s KILL 600`); `snakefile` runs
    another copy of the workflow; `umask` is the process umask, when given.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    if "power" not in config:
        # The power stage has its own tests (test_power.py, unit/test_power.py); in every
        # other run it would only add its dozen simulated fits to the suite's time.
        config = {**config, "power": {"enabled": False}}
    configfile = workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    command = [
        *prefix,
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(snakefile),
        "--directory",
        str(workdir),
        "--configfile",
        str(configfile),
        "--cores",
        "2",
        *args,
    ]
    env = hash_seed_env()
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        preexec_fn=None if umask is None else (lambda: os.umask(umask)),
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"snakemake failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
        )
    return result


@pytest.fixture(scope="session")
def small_cohort():
    from msc_response.example.biology import CLEAR_SIGNAL
    from msc_response.example.cohort import simulate_cohort

    # a clear signal: this fixture tests the workflow, the example cohort the realism
    return simulate_cohort(n_genes=3000, n_samples=24, seed=7, **CLEAR_SIGNAL)


@pytest.fixture(scope="session")
def reference_run(small_cohort, tmp_path_factory):
    """One uninterrupted local run on the small cohort: (workdir, config). Other runs on
    the same inputs (killed and resumed, on SLURM) must give the same files."""
    base = tmp_path_factory.mktemp("reference")
    config = write_cohort(small_cohort, base / "input")
    run_snakemake(base / "run", config)
    return base / "run", config


def result_tables(workdir: Path) -> dict[str, bytes]:
    """Every result table of a run (results/**/*.tsv and *.tsv.gz), by relative path."""
    results = workdir / "results"
    return {
        str(path.relative_to(results)): path.read_bytes()
        for pattern in ("*.tsv", "*.tsv.gz")
        for path in sorted(results.rglob(pattern))
        if "benchmarks" not in path.relative_to(results).parts
        and not path.name.startswith(".")  # a temporary of an atomic write
    }
