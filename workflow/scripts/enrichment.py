"""GSEA and ORA (up, down) of one contrast against one gene-set collection; for a
likelihood-ratio test, ORA of its significant genes only (no direction to rank by)."""

from msc_response.common.scripting import run
from msc_response.common.tables import write_table
from msc_response.enrichment.analysis import EnrichmentSettings, enrich, ranked_genes, read_de_table
from msc_response.enrichment.gene_sets import read_gmt, read_symbol_table


def main(snakemake):
    settings = EnrichmentSettings.from_config(snakemake.params.settings, snakemake.threads)
    spec = snakemake.params.collection
    fallback = read_symbol_table(snakemake.input.symbols[0]) if snakemake.input.symbols else None
    tested = ranked_genes(read_de_table(snakemake.input.table), settings.ranking, fallback)
    collection = read_gmt(snakemake.input.gmt, snakemake.wildcards.collection)
    result = enrich(
        tested, collection, spec["min_size"], spec["max_size"], settings, gmt_label=spec["gmt"],
        directed=snakemake.params.kind != "lrt",
    )
    for name in ("gsea", "ora_up", "ora_down", "sets"):
        write_table(getattr(result, name), snakemake.output[name])


run(main, snakemake)
