"""Response signature of one contrast by repeated nested cross-validation."""

import anndata as ad
import numpy as np

from msc_response.common.scripting import run
from msc_response.common.tables import write_table
from msc_response.markers.figures import signature_roc
from msc_response.markers.signature import SignatureSettings, run_signature
from msc_response.markers.tables import contrast_samples


def main(snakemake):
    params = snakemake.params
    adata = ad.read_h5ad(snakemake.input.dataset)
    samples = contrast_samples(adata, params.contrast)
    view = samples.adata
    result = run_signature(
        np.asarray(view.layers["vst"], dtype=float),
        np.asarray(view.layers["normalised"], dtype=float),
        view.obs,
        view.uns["design"],
        samples.variable,
        samples.is_test,
        view.var_names,
        view.var["symbol"],
        SignatureSettings.from_config(params.settings),
    )
    write_table(result.signature, snakemake.output.signature)
    write_table(result.performance, snakemake.output.performance)
    signature_roc(
        result, snakemake.output.roc, f"Response signature: {snakemake.wildcards.contrast}"
    )


run(main, snakemake)
