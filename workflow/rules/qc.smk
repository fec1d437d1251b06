rule check_inputs:
    input:
        counts=counts_input(),
        samples=config["samples"],
        annotation=annotation_input(),
        # The audit explains a design problem that makes this rule stop the run.
        audit="results/qc/design_audit.tsv",
    output:
        "results/checked/raw.h5ad",
    log:
        "logs/check_inputs.log",
    benchmark:
        "results/benchmarks/check_inputs.tsv"
    conda:
        "../../envs/qc.yaml"
    resources:
        mem_mb=lambda wildcards, input: max(2000, int(12 * input.size_mb)),
    params:
        settings=input_settings(config),
        # symbols for human Ensembl IDs when the config names no annotation
        human_genes=os.path.join(
            workflow.basedir, "resources", "gene_sets", "human_genes.tsv.gz"
        ),
    script:
        "../scripts/check_inputs.py"


rule normalise:
    input:
        "results/checked/raw.h5ad",
    output:
        dataset="results/dataset.h5ad",
        normalised=report(
            "results/counts/normalised_counts.tsv.gz",
            caption="../report/normalised_counts.rst",
            category="Quality control",
        ),
        vst="results/counts/vst.tsv.gz",
        size_factors="results/qc/size_factors.tsv",
    log:
        "logs/normalise.log",
    benchmark:
        "results/benchmarks/normalise.tsv"
    conda:
        "../../envs/deseq2.yaml"
    # one core: its parallel parts are small, and with threads: 1 the model fit
    # runs beside it and the sample QC
    threads: 1
    resources:
        mem_mb=4000,
    params:
        blind=config["qc"]["vst_blind"],
        # engine, dispersion prior, fit types: the same as the DE fit's
        settings=config["diffexp"],
    script:
        "../scripts/normalise.py"


rule sample_qc:
    input:
        "results/dataset.h5ad",
    output:
        table=report(
            "results/qc/samples_qc.tsv",
            caption="../report/samples_qc.rst",
            category="Quality control",
        ),
        library_sizes=report(
            "results/qc/library_sizes.png",
            caption="../report/library_sizes.rst",
            category="Quality control",
        ),
        pca=report(
            "results/qc/pca.png",
            caption="../report/pca.rst",
            category="Quality control",
        ),
        distances=report(
            "results/qc/sample_distances.png",
            caption="../report/sample_distances.rst",
            category="Quality control",
        ),
    log:
        "logs/sample_qc.log",
    benchmark:
        "results/benchmarks/sample_qc.tsv"
    conda:
        "../../envs/qc.yaml"
    resources:
        mem_mb=4000,
    params:
        # flag thresholds (outlier_z, distance_ratio, note_z, ...) and pca_top_genes
        qc=config["qc"],
    script:
        "../scripts/sample_qc.py"
