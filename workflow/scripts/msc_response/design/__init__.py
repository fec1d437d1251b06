"""The design: its formula and model matrix (`formula`, the one home of a design's
variables and columns), the contrasts and their checks (`contrasts`), whether the
design can be fitted (`structure`: replicated levels, full rank), the design audit of
rule design_audit (`audit`: is the variable of interest separable from the
covariates?), what each contrast estimates in coefficients and words (`estimable`), the plan of the one DE fit per design (`plan`) and the removal of
covariate effects for figures and marker AUROCs (`covariates`).

Everything here reads the sample sheet and the config only (no counts), so the
workflow runs most of it when it is parsed.
"""
