"""The cluster profiles agree with the workflow: every rule that becomes a SLURM job is
sized, and the sizes follow the documented rule from measured benchmarks."""

import re
import subprocess
import sys
from pathlib import Path

import yaml

from .test_conda_envs import NO_JOB, RULE_BODIES

ROOT = Path(__file__).resolve().parents[2]
SLURM = ROOT / "profiles" / "slurm"


def profile(name: str) -> dict:
    return yaml.safe_load((ROOT / "profiles" / name / "config.yaml").read_text())


def cluster_rules() -> set[str]:
    return {
        name
        for name, (_, body) in RULE_BODIES.items()
        if name not in NO_JOB and not re.search(r"^    localrule: True", body, re.MULTILINE)
    }


def test_every_cluster_rule_is_sized_and_every_entry_is_a_rule():
    config = profile("slurm")
    sized = config["set-resources"]
    rules = cluster_rules()
    assert rules, "no rule runs on the cluster?"
    for rule in rules:
        assert rule in sized, f"profiles/slurm: no set-resources for rule {rule}"
        assert {"mem_mb", "runtime"} <= set(sized[rule]), f"profiles/slurm: {rule}"
        assert rule in config["set-threads"], f"profiles/slurm: no set-threads for rule {rule}"
    unknown = (set(sized) | set(config["set-threads"])) - set(RULE_BODIES)
    assert not unknown, f"profiles/slurm sizes rules the workflow does not have: {unknown}"


def test_slurm_profile_retries_and_scales_with_attempt():
    config = profile("slurm")
    assert config["executor"] == "slurm" and config["retries"] >= 1
    for rule, resources in config["set-resources"].items():
        for name in ("mem_mb", "runtime"):
            assert "attempt" in str(resources[name]), f"{rule}.{name} does not grow on retry"


def test_sbatch_profile_sizes_the_same_rules():
    slurm, sbatch = profile("slurm"), profile("slurm-sbatch")
    assert sbatch["executor"] == "cluster-generic"
    assert sbatch["set-resources"] == slurm["set-resources"]
    assert sbatch["set-threads"] == slurm["set-threads"]


def test_sizing_rule_from_benchmarks(tmp_path):
    benchmarks = tmp_path / "benchmarks"
    (benchmarks / "deseq2_contrast").mkdir(parents=True)
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    (benchmarks / "normalise.tsv").write_text(header + "300\t0:05:00\t1700\t1\t1\t1\t0\t0\t1\t1\n")
    (benchmarks / "deseq2_contrast" / "a.tsv").write_text(header + "20\t0:00:20\t100\t1\t1\t1\t0\t0\t1\t1\n")
    (benchmarks / "deseq2_contrast" / "b.tsv").write_text(header + "50\t0:00:50\t450\t1\t1\t1\t0\t0\t1\t1\n")
    printed = subprocess.run(
        [sys.executable, str(SLURM / "size_resources.py"), str(benchmarks)],
        capture_output=True, text=True, check=True,
    ).stdout
    sized = yaml.safe_load(printed)["set-resources"]
    # 2 x 1700 MB = 3400 -> 3500; 5 x 300 s = 25 min
    assert sized["normalise"] == {"mem_mb": "3500 * attempt", "runtime": "25 * attempt"}
    # largest of the contrasts; floors of 1000 MB and 10 min
    assert sized["deseq2_contrast"] == {"mem_mb": "1000 * attempt", "runtime": "10 * attempt"}
