"""Power of one two-level contrast, simulated from the fitted design; writes
results/power/{contrast}.tsv."""

from msc_response.common.scripting import run
from msc_response.common.tables import write_table
from msc_response.de.fit import DESettings
from msc_response.de.fit_file import load_fit
from msc_response.design.contrasts import parse_contrasts
from msc_response.power.analysis import power_table
from msc_response.power.config import PowerSettings


def main(snakemake):
    [contrast] = parse_contrasts({snakemake.wildcards.contrast: snakemake.params.contrast})
    de_settings = DESettings.from_config(snakemake.params.diffexp, n_cpus=snakemake.threads)
    settings = PowerSettings.from_config(snakemake.params.settings)
    fit = load_fit(snakemake.input[0])
    table = power_table(fit, contrast.as_list(), de_settings, settings, snakemake.input[0])
    write_table(table, snakemake.output[0])


run(main, snakemake)
