"""The contrast kinds beyond two levels agree with R DESeq2 1.38 (needs_r).

- LRT: pasilla (real) `~ type + condition` against `~ condition`, and a simulated
  3-level factor (`~ batch + source` against `~ batch`, df 2); and the LRT machinery
  alone, given R's dispersions, to 1e-6 of R's statistic;
- within a level (interaction): pasilla `~ type + condition + type:condition`, the
  condition effect in each type (R: `results(contrast = list(c(main, interaction)))`
  and `results(name = main)`);
- continuous: simulated `~ batch + x` (R: `results(name = "x")`);
- paired donors: simulated `~ donor + treatment`.

Figures measured (December 2026): padj < 0.05 Jaccard 1.000 in every case (pasilla
LRT 903 genes, within single_read 350, paired_end 452; simulated LRT 170, continuous
132, paired 87); LRT statistic Spearman 0.99999993 on pasilla. Before two fixes they
were 0.977 (LRT), 0.989 / 0.970 (within) and 0.989 (paired):

- the R script called ``results()`` with its default alpha 0.1, which also sets the
  independent-filtering threshold, against our 0.05: R filtered at another baseMean
  quantile (pasilla LRT: 10.0 instead of 6.2; 385 genes apart);
- gene-wise dispersions: R's own search (``fitDisp``, gradient ascent on log alpha)
  stops at once from a start near the 1e-8 floor, where PyDESeq2's L-BFGS-B moves on
  to the optimum (~4% of pasilla's genes with 7 samples). R's estimates moved the
  trend, the prior variance and, through the p-values, the filter threshold by one
  quantile. ``r_compat.DeseqDataSetR`` now ends where R's search ends.

Thresholds keep a little room (0.99 for the Jaccard index, the issue's target) for
genes at the padj 0.05 edge: the MAP dispersions are still L-BFGS-B's (R's to ~1e-4).
"""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from msc_response.de.crosscheck import jaccard
from msc_response.de.engines import make_inference
from msc_response.de.fit import DESettings
from msc_response.de.lrt import reduced_logliks
from msc_response.de.contrast import run_contrast
from msc_response.design.contrasts import parse_contrast

from ._kinds_cases import pasilla_data, r_kinds, simulate

pytestmark = pytest.mark.needs_r

SETTINGS = DESettings(min_count=0, lfc_shrinkage=False)


def ours(counts, sheet, design, spec) -> pd.DataFrame:
    contrast = parse_contrast("c", spec)
    symbols = pd.Series(counts.columns, index=counts.columns)
    result = run_contrast(counts, sheet, design, contrast, symbols, SETTINGS)
    return result.table.set_index("gene_id")


def figures(table: pd.DataFrame, r: pd.DataFrame) -> dict:
    table = table.loc[r.index]
    ok = r["stat"].notna() & table["stat"].notna()
    return {
        "stat_spearman": spearmanr(table["stat"][ok], r["stat"][ok])[0],
        "pvalue_spearman": spearmanr(table["pvalue"][ok], r["pvalue"][ok])[0],
        "lfc_pearson": np.corrcoef(table["log2FoldChange"][ok], r["log2FoldChange"][ok])[0, 1],
        "jaccard": jaccard(set(table.index[table["padj"] < 0.05]), set(r.index[r["padj"] < 0.05])),
        "called": int((table["padj"] < 0.05).sum()),
    }


PASILLA_INTERACTION = "~ type + condition + type:condition"
WITHIN = {
    "single_read": {"mode": "list", "terms": "condition_treated_vs_untreated,"
                    "typesingle_read.conditiontreated"},
    "paired_end": {"mode": "name", "name": "condition_treated_vs_untreated"},
}


def three_level():
    sheet = pd.DataFrame(
        {
            "batch": pd.Categorical(np.tile(["b1", "b2"], 9)),
            "source": pd.Categorical(np.repeat(["bm", "ad", "wj"], 6), categories=["ad", "bm", "wj"]),
        },
        index=[f"s{i}" for i in range(18)],
    )
    source = sheet["source"].astype(str).to_numpy()
    counts, truth = simulate(
        sheet,
        {
            "bm": ((source == "bm") * 1.0, 0.1, 1.0),
            "wj": ((source == "wj") * 1.0, 0.1, 1.0),
            "batch": ((sheet["batch"] == "b2").to_numpy() * 1.0, 0.3, 0.5),
        },
        seed=2,
    )
    return counts, sheet, truth


def continuous():
    rng = np.random.default_rng(5)
    sheet = pd.DataFrame(
        {"batch": pd.Categorical(np.tile(["b1", "b2"], 8)), "x": np.round(rng.normal(0, 1, 16), 3)},
        index=[f"s{i}" for i in range(16)],
    )
    counts, truth = simulate(
        sheet,
        {"x": (sheet["x"].to_numpy(), 0.1, 0.7),
         "batch": ((sheet["batch"] == "b2").to_numpy() * 1.0, 0.3, 0.5)},
        seed=3,
    )
    return counts, sheet, truth


def paired():
    sheet = pd.DataFrame(
        {
            "donor": pd.Categorical(np.repeat([f"d{i}" for i in range(6)], 2)),
            "treatment": pd.Categorical(np.tile(["ctrl", "ifng"], 6)),
        },
        index=[f"s{i}" for i in range(12)],
    )
    codes = sheet["donor"].cat.codes.to_numpy()
    effects = {f"d{i}": ((codes == i) * 1.0, 1.0, 0.5) for i in range(1, 6)}
    effects["treatment"] = ((sheet["treatment"] == "ifng").to_numpy() * 1.0, 0.1, 1.0)
    counts, truth = simulate(sheet, effects, seed=4)
    return counts, sheet, truth


