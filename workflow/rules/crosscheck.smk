rule crosscheck_r:
    input:
        dataset="results/checked/raw.h5ad",
        table="results/de/{contrast}.tsv",
        size_factors="results/de/{contrast}.size_factors.tsv",
    output:
        report(
            "results/crosscheck/{contrast}.tsv",
            caption="../report/crosscheck.rst",
            category="Cross-check with R DESeq2",
        ),
    log:
        "logs/crosscheck_r/{contrast}.log",
    benchmark:
        "results/benchmarks/crosscheck_r/{contrast}.tsv"
    conda:
        "../../envs/r-deseq2.yaml"
    resources:
        mem_mb=4000,
    params:
        contrast=contrast_spec,
        design=config["design"],
        settings=config["diffexp"],
    script:
        "../scripts/crosscheck_r.py"
