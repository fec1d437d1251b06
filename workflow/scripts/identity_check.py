"""MSC identity check of every sample from the ISCT markers (results/markers/identity.tsv)."""

import anndata as ad

from msc_response.common.scripting import run
from msc_response.common.tables import write_table
from msc_response.markers.config import check_marker_config
from msc_response.markers.tables import identity_table


def main(snakemake):
    params = snakemake.params
    checked = check_marker_config(params.settings, params.basedir)
    identity = params.settings["identity"]
    table = identity_table(
        ad.read_h5ad(snakemake.input.dataset),
        checked.positive,
        checked.negative,
        positive_min_count=identity["positive_min_count"],
        negative_min_count=identity["negative_min_count"],
        z=identity["z"],
    )
    write_table(table, snakemake.output[0])


run(main, snakemake)
