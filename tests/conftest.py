"""Shared pytest fixtures and the skip rules for tests that need system tools."""

import os
import shutil
import subprocess
from functools import lru_cache

import pytest


@lru_cache(maxsize=None)
def r_deseq2_available() -> bool:
    if shutil.which("Rscript") is None:
        return False
    probe = subprocess.run(
        ["Rscript", "-e", "suppressMessages(library(DESeq2))"],
        capture_output=True,
        text=True,
    )
    return probe.returncode == 0


# PyDESeq2's own suite runs twice (about 5 minutes on 2 cores): too long for every
# `pytest`, so it runs only when asked for by its marker; .ci/run asks.
SUITE_MARKER = "pydeseq2_suite"
SUITE_HINT = (
    "PyDESeq2's own test suite against this project's engines was left out (about "
    f"5 min); run it with `python3 -m pytest -m {SUITE_MARKER}` (.ci/run does)"
)


def _deselect_pydeseq2_suite(config, items):
    if SUITE_MARKER in (config.option.markexpr or ""):
        return
    kept = [item for item in items if SUITE_MARKER not in item.keywords]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept
        config._msc_suite_left_out = True


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if getattr(config, "_msc_suite_left_out", False):
        terminalreporter.write_line(SUITE_HINT)


def pytest_collection_modifyitems(config, items):
    """Leave out PyDESeq2's suite unless asked for; skip tests needing R DESeq2
    where it is missing.

    In CI (.ci/run installs R) nothing is skipped, so a missing install fails loudly.
    """
    _deselect_pydeseq2_suite(config, items)
    if os.environ.get("CI") or r_deseq2_available():
        return
    reason = (
        "R DESeq2 not found: install it with `apt-get install -y r-bioc-deseq2` "
        "(Debian) to enable these tests"
    )
    for item in items:
        if "needs_r" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))
