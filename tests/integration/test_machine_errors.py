"""The workflow on a results folder the machine will not fill: a full disk (a small
tmpfs) and a read-only file system. Needs root to mount the tmpfs (CI runs as root);
elsewhere the tests skip with that reason."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from .conftest import ROOT, run_snakemake

EXAMPLE = {
    "counts": str(ROOT / "resources" / "example" / "counts.tsv.gz"),
    "samples": str(ROOT / "config" / "samples.tsv"),
    "annotation": str(ROOT / "resources" / "example" / "annotation.tsv"),
}
TARGET = "results/checked/raw.h5ad"


def _mount(folder: Path, *options: str) -> bool:
    return subprocess.run(
        ["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(folder)],
        capture_output=True,
    ).returncode == 0


@pytest.fixture
def small_results(tmp_path):
    """A workdir whose results/ is a 300 kB tmpfs (the checked counts need ~2 MB)."""
    results = tmp_path / "results"
    results.mkdir()
    if os.geteuid() != 0 or not _mount(results, "size=300k"):
        pytest.skip("mounts a small tmpfs as results/: run the tests as root (CI does)")
    try:
        yield tmp_path
    finally:
        subprocess.run(["umount", str(results)], check=False)


def test_full_disk_is_a_message_and_the_rerun_after_freeing_space_completes(small_results):
    result = run_snakemake(small_results, EXAMPLE, TARGET, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"Could not write '{TARGET}': the disk is full" in output, output[-3000:]
    assert "df -h results/checked" in output
    assert "Traceback" not in output and "a bug" not in output
    checked = small_results / "results" / "checked"
    assert not checked.exists() or list(checked.iterdir()) == []  # nothing partial
    # more space, the same command: the job reruns and finishes
    subprocess.run(
        ["mount", "-o", "remount,size=50m", str(small_results / "results")], check=True
    )
    run_snakemake(small_results, EXAMPLE, TARGET)
    assert (small_results / TARGET).stat().st_size > 100_000


def test_read_only_results_stop_the_run_before_any_job(small_results):
    subprocess.run(["mount", "-o", "remount,ro", str(small_results / "results")], check=True)
    result = run_snakemake(small_results, EXAMPLE, TARGET, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Cannot write in folder 'results': the file system is read-only" in output
    assert "--directory" in output
    assert "Traceback" not in output and "check_inputs" not in output  # no job ran
