"""msc-response's library: what the workflow's rules do, one sub-package per stage.

The thin scripts in workflow/scripts/ read `snakemake.*` and call these functions
through `common.scripting.run`; the tests import them directly. Packages, in the
order the data flows through them:

- `common`: errors and their wording, the script runner, table writing (atomic, one
  float format), figures' shared settings, the config check, provenance.
- `inputs`: reading the user's files and checking counts and sample sheet; the checked
  carrier `results/checked/raw.h5ad` (rule check_inputs).
- `design`: the design formula and model matrix, contrasts, whether the design can be
  fitted, the design audit (rule design_audit), the fit plan, covariate removal.
- `qc`: size factors, normalised counts and VST (rule normalise); sample QC and its
  figures (rule sample_qc).
- `de`: one PyDESeq2 fit per design (rule deseq2_fit) and one light job per contrast
  (rule deseq2_contrast); R DESeq2's answers where PyDESeq2 departs; the cross-check
  against R; DE figures. `de.engine` is the gene-vectorised inference engine.
- `enrichment`: gene-set collections, GSEA and ORA, figures (rules enrichment*).
- `markers`: marker tables, the curated panel and the MSC identity check, the
  response signature, figures (rules markers, identity_check, signature, marker_plots).
- `power`: the power of each two-level contrast, by cohorts simulated from the
  fitted model and refitted (rule power), its figure (rule power_plot).
- `report`: the HTML report: reading the result files, assembling the sections,
  rendering the template (rule report).
- `example`: the simulator of the shipped example cohort (resources/example/).

Package `__init__` files import nothing, so a job pays only for the modules it uses.
"""

# The release; a git checkout also records its commit (results/provenance.json).
__version__ = "0.19.0"
