"""Sample QC flags on real data (pasilla, Brooks et al. 2011) and on the example cohort.

A flag must mean something: real samples are not flagged, a real sample turned into an
expression outlier is an `outlier`, a small library is only a `note`, and a metric that
barely varies (detected genes on a filtered matrix) does not flag on noise.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from msc_response.de.engines import dataset_class, make_inference
from msc_response.design.formula import design_variables
from msc_response.inputs.carrier import to_anndata
from msc_response.qc import figures as plots
from msc_response.qc import samples as qc
from msc_response.qc.normalisation import normalise

from ._deseq_cases import pasilla

ROOT = Path(__file__).resolve().parents[2]
PASILLA_DESIGN = "~ type + condition"


def qc_of(counts: pd.DataFrame, sheet: pd.DataFrame, design: str, rules=qc.FlagRules()):
    """Normalise genes x samples counts as rule normalise does, then run sample QC."""
    symbols = pd.Series(counts.index, index=counts.index)
    adata = to_anndata(counts.astype(np.int64), sheet, symbols, design)
    dataset = normalise(adata, inference=make_inference("fast"), dataset_cls=dataset_class("r"))
    table, _ = qc.sample_qc_table(dataset, rules=rules, variables=design_variables(design))
    return table.set_index("sample"), dataset


@pytest.fixture(scope="module")
def real():
    counts, meta = pasilla()
    return counts.T.astype(np.int64), meta  # genes x samples, sheet


def test_real_pasilla_has_no_flag(real):
    counts, sheet = real
    table, _ = qc_of(counts, sheet, PASILLA_DESIGN)
    assert (table["flag"] == "ok").all(), table[["flag", "flag_reason"]]
    assert (table["flag_reason"] == "").all()
    assert not table["outlier"].any()
    # its two groups of three or four samples: neighbours bounded at 2
    assert qc.neighbour_count(sheet, ["type", "condition"], 3) == 2


def test_sample_with_half_its_genes_shuffled_is_an_outlier(real):
    counts, sheet = real
    rng = np.random.default_rng(14)
    victim = "untreated3"
    values = counts[victim].to_numpy().copy()
    half = rng.choice(len(values), len(values) // 2, replace=False)
    values[half] = values[rng.permutation(half)]
    broken = counts.copy()
    broken[victim] = values
    table, _ = qc_of(broken, sheet, PASILLA_DESIGN)
    assert table.loc[victim, "flag"] == "outlier", table.loc[victim]
    assert table.loc[victim, "outlier"]
    assert table.loc[victim, "neighbour_distance_ratio"] > 3
    assert "expression profile far from the other samples" in table.loc[victim, "flag_reason"]
    # same reads, same genes detected: nothing but its expression profile is wrong
    assert "reads" not in table.loc[victim, "flag_reason"]
    assert "genes detected" not in table.loc[victim, "flag_reason"]
    others = table.drop(index=victim)
    assert (others["flag"] == "ok").all(), others[["flag", "flag_reason"]]


def test_library_thinned_to_a_third_is_a_note_not_an_outlier(real):
    counts, sheet = real
    rng = np.random.default_rng(3)
    victim = "treated3"  # the median library (10.3 M reads), as in the cohort
    thinned = counts.copy()
    thinned[victim] = rng.binomial(counts[victim].to_numpy(), 1 / 3)
    table, _ = qc_of(thinned, sheet, PASILLA_DESIGN)
    row = table.loc[victim]
    assert row["flag"] == "note", row
    assert row["library_size_ratio"] < 0.4
    assert row["flag_reason"].startswith("library 3."), row["flag_reason"]
    assert "size factors correct for this" in row["flag_reason"]
    # its profile is noisier but not far from the others
    assert row["neighbour_distance_ratio"] < qc.FlagRules().distance_ratio
    assert (table.drop(index=victim)["flag"] == "ok").all()


def test_fewer_detected_genes_on_saturated_data_is_not_flagged(real):
    """Genes with >= 100 reads in total (a common filter): detected genes saturate
    (7,765-7,767 of 7,768, MAD of about one gene). One sample loses its 0.2% lowest
    genes, as in the issue's 85-sample cohort."""
    counts, sheet = real
    filtered = counts[counts.sum(axis=1) >= 100].copy()
    victim = "treated2"
    values = filtered[victim].to_numpy().copy()
    detected = np.flatnonzero(values > 0)
    n_lost = int(round(0.002 * len(detected)))
    values[detected[np.argsort(values[detected], kind="stable")[:n_lost]]] = 0
    filtered[victim] = values
    detected_genes = (filtered > 0).sum(axis=0)
    # the construction is what the issue saw: a plain median/MAD z-score calls it extreme
    centre = detected_genes.median()
    naive_z = (detected_genes[victim] - centre) / (
        1.4826 * (detected_genes - centre).abs().median()
    )
    assert n_lost >= 15 and naive_z < -3.5
    table, _ = qc_of(filtered, sheet, PASILLA_DESIGN)
    assert table.loc[victim, "detected_genes_ratio"] == pytest.approx(0.998, abs=5e-4)
    assert abs(table.loc[victim, "z_detected_genes"]) < 1
    assert (table["flag"] == "ok").all(), table[["flag", "flag_reason"]]