@pytest.fixture(scope="module")
def cases():
    """Every case's data and R DESeq2's answers, from one R process."""
    counts, sheet = pasilla_data()
    interaction = sheet.copy()
    interaction["condition"] = interaction["condition"].cat.reorder_categories(["untreated", "treated"])
    data = {
        "pasilla": (counts, sheet, None),
        "pasilla_interaction": (counts, interaction, None),
        "three_level": three_level(),
        "continuous": continuous(),
        "paired": paired(),
    }
    jobs = {
        "pasilla_lrt": (counts, sheet, "~ type + condition", {"mode": "lrt", "reduced": "~ condition"}),
        "three_level": (*data["three_level"][:2], "~ batch + source", {"mode": "lrt", "reduced": "~ batch"}),
        "continuous": (*data["continuous"][:2], "~ batch + x", {"mode": "name", "name": "x"}),
        "paired": (*data["paired"][:2], "~ donor + treatment",
                   {"mode": "name", "name": "treatment_ifng_vs_ctrl"}),
    }
    for level, request in WITHIN.items():
        jobs[f"within_{level}"] = (counts, interaction, PASILLA_INTERACTION, request)
    return data, r_kinds(jobs)


@pytest.fixture(scope="module")
def pasilla_lrt(cases):
    data, r = cases
    counts, sheet, _ = data["pasilla"]
    table = ours(counts, sheet, "~ type + condition", {"test": "LRT", "reduced": "~ condition"})
    return table, r["pasilla_lrt"]


def test_lrt_statistic_is_r_given_r_dispersions(cases, pasilla_lrt):
    """Full and reduced fits with R's dispersions: R's statistic to 1e-6 (relative)."""
    from formulaic import model_matrix
    from pydeseq2.preprocessing import deseq2_norm

    counts, sheet, _ = cases[0]["pasilla"]
    _, r = pasilla_lrt
    genes = r.index[r["dispersion"].notna() & r["stat"].notna()]
    y = counts[genes].to_numpy()
    _, size_factors = deseq2_norm(counts.to_numpy())
    full = np.asarray(model_matrix("~ type + condition", sheet), dtype=float)
    inference = make_inference("fast", 1)
    disp = r.loc[genes, "dispersion"].to_numpy()
    lfc, _, _, _ = inference.irls(y, size_factors, full, disp, min_mu=0.5, beta_tol=1e-8)
    reduced = {"~ condition": np.asarray(model_matrix("~ condition", sheet), dtype=float)}
    fits = reduced_logliks(y, size_factors, full, lfc, disp, reduced, inference)
    assert fits.df == {"~ condition": 1}
    stat = 2 * (fits.full - fits.reduced["~ condition"])
    expected = r.loc[genes, "stat"].to_numpy()
    err = np.abs(stat - expected) / np.maximum(1.0, expected)
    # the odd gene with a huge dispersion leaves IRLS for the optimiser on both sides
    assert np.median(err) < 1e-9 and np.mean(err < 1e-5) > 0.999, np.quantile(err, [0.5, 0.999, 1])


def test_lrt_on_pasilla(pasilla_lrt):
    table, r = pasilla_lrt
    found = figures(table, r)
    assert found["stat_spearman"] >= 0.9999, found
    assert found["pvalue_spearman"] >= 0.9999, found
    # the log2FoldChange column is the last coefficient's (condition), as R's
    assert found["lfc_pearson"] >= 0.9999, found
    assert found["jaccard"] >= 0.99 and found["called"] > 800, found
    assert set(table["status"]) <= {"tested", "independent_filtering", "cooks_outlier", "low_counts"}


def test_lrt_three_level_factor_simulated(cases):
    data, r = cases
    counts, sheet, truth = data["three_level"]
    table = ours(counts, sheet, "~ batch + source", {"test": "LRT", "reduced": "~ batch"})
    found = figures(table, r["three_level"])
    assert found["stat_spearman"] >= 0.9999 and found["pvalue_spearman"] >= 0.9999, found
    assert found["lfc_pearson"] >= 0.9999 and found["jaccard"] >= 0.99, found
    called = table.index[table["padj"] < 0.05]
    affected = truth["bm"] | truth["wj"]
    assert affected.loc[called].mean() > 0.9  # planted source effects are what it finds


@pytest.mark.parametrize("level", ["single_read", "paired_end"])
def test_within_level_of_an_interaction_on_pasilla(cases, level):
    data, r = cases
    counts, sheet, _ = data["pasilla_interaction"]
    spec = {"variable": "condition", "test": "treated", "reference": "untreated",
            "within": {"type": level}}
    found = figures(ours(counts, sheet, PASILLA_INTERACTION, spec), r[f"within_{level}"])
    assert found["lfc_pearson"] >= 0.9999 and found["stat_spearman"] >= 0.9999, found
    assert found["jaccard"] >= 0.99, found


def test_continuous_variable_simulated(cases):
    data, r = cases
    counts, sheet, truth = data["continuous"]
    table = ours(counts, sheet, "~ batch + x", {"variable": "x"})
    found = figures(table, r["continuous"])
    assert found["lfc_pearson"] >= 0.9999 and found["stat_spearman"] >= 0.9999, found
    assert found["jaccard"] >= 0.99, found
    assert truth["x"].loc[table.index[table["padj"] < 0.05]].mean() > 0.9


def test_paired_donors_simulated(cases):
    data, r = cases
    counts, sheet, _ = data["paired"]
    spec = {"variable": "treatment", "test": "ifng", "reference": "ctrl"}
    found = figures(ours(counts, sheet, "~ donor + treatment", spec), r["paired"])
    assert found["lfc_pearson"] >= 0.9999 and found["stat_spearman"] >= 0.9999, found
    assert found["jaccard"] >= 0.99, found
