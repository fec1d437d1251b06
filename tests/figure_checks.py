"""Checks that a figure shows what it should, beyond "a PNG was written":

- `drawn_figures` keeps the matplotlib figures a stage would save, so a test reads
  what was drawn (points, labels, ticks) from the artists;
- `assert_drawn_png` decodes a written PNG and checks that it is a picture of a
  plausible size with something drawn on it (not blank, not one flat colour)."""

from __future__ import annotations

import numpy as np


def drawn_figures(monkeypatch, module) -> list:
    """Replace `module.save` (each stage's figures call `common.figures.save`) so the
    figures are kept, open, in the returned list instead of written."""
    kept: list = []
    monkeypatch.setattr(module, "save", lambda fig, path, tight=True: kept.append(fig))
    return kept


def scatter_points(ax) -> list[np.ndarray]:
    """The (x, y) offsets of each scatter layer of `ax`, in drawing order (empty
    layers, such as legend-only ones, left out)."""
    from matplotlib.collections import PathCollection

    layers = [c.get_offsets() for c in ax.collections if isinstance(c, PathCollection)]
    return [np.asarray(layer, dtype=float) for layer in layers if len(layer)]


def assert_drawn_png(path, min_size: tuple[int, int] = (300, 200), min_ink: float = 0.01,
                     min_colours: int = 3) -> np.ndarray:
    """Decode `path` and check it: a PNG at least `min_size` (width, height) pixels,
    with at least `min_ink` of its pixels not background white, and `min_colours`
    distinct colours. Returns the pixels (height x width x channels)."""
    from matplotlib import image

    with open(path, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    pixels = image.imread(path)
    height, width = pixels.shape[:2]
    assert width >= min_size[0] and height >= min_size[1], (path, width, height)
    rgb = pixels[..., :3]
    ink = float((rgb < 0.97).any(axis=-1).mean())
    assert ink >= min_ink, f"{path}: only {ink:.2%} of the pixels are drawn on"
    colours = len(np.unique((rgb * 255).astype(np.uint8).reshape(-1, 3), axis=0))
    assert colours >= min_colours, f"{path}: {colours} colours"
    return pixels
