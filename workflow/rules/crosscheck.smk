rule crosscheck_r:
    input:
        dataset="results/checked/raw.h5ad",
        table="results/de/{contrast}.tsv",
    output:
        report(
            "results/crosscheck/{contrast}.tsv",
            caption="../report/crosscheck.rst",
            category="Cross-check with R DESeq2",
        ),
    params:
        contrast=lambda wildcards: config["contrasts"][wildcards.contrast],
        design=config["design"],
        settings=config["diffexp"],
    log:
        "logs/crosscheck_r/{contrast}.log",
    conda:
        "../../envs/r-deseq2.yaml"
    resources:
        mem_mb=4000,
    script:
        "../scripts/crosscheck_r.py"
