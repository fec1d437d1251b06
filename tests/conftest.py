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


def pytest_collection_modifyitems(config, items):
    """Skip tests needing R DESeq2 where it is missing.

    In CI (.ci/run installs R) nothing is skipped, so a missing install fails loudly.
    """
    if os.environ.get("CI") or r_deseq2_available():
        return
    reason = (
        "R DESeq2 not found: install it with `apt-get install -y r-bioc-deseq2` "
        "(Debian) to enable these tests"
    )
    for item in items:
        if "needs_r" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))
