rule provenance:
    input:
        counts=counts_input(),
        samples=config["samples"],
        annotation=annotation_input(),
        gene_sets=list(gene_set_files().values()),
        results=provenance_results(),
    output:
        report(
            "results/provenance.json",
            caption="../report/provenance.rst",
            category="Provenance",
        ),
    log:
        "logs/provenance.log",
    benchmark:
        "results/benchmarks/provenance.tsv"
    # Checksums of the results, a second or two: on the submit node, not a SLURM job.
    localrule: True
    conda:
        "../../envs/qc.yaml"
    params:
        config=config,
        # sample -> path of each sample's count file (config count_files), else empty
        count_files=per_sample_inputs(),
        gene_set_names=list(gene_set_files()),
        workflow_dir=workflow.basedir,
        # Evaluated when the run is planned, in the checkout the Snakefile is in.
        version=lambda wildcards: workflow_version(workflow.basedir),
        requirements=os.path.join(workflow.basedir, "requirements.txt"),
    script:
        "../scripts/provenance.py"
