"""Per collection: dot plot of representative GSEA terms and running-score plots of
the top terms (one job per contrast for every collection)."""

import pandas as pd

from msc_response.common.scripting import run
from msc_response.enrichment.analysis import ranked_genes, read_de_table
from msc_response.enrichment.figures import dotplot, running_scores
from msc_response.enrichment.gene_sets import match_sets, read_gmt, read_symbol_table


def main(snakemake):
    settings = snakemake.params.settings
    fallback = read_symbol_table(snakemake.input.symbols[0]) if snakemake.input.symbols else None
    tested = ranked_genes(read_de_table(snakemake.input.table), settings["ranking"], fallback)
    contrast = snakemake.params.contrast
    if "test" in contrast:
        groups = (str(contrast["test"]), str(contrast["reference"]))
    else:  # a continuous variable: genes ranked by their per-unit Wald statistic
        groups = (f"samples with higher {contrast['variable']}",
                  f"samples with lower {contrast['variable']}")
    fdr, plots = settings["fdr"], settings["plots"]
    # inputs and outputs in the order of params.collections
    for i, (name, spec) in enumerate(snakemake.params.collections.items()):
        collection = read_gmt(snakemake.input.gmt[i], name)
        sets = match_sets(collection, tested.universe, spec["min_size"], spec["max_size"])
        gsea = pd.read_csv(snakemake.input.gsea[i], sep="\t")
        title = f"GSEA {snakemake.wildcards.contrast}: {name}"
        dotplot(gsea, snakemake.output.dotplot[i], title, fdr, plots["top_terms"], groups)
        running_scores(
            gsea, tested.ranking, sets.genes, snakemake.output.gsea_top[i], title, fdr,
            plots["running_scores"],
        )


run(main, snakemake)
