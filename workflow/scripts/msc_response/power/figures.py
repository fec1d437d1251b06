"""The power stage's figure (rule power_plot): power against samples per group, one
line per effect size, one panel per mean-count stratum ('all' first), with the 95%
intervals as bands, the cohort's own size marked and 80% power as a dashed line.

The cohort's own, unbalanced sizes sit at their balanced equivalent (harmonic mean,
`summary.equivalent_size`). Strata whose intervals are wider than
`summary.MAX_CI_WIDTH` somewhere (too few genes for a stable estimate) are left out
of the figure, not of the table (`summary.shown_strata`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_response.common.figures import plt, save
from msc_response.power.summary import ALL, TARGET, equivalent_size, shown_strata


def power_figure(
    table: pd.DataFrame, path, current: tuple[int, int] | None = None, title: str = ""
) -> None:
    """Write the figure of a power table (`config.COLUMNS`) to `path`; `current`:
    the cohort's own (n_test, n_reference), marked."""
    strata = shown_strata(table)
    panels = max(1, len(strata))
    fig, axes = plt.subplots(1, panels, figsize=(3.4 * panels + 1.6, 3.8), sharey=True,
                             squeeze=False)
    axes = axes[0]
    data = table.assign(n=equivalent_size(table["n_test"], table["n_reference"]))
    effects = sorted(data["effect_size"].unique())
    colours = plt.get_cmap("viridis")(np.linspace(0.05, 0.85, max(1, len(effects))))
    for ax, stratum in zip(axes, strata):
        rows = data[data["mean_stratum"].astype(str) == stratum]
        for colour, effect in zip(colours, effects):
            line = rows[rows["effect_size"] == effect].sort_values("n")
            ax.plot(line["n"], line["power"], "-o", color=colour, ms=3.5, lw=1.5,
                    label=f"{effect:g} ({2 ** effect:.2g}-fold)")
            ax.fill_between(line["n"], line["power_ci_low"], line["power_ci_high"],
                            color=colour, alpha=0.15, lw=0)
        if current is not None:
            ax.axvline(float(equivalent_size(*current)), color="#555555", lw=1, ls=":")
        ax.axhline(TARGET, color="#d62728", lw=1, ls="--")
        ax.set_xscale("log")
        ticks = sorted(rows["n"].unique())
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{t:.3g}" for t in ticks], fontsize=8)
        ax.minorticks_off()
        ax.set_ylim(-0.02, 1.02)
        ax.set_title("all tested genes" if stratum == ALL else f"mean count {stratum}",
                     fontsize=10)
        ax.set_xlabel("samples per group")
    axes[0].set_ylabel("power (share of planted genes found)")
    if current is not None:
        axes[0].text(float(equivalent_size(*current)), 0.02,
                     f" this cohort\n {current[0]} vs {current[1]}", fontsize=7,
                     color="#555555", va="bottom")
    axes[-1].legend(title="|log2FC|", fontsize=8, title_fontsize=8, frameon=False,
                    loc="center left", bbox_to_anchor=(1.02, 0.5))
    if title:
        fig.suptitle(title, fontsize=11)
    save(fig, path)
