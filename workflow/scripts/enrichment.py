"""GSEA and ORA (up, down) of one contrast against every gene-set collection; for a
likelihood-ratio test, ORA of its significant genes only (no direction to rank by)."""

from msc_response.common.scripting import run
from msc_response.common.tables import write_table
from msc_response.enrichment.analysis import (
    EnrichmentSettings,
    enrich_collections,
    ranked_genes,
    read_de_table,
)
from msc_response.enrichment.gene_sets import read_gmt, read_symbol_table


def main(snakemake):
    settings = EnrichmentSettings.from_config(snakemake.params.settings, snakemake.threads)
    fallback = read_symbol_table(snakemake.input.symbols[0]) if snakemake.input.symbols else None
    tested = ranked_genes(read_de_table(snakemake.input.table), settings.ranking, fallback)
    specs = snakemake.params.collections  # in the order of the outputs and the GMTs
    collections = [
        (read_gmt(gmt, name), spec["min_size"], spec["max_size"], spec["gmt"])
        for (name, spec), gmt in zip(specs.items(), snakemake.input.gmt)
    ]
    results = enrich_collections(
        tested, collections, settings, directed=snakemake.params.kind != "lrt"
    )
    for i, result in enumerate(results):
        for name in ("gsea", "ora_up", "ora_down", "sets"):
            write_table(getattr(result, name), getattr(snakemake.output, name)[i])


run(main, snakemake)
