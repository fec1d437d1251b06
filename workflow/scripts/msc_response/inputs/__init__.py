"""Inputs: read the user's counts, sample sheet and annotation (`readers`), check them
(`validation`: sheet, counts, sample agreement; `dataset` puts it together) and carry
the checked data to every later stage as an AnnData, `results/checked/raw.h5ad`
(`carrier`). The counts come from a count table (`readers`; nf-core/rnaseq's merged
tables too), from one STAR or HTSeq-count file per sample (`count_files`), from salmon,
kallisto or RSEM transcript quantifications summarised with pytximport
(`quant_settings`: the config block, checked at parse time; `quantifications`: the
files and tximport), or from single cells summed per sample (`single_cell`).

Rule check_inputs runs it after the parse-time checks of workflow/rules/common.smk;
nothing heavy runs before a user mistake is reported.
"""
