"""Shared pytest fixtures and the skip rules for tests that need system tools."""

import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"


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


@lru_cache(maxsize=None)
def browser_available() -> bool:
    """Debian's chromium and the playwright package that drives it."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return False
    return os.access(CHROMIUM, os.X_OK)


# marker -> (is the tool there?, how to get it)
SYSTEM_TOOLS = {
    "needs_r": (
        r_deseq2_available,
        "R DESeq2 not found: install it with `apt-get install -y r-bioc-deseq2` "
        "(Debian) to enable these tests",
    ),
    "browser": (
        browser_available,
        f"headless Chromium not found: install it with `apt-get install -y chromium` "
        f"(Debian; {CHROMIUM}) and `pip install -r requirements-dev.txt` (playwright) "
        f"to enable these tests",
    ),
}


# PyDESeq2's own suite runs twice (about 5 minutes on 2 cores): too long for every
# `pytest`, so it runs only when asked for by its marker; .ci/run asks.
SUITE_MARKER = "pydeseq2_suite"
TESTS = Path(__file__).resolve().parent
SUITE_HINT = (
    "PyDESeq2's own test suite against this project's engines was left out (about "
    f"5 min); run it with `python3 -m pytest -m {SUITE_MARKER}` (.ci/run does)"
)


def _suite_asked_for(config) -> bool:
    return SUITE_MARKER in (config.option.markexpr or "")


def _deselect_pydeseq2_suite(config, items):
    if _suite_asked_for(config):
        return
    left_out = [item for item in items if SUITE_MARKER in item.keywords]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if SUITE_MARKER not in item.keywords]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    # With pytest-xdist the workers collect, so say it whenever the whole suite ran.
    whole_suite = all(Path(arg).resolve() == TESTS for arg in config.args)
    if whole_suite and not _suite_asked_for(config):
        terminalreporter.write_line(SUITE_HINT)


def pytest_collection_modifyitems(config, items):
    """Leave out PyDESeq2's suite unless asked for; skip tests needing a system tool
    where it is missing.

    In CI (.ci/run installs the tools) nothing is skipped, so a missing install fails
    loudly. A tool is only probed when a collected test needs it (R takes seconds to load).
    """
    _deselect_pydeseq2_suite(config, items)
    if os.environ.get("CI"):
        return
    for marker, (available, reason) in SYSTEM_TOOLS.items():
        needing = [item for item in items if marker in item.keywords]
        if needing and not available():
            for item in needing:
                item.add_marker(pytest.mark.skip(reason=reason))
