"""What every figure of the workflow shares: the headless matplotlib backend, one
resolution and PNG metadata without a time stamp or software version, so reruns
write identical bytes, and the room a figure gives each sample.

Each stage draws its own figures (`qc.figures`, `de.figures`, `enrichment.figures`,
`markers.figures`) and saves them through `save`.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no display on servers and cluster nodes

# Stages take `plt` from here, so the backend is set before pyplot is first loaded.
import matplotlib.pyplot as plt  # noqa: E402

from msc_response.common.errors import machine_error  # noqa: E402

DPI = 120
# Fixed metadata keeps PNG bytes identical across reruns.
PNG_METADATA = {"Software": None}


def save(fig, path, tight: bool = True) -> None:
    """Write `fig` as a PNG and close it. `tight=False` for figures laid out by hand:
    a tight bounding box costs a second full draw, which is most of the time of a
    many-panel figure."""
    try:
        fig.savefig(path, dpi=DPI, bbox_inches="tight" if tight else None, metadata=PNG_METADATA)
    except OSError as err:
        raise machine_error(err, path) or err from None
    finally:
        plt.close(fig)


def per_sample_inches(n: int, inches: float) -> float:
    """Room for `n` samples along an axis: `inches` each for the first 60, 0.1 in (a
    6-7 pt name still fits) for the rest, so a 200-sample cohort's figures stay
    readable at about a third of the pixels (and drawing time)."""
    return inches * min(n, 60) + 0.1 * max(n - 60, 0)


def legend_outside(ax, **options) -> None:
    """The legend to the right of the axes, where it covers no point or label."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0,
              frameon=False, **options)
