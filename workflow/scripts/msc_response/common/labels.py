"""Gene labels that do not overlap: adjustText moves them apart and away from their
points, deterministically. Kept apart from `common.figures` so that only the stages
that label genes (`de.figures`, `markers.figures`) need adjustText in their env."""

from __future__ import annotations

import numpy as np


def repel_labels(texts, ax, x, y) -> None:
    """Move labels apart (adjustText; deterministic) and away from the marked points
    `x`, `y`, with a thin line back to each point."""
    from adjustText import adjust_text  # imports scipy.spatial: only where labels are drawn

    adjust_text(texts, x=np.asarray(x), y=np.asarray(y), ax=ax,
                arrowprops=dict(arrowstyle="-", color="#555555", lw=0.5),
                expand=(1.4, 1.8), force_text=(0.3, 0.6), force_static=(0.2, 0.4),
                max_move=None, iter_lim=500)