def test_compare_with_others_floors_the_spread_and_leaves_the_sample_out():
    # tiny spread: a 0.2% shortfall is far below the 5% floor
    ratio, z = qc.compare_with_others(np.array([10080, 10099, 10100, 10098, 10101]), 0.05)
    assert ratio[0] == pytest.approx(10080 / 10099.5, rel=1e-6)  # to the others' median
    assert abs(z[0]) < 0.1
    # leave-one-out: the far sample does not widen the spread it is measured against
    values = np.array([1.0, 1.1, 0.9, 1.05, 0.95, 8.0])
    ratio, z = qc.compare_with_others(values, 0.0)
    others = np.log2(values[:5])
    spread = 1.4826 * np.median(np.abs(others - np.median(others)))
    assert z[5] == pytest.approx((np.log2(8.0) - np.median(others)) / spread)
    assert ratio[5] == pytest.approx(8.0)


def test_neighbours_bounded_by_the_smallest_design_group():
    sheet = pd.DataFrame(
        {
            "source": ["bm"] * 6 + ["wj"] * 3,
            "age": np.arange(9, dtype=float),
            "response": ["r", "n"] * 4 + ["r"],
        }
    )
    assert qc.neighbour_count(sheet, ["source", "age", "response"], 5) == 2
    assert qc.neighbour_count(sheet, ["age"], 5) == 5
    assert qc.neighbour_count(sheet.head(2), ["source"], 3) == 1


def test_config_defaults_are_the_flag_rules_defaults():
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    schema_qc = schema["properties"]["qc"]["properties"]
    assert qc.FlagRules.from_config(config["qc"]) == qc.FlagRules()
    for name, value in vars(qc.FlagRules()).items():
        assert schema_qc[name]["default"] == value, name


def test_tissue_source_groups_far_from_the_rest_are_not_outliers():
    """Wharton's jelly and adipose MSCs differ from bone-marrow MSCs in many genes (the
    shape the example cohort takes once source dominates PC1). Each minority source
    group is far from the majority, so the median distance to all other samples calls
    every member extreme; the distance to the nearest samples of the design's groups
    does not."""
    from msc_response.example.cohort import simulate_cohort

    cohort = simulate_cohort(
        n_genes=4000,
        n_samples=41,
        seed=5,
        n_source_wharton=1500,
        wharton_lfc=(1.5, 1.0, 4.0),
        n_source_adipose=1500,
        adipose_lfc=(1.5, 1.0, 4.0),
        source_fractions={"responder": (0.6, 0.3, 0.1), "non_responder": (0.7, 0.2, 0.1)},
        n_donor_factors=0,  # donor spread would hide how far the source groups are
        low_depth=0,  # no poor samples: none may be flagged here
        degraded_sd=0,
    )
    sheet = cohort.samples.set_index("sample")
    table, _ = qc_of(cohort.counts, sheet, "~ batch + source + response")
    source = sheet["source"]
    minority = source != "bone_marrow"
    assert source.value_counts().min() <= 5
    median_z = qc.compare_with_others(table["median_distance"].to_numpy(), 0.05)[1]
    assert (median_z[minority.to_numpy()] > 3.5).all()
    assert not table["outlier"].any(), table.loc[table["outlier"], "flag_reason"]


def test_example_cohort_default_config_flags_no_source_group():
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    counts = pd.read_csv(ROOT / config["counts"], sep="\t", index_col=0)
    sheet = pd.read_csv(ROOT / config["samples"], sep="\t", index_col=0)
    table, _ = qc_of(
        counts, sheet, config["design"], rules=qc.FlagRules.from_config(config["qc"])
    )
    flagged = table["flag"] != "ok"
    for level, members in sheet.groupby("source").groups.items():
        assert not flagged[members].all(), f"every {level} sample flagged"
    # a few poor samples may be flagged, never a large part of the cohort
    assert table["outlier"].sum() <= 0.1 * len(table), table.loc[table["outlier"], "flag_reason"]


def _pixels_near(path, colour: str, tolerance: float = 0.15) -> int:
    import matplotlib.colors
    import matplotlib.image

    image = matplotlib.image.imread(path)[:, :, :3]  # PNG as floats in [0, 1]
    target = np.array(matplotlib.colors.to_rgb(colour))
    return int((np.abs(image - target).max(axis=2) <= tolerance).sum())


def test_flagged_samples_are_marked_on_pca_and_heatmap(real, tmp_path):
    counts, sheet = real
    _, dataset = qc_of(counts, sheet, PASILLA_DESIGN)
    variables = ["type", "condition"]
    distances = qc.sample_distances(np.asarray(dataset.layers["vst"]), dataset.obs_names)
    scores = np.random.default_rng(0).normal(size=(len(sheet), 2))
    explained = np.array([0.5, 0.2])
    outlier = plots.FLAG_COLOURS["outlier"]
    note = plots.FLAG_COLOURS["note"]
    drawn = {}
    for name, flags in {
        "none": pd.Series("ok", index=sheet.index),
        "flagged": pd.Series("ok", index=sheet.index).mask(
            sheet.index == "untreated3", "outlier"
        ).mask(sheet.index == "treated3", "note"),
    }.items():
        pca_png = tmp_path / f"pca_{name}.png"
        heatmap_png = tmp_path / f"heatmap_{name}.png"
        plots.pca(dataset, variables, scores, explained, pca_png, flags=flags)
        plots.sample_distance_heatmap(
            distances, dataset.obs[variables], heatmap_png, flags=flags
        )
        drawn[name] = {
            (figure, colour): _pixels_near(path, colour)
            for figure, path in [("pca", pca_png), ("heatmap", heatmap_png)]
            for colour in (outlier, note)
        }
    # design levels never take a flag colour: without flags, none is drawn on the PCA
    assert drawn["none"][("pca", outlier)] == 0 and drawn["none"][("pca", note)] == 0
    for key, before in drawn["none"].items():
        assert drawn["flagged"][key] > before + 50, (key, drawn)
