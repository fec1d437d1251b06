# One fit per design (R's DESeq()), then one light job per contrast (R's results()).
rule deseq2_fit:
    input:
        "results/checked/raw.h5ad",
    output:
        "results/de/fit.h5ad",
    log:
        "logs/deseq2_fit.log",
    benchmark:
        "results/benchmarks/deseq2_fit.tsv"
    # the longest chain (fit, contrasts, enrichment, markers, report) starts first
    priority: 1
    conda:
        "../../envs/deseq2.yaml"
    threads: config["threads"]
    resources:
        mem_mb=lambda wildcards, input: max(4000, int(40 * input.size_mb)),
    params:
        design=config["design"],
        # reference levels and pre-filter from all contrasts; a new contrast that
        # changes neither reuses the fit
        plan=DE_FIT_PLAN,
        settings=fit_stage(config["diffexp"]),
    script:
        "../scripts/deseq2_fit.py"


rule deseq2_contrast:
    input:
        "results/de/fit.h5ad",
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
        "logs/deseq2_contrast/{contrast}.log",
    benchmark:
        "results/benchmarks/deseq2_contrast/{contrast}.tsv"
    conda:
        "../../envs/deseq2.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, input: max(2000, int(8 * input.size_mb)),
    params:
        contrast=contrast_spec,
        # within-level and continuous contrasts: their coefficients, by name
        weights=lambda wildcards: CONTRAST_WEIGHTS.get(wildcards.contrast, {}),
        settings=config["diffexp"],
    script:
        "../scripts/deseq2_contrast.py"


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
