"""What the side-by-side benchmarks share: a command's wall time."""

from __future__ import annotations

import subprocess
import sys
import time


def timed(command: list[str]) -> float:
    """Wall seconds of `command`, run to its end; its failure ends the benchmark."""
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(command[:4])} ... failed:\n{result.stderr[-4000:]}")
    return wall
