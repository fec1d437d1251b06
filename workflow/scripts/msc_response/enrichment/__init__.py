"""Pathway enrichment (rules enrichment, enrichment_summary, enrichment_plots):
gene-set collections read by the one GMT reader and matched on symbols
(`gene_sets`), GSEA (gseapy's multilevel method) and ORA of each contrast against
each collection (`analysis`), and their figures (`figures`).
"""
