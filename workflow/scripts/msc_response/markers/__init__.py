"""Marker genes of each contrast (rules markers, identity_check, signature,
marker_plots): per-gene tables with covariate-adjusted AUROCs, the curated panel's
verdicts and the MSC identity check (`tables`), the `markers:` config section
(`config`), the cross-validated response signature (`signature`) and the figures
(`figures`); for continuous and LRT contrasts (rule markers_by_kind) `kinds`: per-unit
log2FC with Spearman correlations, or per-level means with a heatmap. Everything reads what earlier stages wrote; nothing re-tests DE.
"""
