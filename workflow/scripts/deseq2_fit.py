"""Fit the design once for all contrasts (PyDESeq2); writes results/de/fit.pkl."""

import anndata as ad

from msc_response.dataset import counts_frame
from msc_response.de import DESettings, fit_for_contrasts, save_fit
from msc_response.scripting import run


def main(snakemake):
    adata = ad.read_h5ad(snakemake.input[0])
    settings = DESettings.from_config(snakemake.params.settings, n_cpus=snakemake.threads)
    fit = fit_for_contrasts(
        counts_frame(adata),
        adata.obs,
        snakemake.params.design,
        snakemake.params.plan,
        adata.var["symbol"],
        settings,
    )
    save_fit(fit, snakemake.output[0])


run(main, snakemake)
