# Power of each two-level contrast, simulated from the fitted design: it needs only
# results/de/fit.h5ad, so it runs beside the contrast, enrichment and marker jobs.


rule power:
    input:
        "results/de/fit.h5ad",
    output:
        report(
            "results/power/{contrast}.tsv",
            caption="../report/power_table.rst",
            category="Power",
            subcategory="{contrast}",
        ),
    log:
        "logs/power/{contrast}.log",
    benchmark:
        "results/benchmarks/power/{contrast}.tsv"
    conda:
        "../../envs/deseq2.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, input: max(2000, int(16 * input.size_mb)),
    params:
        contrast=contrast_spec,
        diffexp=config["diffexp"],
        settings=config["power"],
    script:
        "../scripts/power.py"


rule power_plot:
    input:
        "results/power/{contrast}.tsv",
    output:
        report(
            "results/power/{contrast}.png",
            caption="../report/power_curve.rst",
            category="Power",
            subcategory="{contrast}",
        ),
    log:
        "logs/power_plot/{contrast}.log",
    benchmark:
        "results/benchmarks/power_plot/{contrast}.tsv"
    # a second of drawing: on the submit node, not a SLURM job
    localrule: True
    conda:
        "../../envs/qc.yaml"
    params:
        current=lambda wildcards: current_group_sizes(wildcards.contrast),
    script:
        "../scripts/power_plot.py"
