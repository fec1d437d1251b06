rule enrichment:
    input:
        table="results/de/{contrast}.tsv",
        gmt=lambda wildcards: COLLECTIONS[wildcards.collection],
        symbols=fallback_symbols_input(),
    output:
        gsea=report(
            "results/enrichment/{contrast}/{collection}.gsea.tsv",
            caption="../report/enrichment_gsea.rst",
            category="Pathway enrichment",
            subcategory="{contrast}",
        ),
        ora_up=report(
            "results/enrichment/{contrast}/{collection}.ora_up.tsv",
            caption="../report/enrichment_ora.rst",
            category="Pathway enrichment",
            subcategory="{contrast}",
        ),
        ora_down=report(
            "results/enrichment/{contrast}/{collection}.ora_down.tsv",
            caption="../report/enrichment_ora.rst",
            category="Pathway enrichment",
            subcategory="{contrast}",
        ),
        sets=report(
            "results/enrichment/{contrast}/{collection}.sets.tsv",
            caption="../report/enrichment_sets.rst",
            category="Pathway enrichment",
            subcategory="{contrast}",
        ),
    log:
        "logs/enrichment/{contrast}/{collection}.log",
    benchmark:
        "results/benchmarks/enrichment/{contrast}/{collection}.tsv"
    conda:
        "../../envs/enrichment.yaml"
    threads: config["threads"]
    resources:
        mem_mb=1500,
    params:
        collection=lambda wildcards: ENRICHMENT_COLLECTIONS[wildcards.collection],
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
        contrast=contrast_spec,
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
