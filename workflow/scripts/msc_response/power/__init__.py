"""Power: what this cohort could find, and how many samples the next one needs.

Rule `power` (workflow/rules/power.smk) runs once per two-level contrast (the
contrasts `config.power_contrasts` selects), beside the other late stages: it reads
only the fitted design, results/de/fit.h5ad (`de.fit_file`), and writes
results/power/{contrast}.tsv; rule `power_plot` draws results/power/{contrast}.png
from that table, and the report states the detectable fold change and the group
size needed (`summary`).

- `config`: the `power` config section (`PowerSettings`) and which contrasts get it.
- `simulate`: cohorts simulated from the fitted model: the cohort's own means (the
  contrast's effect removed), its dispersions drawn about each gene's estimate with
  the scatter DESeq2's prior gives the true ones, its size factors, and its samples'
  covariates kept in proportion; effects planted in a random share of genes, up and
  down.
- `analysis`: each simulated cohort refitted with the workflow's own DE path and
  settings (`de.fit.fit_design` with the fast engine, all genes at once, and
  `de.results.wald_results`: pre-filter, Cook's filter, independent filtering,
  alpha), and the power (share of planted genes called with the right sign), its
  binomial interval and the false discovery proportion, by effect size, group size
  and mean-count stratum.
- `summary`: the report's sentence (smallest |log2FC| detected with 80% power at
  the cohort's size; group size needed for a 1.5-fold change).
- `figures`: power against group size, one line per effect size.

Held by tests/unit/test_power.py, whose calibration test checks the predicted power
against the recall an independent cohort from the same generating model gives.
"""
