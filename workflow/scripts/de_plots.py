"""MA and volcano plots of one contrast's results table."""

import pandas as pd

from msc_response.common.scripting import run
from msc_response.de.figures import ma_plot, volcano_plot


def main(snakemake):
    table = pd.read_csv(snakemake.input[0], sep="\t")
    name = snakemake.wildcards.contrast
    params = snakemake.params
    ma_plot(table, params.alpha, snakemake.output.ma, params.n_labels, f"MA plot: {name}")
    volcano_plot(
        table, params.alpha, snakemake.output.volcano, params.n_labels, f"Volcano plot: {name}"
    )


run(main, snakemake)
