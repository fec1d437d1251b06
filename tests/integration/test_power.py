"""The power stage in the workflow: it needs only the fit (no contrast job runs
before it), writes its table and figure, and its 'current' size is the cohort's."""

import pandas as pd
import pytest

from msc_response.power.analysis import COLUMNS

from ..figure_checks import assert_drawn_png
from .conftest import run_snakemake, write_cohort

pytestmark = pytest.mark.integration

CONTRAST = "responder_vs_non_responder"
TABLE = f"results/power/{CONTRAST}.tsv"
FIGURE = f"results/power/{CONTRAST}.png"


@pytest.fixture(scope="module")
def power_run(small_cohort, tmp_path_factory):
    base = tmp_path_factory.mktemp("power")
    config = write_cohort(small_cohort, base / "input")
    config["power"] = {"group_sizes": ["current", 6, 20], "replicates": 2}
    workdir = base / "run"
    result = run_snakemake(workdir, config, TABLE, FIGURE)
    return workdir, config, result


def test_power_runs_from_the_fit_alone(power_run):
    workdir, _, result = power_run
    ran = {path.parent.name if path.parent.name != "benchmarks" else path.stem
           for path in (workdir / "results" / "benchmarks").rglob("*.tsv")}
    assert {"deseq2_fit", "power", "power_plot"} <= ran
    assert "deseq2_contrast" not in ran and "markers" not in ran, ran
    assert_drawn_png(workdir / FIGURE)


def test_power_table(power_run, small_cohort):
    workdir, config, _ = power_run
    table = pd.read_csv(workdir / TABLE, sep="\t")
    assert list(table.columns) == COLUMNS
    sheet = pd.read_csv(config["samples"], sep="\t")
    current = (
        int((sheet["response"] == "responder").sum()),
        int((sheet["response"] == "non_responder").sum()),
    )
    pairs = set(zip(table["n_test"], table["n_reference"]))
    assert pairs == {current, (6, 6), (20, 20)}
    assert set(table["effect_size"]) == {0.5, 0.75, 1, 1.5, 2}
    assert (table["replicates"] == 2).all()
    every = table[table["mean_stratum"] == "all"]
    # a moderate effect is found more often with 20 per group than with 6
    at = every[every["effect_size"] == 0.75].set_index("n_test")["power"]
    assert at[20] > at[6] + 0.2
