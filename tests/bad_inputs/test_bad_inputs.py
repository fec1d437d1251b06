"""Every case in the bad-input corpus stops the run where it should, with its message.

Runs the real workflow (snakemake) on each `cases/<name>/` (see make_cases.py):
the run must stop at parse time or in rule check_inputs (never in the DE step),
with the expected text on the terminal and no Python traceback, leaving no
output a later run would trust. Cases run two at a time (CI has 2 cores).
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.integration.conftest import run_snakemake

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
BASE = HERE / "_base"
CASES = sorted(p.name for p in (HERE / "cases").iterdir() if (p / "case.yaml").exists())
# Inference settings that need nothing beyond PyDESeq2 itself; the corpus never gets
# to the DE step anyway.
DIFFEXP = {"inference": "default", "dispersion_prior": "pydeseq2", "independent_filtering_rule": "pydeseq2"}
EARLY_TARGETS = ["results/checked/raw.h5ad", "results/qc/design_audit.tsv"]


def case_config(name: str) -> tuple[dict, dict]:
    directory = HERE / "cases" / name
    spec = yaml.safe_load((directory / "case.yaml").read_text())
    config = {
        "counts": "counts.tsv",
        "samples": "samples.tsv",
        "annotation": None,
        "design": "~ source + response",
        "contrasts": {
            "responder_vs_non_responder": {
                "variable": "response", "test": "responder", "reference": "non_responder"
            }
        },
        "diffexp": dict(DIFFEXP),
    }
    for key, value in spec.get("config", {}).items():
        if isinstance(value, dict) and isinstance(config.get(key), dict) and key != "contrasts":
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    for key in ("counts", "samples", "annotation"):
        if config[key]:
            own = directory / config[key]
            config[key] = str(own if own.exists() or not (BASE / config[key]).exists() else BASE / config[key])
    quantifications = config.get("quantifications") or {}
    if quantifications.get("tx2gene") and (directory / quantifications["tx2gene"]).exists():
        quantifications["tx2gene"] = str(directory / quantifications["tx2gene"])
    for collection in config.get("enrichment", {}).get("collections", {}).values():
        if (directory / collection["gmt"]).exists():  # a case's own GMT file
            collection["gmt"] = str(directory / collection["gmt"])
    return spec, config


def run_case(name: str, root: Path):
    spec, config = case_config(name)
    workdir = root / name
    targets = EARLY_TARGETS if spec["stage"] == "accepted" else []
    result = run_snakemake(workdir, config, *targets, check=False, timeout=300)
    return spec, workdir, result


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Run every case once, two at a time; tests look their case up."""
    root = tmp_path_factory.mktemp("bad_inputs")
    workers = max(1, min(2, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        runs = dict(zip(CASES, pool.map(lambda name: run_case(name, root), CASES)))
    return runs


@pytest.mark.parametrize("name", CASES)
def test_case(corpus, name):
    spec, workdir, result = corpus[name]
    output = result.stdout + result.stderr
    shown = f"\n--- terminal output of case {name} ---\n{output[-4000:]}"
    for text in spec["expect"]:
        assert text in output, f"expected text missing: {text!r}{shown}"
    assert "Traceback" not in output, shown
    results = workdir / "results"
    stage = spec["stage"]
    if stage == "accepted":
        assert result.returncode == 0, shown
        assert (results / "checked/raw.h5ad").exists()
    else:
        assert result.returncode != 0, shown
        assert not (results / "de").exists() and not (results / "checked/raw.h5ad").exists(), shown
        assert "rule deseq2_fit:" not in output and "rule normalise:" not in output, shown
    if stage == "parse":
        assert output.count("Invalid input:") == 1, shown
        assert "Building DAG" not in output and "Error in rule" not in output, shown
    elif stage in ("check_inputs", "design"):
        assert "Error in rule check_inputs:" in output, shown
        assert output.count("Error in rule") == 1, shown
    if stage == "design":
        assert "Invalid design:" in output, "reported at parse time too" + shown
    if stage in ("design", "accepted") or spec.get("audit_flag"):
        audit = pd.read_csv(results / "qc/design_audit.tsv", sep="\t")
        if spec.get("audit_flag"):
            assert spec["audit_flag"] in set(audit["flag"]), audit.to_string()


@pytest.fixture()
def fractional_case(tmp_path):
    """The fractional-counts case with its own copy of the inputs, to fix them later."""
    spec, config = case_config("counts_fractional")
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for key in ("counts", "samples"):
        copy = inputs / Path(config[key]).name
        shutil.copy(config[key], copy)
        config[key] = str(copy)
    return config, tmp_path / "run"


def test_failed_check_leaves_nothing_to_trust_and_rerun_continues(fractional_case):
    config, workdir = fractional_case
    counts = Path(config["counts"])
    bad, good = counts.read_bytes(), (BASE / "counts.tsv").read_bytes()
    checked = workdir / "results/checked/raw.h5ad"

    # 1. good counts: the checked dataset and the audit are written
    counts.write_bytes(good)
    run_snakemake(workdir, config, *EARLY_TARGETS)
    assert checked.exists()

    # 2. the counts are replaced by bad ones: check_inputs reruns and fails, and the
    #    dataset made from the old counts is gone, so no later step can use it
    counts.write_bytes(bad)
    failed = run_snakemake(workdir, config, *EARLY_TARGETS, check=False)
    assert failed.returncode != 0 and "is not a whole number" in failed.stderr
    assert not checked.exists()
    assert "Error in rule check_inputs:" in failed.stderr

    # 3. fixed: the rerun continues cleanly (no cleanup, no --rerun-incomplete needed),
    #    redoing only the check
    counts.write_bytes(good)
    fixed = run_snakemake(workdir, config, *EARLY_TARGETS)
    assert checked.exists()
    assert "rule check_inputs:" in fixed.stderr and "rule design_audit:" not in fixed.stderr
