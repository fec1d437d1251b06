"""Power against samples per group, one line per effect size (results/power/{contrast}.png)."""

import pandas as pd

from msc_response.common.scripting import run
from msc_response.power.figures import power_figure


def main(snakemake):
    table = pd.read_csv(snakemake.input[0], sep="\t")
    current = tuple(snakemake.params.current)
    power_figure(table, snakemake.output[0], current, f"Power: {snakemake.wildcards.contrast}")


run(main, snakemake)
