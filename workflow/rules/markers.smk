# Marker genes of each contrast: table, curated panel, figures, a cross-validated
# response signature; and the MSC identity check of every sample. They read the DE
# tables and results/dataset.h5ad; nothing here re-tests differential expression.


rule identity_check:
    input:
        dataset="results/dataset.h5ad",
        gmt=marker_gmt_input(),
    output:
        report(
            "results/markers/identity.tsv",
            caption="../report/identity.rst",
            category="Marker genes",
            subcategory="MSC identity",
        ),
    log:
        "logs/identity_check.log",
    benchmark:
        "results/benchmarks/identity_check.tsv"
    # a few seconds on any cohort: not worth a cluster job
    localrule: True
    conda:
        "../../envs/markers.yaml"
    params:
        settings=config["markers"],
        basedir=workflow.basedir,
    script:
        "../scripts/identity_check.py"


rule markers:
    input:
        de="results/de/{contrast}.tsv",
        dataset="results/dataset.h5ad",
        gmt=marker_gmt_input(),
    output:
        markers=report(
            "results/markers/{contrast}/markers.tsv",
            caption="../report/markers_table.rst",
            category="Marker genes",
            subcategory="{contrast}",
        ),
        panel=report(
            "results/markers/{contrast}/panel.tsv",
            caption="../report/panel_table.rst",
            category="Marker genes",
            subcategory="{contrast}",
        ),
    log:
        "logs/markers/{contrast}.log",
    benchmark:
        "results/benchmarks/markers/{contrast}.tsv"
    # two-level contrasts; the other kinds: rule markers_by_kind
    wildcard_constraints:
        contrast="|".join(contrasts_with("markers")) or "no-contrast",
    conda:
        "../../envs/markers.yaml"
    resources:
        mem_mb=2000,
    params:
        contrast=contrast_spec,
        settings=config["markers"],
        alpha=marker_alpha(),
        basedir=workflow.basedir,
    script:
        "../scripts/markers.py"


rule marker_plots:
    input:
        de="results/de/{contrast}.tsv",
        dataset="results/dataset.h5ad",
        markers="results/markers/{contrast}/markers.tsv",
        panel="results/markers/{contrast}/panel.tsv",
        gmt=marker_gmt_input(),
    output:
        strip_top=report(
            "results/markers/{contrast}/strip_top.png",
            caption="../report/strip_top.rst",
            category="Marker genes",
            subcategory="{contrast}",
        ),
        strip_panel=report(
            "results/markers/{contrast}/strip_panel.png",
            caption="../report/strip_panel.rst",
            category="Marker genes",
            subcategory="{contrast}",
        ),
        heatmap=report(
            "results/markers/{contrast}/heatmap.png",
            caption="../report/marker_heatmap.rst",
            category="Marker genes",
            subcategory="{contrast}",
        ),
        panel_dotplot=report(
            "results/markers/{contrast}/panel_dotplot.png",
            caption="../report/panel_dotplot.rst",
            category="Marker genes",
            subcategory="{contrast}",
        ),
        volcano_panel=report(
            "results/markers/{contrast}/volcano_panel.png",
            caption="../report/volcano_panel.rst",
            category="Marker genes",
            subcategory="{contrast}",
        ),
    log:
        "logs/marker_plots/{contrast}.log",
    benchmark:
        "results/benchmarks/marker_plots/{contrast}.tsv"
    conda:
        "../../envs/markers.yaml"
    resources:
        mem_mb=2000,
    params:
        contrast=contrast_spec,
        settings=config["markers"],
        alpha=marker_alpha(),
        basedir=workflow.basedir,
    script:
        "../scripts/marker_plots.py"


rule signature:
    input:
        dataset="results/dataset.h5ad",
    output:
        signature=report(
            "results/markers/{contrast}/signature.tsv",
            caption="../report/signature_table.rst",
            category="Marker genes",
            subcategory="{contrast}",
        ),
        performance=report(
            "results/markers/{contrast}/signature_performance.tsv",
            caption="../report/signature_performance.rst",
            category="Marker genes",
            subcategory="{contrast}",
        ),
        roc=report(
            "results/markers/{contrast}/signature_roc.png",
            caption="../report/signature_roc.rst",
            category="Marker genes",
            subcategory="{contrast}",
        ),
    log:
        "logs/signature/{contrast}.log",
    benchmark:
        "results/benchmarks/signature/{contrast}.tsv"
    conda:
        "../../envs/markers.yaml"
    resources:
        mem_mb=2000,
    params:
        contrast=contrast_spec,
        settings=config["markers"]["signature"],
    script:
        "../scripts/signature.py"


rule markers_by_kind:
    input:
        de="results/de/{contrast}.tsv",
        dataset="results/dataset.h5ad",
    output:
        markers=report(
            "results/markers/{contrast}/markers.tsv",
            caption="../report/markers_by_kind.rst",
            category="Marker genes",
            subcategory="{contrast}",
        ),
        figure=report(
            "results/markers/{contrast}/expression.png",
            caption="../report/markers_by_kind_figure.rst",
            category="Marker genes",
            subcategory="{contrast}",
        ),
    log:
        "logs/markers_by_kind/{contrast}.log",
    benchmark:
        "results/benchmarks/markers_by_kind/{contrast}.tsv"
    # continuous and LRT contrasts (msc_response.markers.kinds)
    wildcard_constraints:
        contrast="|".join(contrasts_with("kind_markers")) or "no-contrast",
    conda:
        "../../envs/markers.yaml"
    resources:
        mem_mb=2000,
    params:
        contrast=contrast_spec,
        settings=config["markers"],
        alpha=marker_alpha(),
    script:
        "../scripts/markers_by_kind.py"
