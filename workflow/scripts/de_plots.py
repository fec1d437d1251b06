"""MA and volcano plots of one contrast's results table."""

import pandas as pd

from msc_response import plots
from msc_response.scripting import run


def main(snakemake):
    table = pd.read_csv(snakemake.input[0], sep="\t")
    name = snakemake.wildcards.contrast
    params = snakemake.params
    plots.ma_plot(table, params.alpha, snakemake.output.ma, params.n_labels, f"MA plot: {name}")
    plots.volcano_plot(
        table, params.alpha, snakemake.output.volcano, params.n_labels, f"Volcano plot: {name}"
    )


run(main, snakemake)
