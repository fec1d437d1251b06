# Per-population analysis (issue 24, single_cell.group_by): each population's cells
# summed per sample go through the same stages as the whole cohort, in their own result
# tree results/populations/{population}/ (the folder is the population's name made safe,
# msc_response.inputs.populations.safe_name). The rules are the cohort's rules with
# other paths; the populations and their contrasts are planned in common.smk.


rule population_table:
    output:
        report(
            "results/qc/populations.tsv",
            caption="../report/populations.rst",
            category="Cell populations",
        ),
    log:
        "logs/population_table.log",
    benchmark:
        "results/benchmarks/population_table.tsv"
    localrule: True
    conda:
        "../../envs/qc.yaml"
    params:
        rows=POPULATIONS.table().to_dict("records") if POPULATIONS else [],
    script:
        "../scripts/population_table.py"


rule composition:
    input:
        cells=config["counts"] or [],
        samples=config["samples"],
    output:
        cells="results/qc/population_cells.tsv",
        table=report(
            "results/qc/composition.tsv",
            caption="../report/composition.rst",
            category="Cell populations",
        ),
        figure=report(
            "results/qc/composition.png",
            caption="../report/composition_figure.rst",
            category="Cell populations",
        ),
    log:
        "logs/composition.log",
    benchmark:
        "results/benchmarks/composition.tsv"
    conda:
        "../../envs/qc.yaml"
    resources:
        mem_mb=2000,
    params:
        group_by=(config.get("single_cell") or {}).get("group_by"),
        sample_column=(config.get("single_cell") or {}).get("sample_column", "sample"),
        min_cells=(config.get("single_cell") or {}).get("min_cells", 20),
        design=config["design"],
        contrasts={name: canonical(spec) for name, spec in config["contrasts"].items()},
        categorical=config["categorical_variables"],
    script:
        "../scripts/composition.py"


use rule check_inputs as population_check_inputs with:
    input:
        counts=counts_input(),
        samples=config["samples"],
        annotation=annotation_input(),
        audit="results/qc/design_audit.tsv",
    output:
        "results/populations/{population}/checked/raw.h5ad",
    log:
        "logs/populations/{population}/check_inputs.log",
    benchmark:
        "results/benchmarks/populations/{population}/check_inputs.tsv"
    params:
        population=population_input,


use rule normalise as population_normalise with:
    input:
        "results/populations/{population}/checked/raw.h5ad",
    output:
        dataset="results/populations/{population}/dataset.h5ad",
        normalised="results/populations/{population}/counts/normalised_counts.tsv.gz",
        vst="results/populations/{population}/counts/vst.tsv.gz",
        size_factors="results/populations/{population}/qc/size_factors.tsv",
    log:
        "logs/populations/{population}/normalise.log",
    benchmark:
        "results/benchmarks/populations/{population}/normalise.tsv"


use rule deseq2_fit as population_deseq2_fit with:
    input:
        "results/populations/{population}/checked/raw.h5ad",
    output:
        "results/populations/{population}/de/fit.h5ad",
    log:
        "logs/populations/{population}/deseq2_fit.log",
    benchmark:
        "results/benchmarks/populations/{population}/deseq2_fit.tsv"
    params:
        plan=lambda wildcards: POPULATION_FITS[wildcards.population]["plan"],


use rule deseq2_contrast as population_deseq2_contrast with:
    input:
        "results/populations/{population}/de/fit.h5ad",
    output:
        table="results/populations/{population}/de/{contrast}.tsv",
        summary="results/populations/{population}/de/{contrast}.summary.tsv",
        size_factors="results/populations/{population}/de/{contrast}.size_factors.tsv",
    log:
        "logs/populations/{population}/deseq2_contrast/{contrast}.log",
    benchmark:
        "results/benchmarks/populations/{population}/deseq2_contrast/{contrast}.tsv"
    params:
        weights=lambda wildcards: POPULATION_FITS[wildcards.population]["weights"].get(
            wildcards.contrast, {}
        ),


use rule de_plots as population_de_plots with:
    input:
        "results/populations/{population}/de/{contrast}.tsv",
    output:
        ma="results/populations/{population}/de/{contrast}.ma.png",
        volcano="results/populations/{population}/de/{contrast}.volcano.png",
    log:
        "logs/populations/{population}/de_plots/{contrast}.log",
    benchmark:
        "results/benchmarks/populations/{population}/de_plots/{contrast}.tsv"


