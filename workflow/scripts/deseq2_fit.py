"""Fit the design once for all contrasts (PyDESeq2); writes results/de/fit.h5ad."""

import anndata as ad

from msc_response.common.scripting import run
from msc_response.de.fit import DESettings, fit_for_contrasts
from msc_response.de.fit_file import save_fit
from msc_response.de.offsets import LENGTH_LAYER
from msc_response.inputs.carrier import counts_frame, layer_frame


def main(snakemake):
    adata = ad.read_h5ad(snakemake.input[0])
    settings = DESettings.from_config(snakemake.params.settings, n_cpus=snakemake.threads)
    counts = counts_frame(adata)
    fit = fit_for_contrasts(
        counts,
        adata.obs,
        snakemake.params.design,
        snakemake.params.plan,
        adata.var["symbol"],
        settings,
        lengths=layer_frame(adata, LENGTH_LAYER),
    )
    save_fit(fit, snakemake.output[0], counts)


run(main, snakemake)
