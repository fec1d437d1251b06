"""Inputs: read the user's counts, sample sheet and annotation (`readers`; single cells
summed per sample in `single_cell`), check them (`validation`: sheet, counts, sample
agreement; `dataset` puts it together) and carry the checked data to every later stage
as an AnnData, `results/checked/raw.h5ad` (`carrier`).

Rule check_inputs runs it after the parse-time checks of workflow/rules/common.smk;
nothing heavy runs before a user mistake is reported.
"""