use rule enrichment as population_enrichment with:
    input:
        table="results/populations/{population}/de/{contrast}.tsv",
        gmt=[COLLECTIONS[name] for name in ENRICHMENT_COLLECTIONS],
        symbols=fallback_symbols_input(),
    output:
        gsea=enrichment_outputs("gsea", root="results/populations/{population}"),
        ora_up=enrichment_outputs("ora_up", root="results/populations/{population}"),
        ora_down=enrichment_outputs("ora_down", root="results/populations/{population}"),
        sets=enrichment_outputs("sets", root="results/populations/{population}"),
    log:
        "logs/populations/{population}/enrichment/{contrast}.log",
    benchmark:
        "results/benchmarks/populations/{population}/enrichment/{contrast}.tsv"


use rule enrichment_plots as population_enrichment_plots with:
    input:
        table="results/populations/{population}/de/{contrast}.tsv",
        gsea=enrichment_outputs("gsea", root="results/populations/{population}"),
        gmt=[COLLECTIONS[name] for name in ENRICHMENT_COLLECTIONS],
        symbols=fallback_symbols_input(),
    output:
        dotplot=enrichment_outputs(
            "dotplot", suffix="png", root="results/populations/{population}"
        ),
        gsea_top=enrichment_outputs(
            "gsea_top", suffix="png", root="results/populations/{population}"
        ),
    log:
        "logs/populations/{population}/enrichment_plots/{contrast}.log",
    benchmark:
        "results/benchmarks/populations/{population}/enrichment_plots/{contrast}.tsv"


use rule markers as population_markers with:
    input:
        de="results/populations/{population}/de/{contrast}.tsv",
        dataset="results/populations/{population}/dataset.h5ad",
        gmt=marker_gmt_input(),
    output:
        markers="results/populations/{population}/markers/{contrast}/markers.tsv",
        panel="results/populations/{population}/markers/{contrast}/panel.tsv",
    log:
        "logs/populations/{population}/markers/{contrast}.log",
    benchmark:
        "results/benchmarks/populations/{population}/markers/{contrast}.tsv"


use rule marker_plots as population_marker_plots with:
    input:
        de="results/populations/{population}/de/{contrast}.tsv",
        dataset="results/populations/{population}/dataset.h5ad",
        markers="results/populations/{population}/markers/{contrast}/markers.tsv",
        panel="results/populations/{population}/markers/{contrast}/panel.tsv",
        gmt=marker_gmt_input(),
    output:
        strip_top="results/populations/{population}/markers/{contrast}/strip_top.png",
        strip_panel="results/populations/{population}/markers/{contrast}/strip_panel.png",
        heatmap="results/populations/{population}/markers/{contrast}/heatmap.png",
        panel_dotplot="results/populations/{population}/markers/{contrast}/panel_dotplot.png",
        volcano_panel="results/populations/{population}/markers/{contrast}/volcano_panel.png",
    log:
        "logs/populations/{population}/marker_plots/{contrast}.log",
    benchmark:
        "results/benchmarks/populations/{population}/marker_plots/{contrast}.tsv"


use rule signature as population_signature with:
    input:
        dataset="results/populations/{population}/dataset.h5ad",
    output:
        signature="results/populations/{population}/markers/{contrast}/signature.tsv",
        performance="results/populations/{population}/markers/{contrast}/signature_performance.tsv",
        roc="results/populations/{population}/markers/{contrast}/signature_roc.png",
    log:
        "logs/populations/{population}/signature/{contrast}.log",
    benchmark:
        "results/benchmarks/populations/{population}/signature/{contrast}.tsv"


use rule markers_by_kind as population_markers_by_kind with:
    input:
        de="results/populations/{population}/de/{contrast}.tsv",
        dataset="results/populations/{population}/dataset.h5ad",
    output:
        markers="results/populations/{population}/markers/{contrast}/markers.tsv",
        figure="results/populations/{population}/markers/{contrast}/expression.png",
    log:
        "logs/populations/{population}/markers_by_kind/{contrast}.log",
    benchmark:
        "results/benchmarks/populations/{population}/markers_by_kind/{contrast}.tsv"
