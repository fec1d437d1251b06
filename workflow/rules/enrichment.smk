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


# One job per contrast, as rule enrichment: the imports and the DE table once.
rule enrichment_plots:
    input:
        table="results/de/{contrast}.tsv",
        gsea=expand(
            "results/enrichment/{{contrast}}/{collection}.gsea.tsv",
            collection=ENRICHMENT_COLLECTIONS,
        ),
        gmt=[COLLECTIONS[name] for name in ENRICHMENT_COLLECTIONS],
        symbols=fallback_symbols_input(),
    output:
        dotplot=enrichment_outputs("dotplot", "../report/enrichment_dotplot.rst", "png"),
        gsea_top=enrichment_outputs(
            "gsea_top", "../report/enrichment_running_scores.rst", "png"
        ),
    log:
        "logs/enrichment_plots/{contrast}.log",
    benchmark:
        "results/benchmarks/enrichment_plots/{contrast}.tsv"
    conda:
        "../../envs/enrichment.yaml"
    resources:
        mem_mb=1000,
    params:
        collections=ENRICHMENT_COLLECTIONS,
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
