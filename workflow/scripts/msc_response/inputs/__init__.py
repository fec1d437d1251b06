"""Inputs: read the user's counts, sample sheet and annotation (`readers`), check them
(`validation`: sheet, counts, sample agreement) and carry the checked data to every
later stage as an AnnData, `results/checked/raw.h5ad` (`dataset`).

Rule check_inputs runs it after the parse-time checks of workflow/rules/common.smk;
nothing heavy runs before a user mistake is reported.
"""
