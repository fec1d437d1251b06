def enrichment_outputs(kind, caption):
    """One table of `kind` per collection, in ENRICHMENT_COLLECTIONS order."""
    paths = [
        f"results/enrichment/{{contrast}}/{collection}.{kind}.tsv"
        for collection in ENRICHMENT_COLLECTIONS
    ]
    options = dict(caption=caption, category="Pathway enrichment", subcategory="{contrast}")
    return [report(path, **options) for path in paths]


# One job per contrast for all collections: the interpreter, imports and the DE table
# are paid once, and every collection's GSEA shares the job's threads.
rule enrichment:
    input:
        table="results/de/{contrast}.tsv",
        gmt=[COLLECTIONS[name] for name in ENRICHMENT_COLLECTIONS],
        symbols=fallback_symbols_input(),
    output:
        gsea=enrichment_outputs("gsea", "../report/enrichment_gsea.rst"),
        ora_up=enrichment_outputs("ora_up", "../report/enrichment_ora.rst"),
        ora_down=enrichment_outputs("ora_down", "../report/enrichment_ora.rst"),
        sets=enrichment_outputs("sets", "../report/enrichment_sets.rst"),
    log:
        "logs/enrichment/{contrast}.log",
    benchmark:
        "results/benchmarks/enrichment/{contrast}.tsv"
    conda:
        "../../envs/enrichment.yaml"
    # GSEA runs in gseapy's compiled core, outside the GIL: two threads halve it
    threads: max(2, config["threads"])
    resources:
        mem_mb=1500,
    params:
        collections=ENRICHMENT_COLLECTIONS,
        settings=config["enrichment"],
        # the contrast's kind: an LRT gets ORA of its significant genes, no GSEA
        kind=lambda wildcards: CONTRAST_KINDS[wildcards.contrast],
    script:
        "../scripts/enrichment.py"


rule enrichment_plots:
    input:
        table="results/de/{contrast}.tsv",
        gsea="results/enrichment/{contrast}/{collection}.gsea.tsv",
        gmt=lambda wildcards: COLLECTIONS[wildcards.collection],
        symbols=fallback_symbols_input(),
    output:
        dotplot=report(
            "results/enrichment/{contrast}/{collection}.dotplot.png",
            caption="../report/enrichment_dotplot.rst",
            category="Pathway enrichment",
            subcategory="{contrast}",
        ),
        gsea_top=report(
            "results/enrichment/{contrast}/{collection}.gsea_top.png",
            caption="../report/enrichment_running_scores.rst",
            category="Pathway enrichment",
            subcategory="{contrast}",
        ),
    log:
        "logs/enrichment_plots/{contrast}/{collection}.log",
    benchmark:
        "results/benchmarks/enrichment_plots/{contrast}/{collection}.tsv"
    conda:
        "../../envs/enrichment.yaml"
    resources:
        mem_mb=1000,
    params:
        collection=lambda wildcards: ENRICHMENT_COLLECTIONS[wildcards.collection],
        contrast=lambda wildcards: config["contrasts"][wildcards.contrast],
        settings=config["enrichment"],
    script:
        "../scripts/enrichment_plots.py"


# Reads a few small tables: runs where snakemake runs, not as a cluster job.
rule enrichment_summary:
    input:
        gsea=enrichment_tables("gsea"),
        ora_up=enrichment_tables("ora_up"),
        ora_down=enrichment_tables("ora_down"),
        sets=enrichment_tables("sets"),
    output:
        report(
            "results/enrichment/summary.tsv",
            caption="../report/enrichment_summary.rst",
            category="Pathway enrichment",
        ),
    log:
        "logs/enrichment_summary.log",
    benchmark:
        "results/benchmarks/enrichment_summary.tsv"
    localrule: True
    conda:
        "../../envs/enrichment.yaml"
    params:
        pairs=ENRICHMENT_PAIRS,
        fdr=config["enrichment"]["fdr"],
    script:
        "../scripts/enrichment_summary.py"
