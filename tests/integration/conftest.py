"""Run the real workflow with `snakemake` on small cohorts written to a temp dir."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def write_cohort(cohort, directory: Path) -> dict:
    """Write a simulated cohort as a user would supply it; return its config."""
    from msc_response.simulate import write_cohort as write_files

    paths = write_files(cohort, directory)
    return {key: str(paths[key]) for key in ("counts", "samples", "annotation")}


def run_snakemake(workdir: Path, config: dict, *args: str, check: bool = True, timeout=900):
    """Run the workflow in `workdir` with `config` layered over config/config.yaml."""
    workdir.mkdir(parents=True, exist_ok=True)
    configfile = workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(configfile),
        "--cores",
        "2",
        *args,
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    if check and result.returncode != 0:
        pytest.fail(
            f"snakemake failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
        )
    return result


@pytest.fixture(scope="session")
def small_cohort():
    from msc_response.simulate import simulate_cohort

    return simulate_cohort(n_genes=3000, n_samples=24, seed=7)
