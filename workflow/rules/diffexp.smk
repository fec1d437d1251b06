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
    params:
        contrast=lambda wildcards: config["contrasts"][wildcards.contrast],
        design=config["design"],
        settings=config["diffexp"],
    log:
        "logs/deseq2/{contrast}.log",
    threads: config["threads"]
    conda:
        "../../envs/deseq2.yaml"
    resources:
        mem_mb=4000,
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
    params:
        alpha=config["diffexp"]["alpha"],
        n_labels=config["diffexp"]["top_genes_labelled"],
    log:
        "logs/de_plots/{contrast}.log",
    conda:
        "../../envs/qc.yaml"
    script:
        "../scripts/de_plots.py"
