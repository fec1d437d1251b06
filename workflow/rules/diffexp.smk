rule deseq2:
    input:
        "results/checked/raw.h5ad",
    output:
        table=report(
            "results/de/{contrast}.tsv",
            caption="../report/de_table.rst",
            category="Differential expression",
            subcategory="{contrast}",
        ),
        summary="results/de/{contrast}.summary.tsv",
        size_factors="results/de/{contrast}.size_factors.tsv",
    log:
        "logs/deseq2/{contrast}.log",
    benchmark:
        "results/benchmarks/deseq2/{contrast}.tsv"
    conda:
        "../../envs/deseq2.yaml"
    threads: config["threads"]
    resources:
        mem_mb=4000,
    params:
        contrast=lambda wildcards: config["contrasts"][wildcards.contrast],
        design=config["design"],
        settings=config["diffexp"],
    script:
        "../scripts/deseq2.py"


rule de_plots:
    input:
        "results/de/{contrast}.tsv",
    output:
        ma=report(
            "results/de/{contrast}.ma.png",
            caption="../report/ma_plot.rst",
            category="Differential expression",
            subcategory="{contrast}",
        ),
        volcano=report(
            "results/de/{contrast}.volcano.png",
            caption="../report/volcano_plot.rst",
            category="Differential expression",
            subcategory="{contrast}",
        ),
    log:
        "logs/de_plots/{contrast}.log",
    benchmark:
        "results/benchmarks/de_plots/{contrast}.tsv"
    # Seconds of work: on a cluster it runs on the submit node, not as a SLURM job.
    localrule: True
    conda:
        "../../envs/qc.yaml"
    params:
        alpha=config["diffexp"]["alpha"],
        n_labels=config["diffexp"]["top_genes_labelled"],
    script:
        "../scripts/de_plots.py"
