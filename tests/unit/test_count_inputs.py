"""Count inputs beyond a plain count table: nf-core/rnaseq merged tables (a symbol
column, estimated counts) and one STAR or HTSeq-count file per sample."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from msc_response.common.config import missing_data_paths
from msc_response.common.errors import InputError
from msc_response.inputs import count_files
from msc_response.inputs.dataset import InputSpec, load_checked_inputs
from msc_response.inputs.readers import read_counts, split_symbol_column
from msc_response.inputs.validation import check_counts

SAMPLES = [f"S{i}" for i in range(1, 7)]
CONTRASTS = {"r_vs_n": {"variable": "response", "test": "r", "reference": "n"}}


def write_sheet(path, extra: dict | None = None):
    sheet = pd.DataFrame({"sample": SAMPLES, "response": ["n", "n", "n", "r", "r", "r"]})
    for column, values in (extra or {}).items():
        sheet[column] = values
    sheet.to_csv(path, sep="\t", index=False)
    return str(path)


def simulated_counts(n_genes=40, seed=3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    counts = rng.negative_binomial(5, 5 / (5 + rng.gamma(2, 50, size=(n_genes, 1))), size=(n_genes, 6))
    return pd.DataFrame(counts, index=[f"ENSG{i:011d}" for i in range(n_genes)], columns=SAMPLES)


# ---------------------------------------------------------------- nf-core tables


def test_nfcore_table_reads_counts_and_symbols(tmp_path):
    counts = simulated_counts()
    table = counts.astype(float)
    table.insert(0, "gene_name", [f"SYM{i}" for i in range(len(counts))])
    table.iloc[3, 0] = np.nan  # a gene without a name keeps its ID
    table.to_csv(tmp_path / "salmon.merged.gene_counts.tsv", sep="\t", index_label="gene_id")
    spec = InputSpec(
        counts=str(tmp_path / "salmon.merged.gene_counts.tsv"),
        samples=write_sheet(tmp_path / "samples.tsv"),
        design="~ response",
        contrasts=CONTRASTS,
    )
    adata = load_checked_inputs(spec)
    np.testing.assert_array_equal(adata.layers["counts"], counts.T.to_numpy())
    assert adata.var["symbol"].iloc[0] == "SYM0"
    assert adata.var["symbol"].iloc[3] == counts.index[3]
    assert list(adata.obs_names) == SAMPLES


def test_split_symbol_column_only_for_symbol_names(tmp_path):
    path = tmp_path / "c.tsv"
    path.write_text("gene_id\tgene_symbol\tS1\nG1\tA\t3\nG2\tB\t4\n")
    table, symbols = split_symbol_column(read_counts(path))
    assert list(table.columns) == ["S1"] and list(symbols) == ["A", "B"]
    path.write_text("gene_id\tS1\nG1\t3\n")
    table, symbols = split_symbol_column(read_counts(path))
    assert symbols is None and list(table.columns) == ["S1"]


def estimated_table():
    return pd.DataFrame({"S1": [44.012, 3.5, 2.5, 7.0], "S2": [1.0, 0.49, 10.51, 0.0]},
                        index=["G1", "G2", "G3", "G4"])


def test_fractional_counts_name_both_ways_forward():
    with pytest.raises(InputError) as caught:
        check_counts(estimated_table(), "salmon.merged.gene_counts.tsv")
    message = str(caught.value)
    assert "the count 44.012 is not a whole number" in message
    assert "'quantifications:' block" in message and "'round_counts: true'" in message


def test_round_counts_rounds_half_to_even_and_says_so():
    warnings = []
    counts = check_counts(estimated_table(), "t.tsv", round_counts=True, warnings=warnings)
    # R's round(): 3.5 -> 4, 2.5 -> 2, 0.49 -> 0, 10.51 -> 11
    assert counts["S1"].tolist() == [44, 4, 2, 7] and counts["S2"].tolist() == [1, 0, 11, 0]
    assert counts.dtypes.eq(np.int64).all()
    assert len(warnings) == 1 and "5 of 8 counts were not whole numbers" in warnings[0]
    # still no negative or missing values
    bad = estimated_table()
    bad.iloc[1, 1] = -0.2
    with pytest.raises(InputError, match="is negative"):
        check_counts(bad, "t.tsv", round_counts=True)


# ---------------------------------------------------------------- STAR and HTSeq


def write_star(path, genes: pd.Series, layout="reverse", seed=0):
    """A ReadsPerGene.out.tab of a library whose reads follow `layout`."""
    rng = np.random.default_rng(seed)
    n = genes.to_numpy()
    wrong = rng.binomial(n, 0.02)
    columns = {
        "reverse": (n + wrong, wrong, n),
        "forward": (n + wrong, n, wrong),
        "unstranded": (n, rng.binomial(n, 0.5), None),
    }[layout]
    unstranded, forward, reverse = columns
    if reverse is None:
        reverse = n - forward
    lines = [
        "N_unmapped\t1000\t1000\t1000",
        "N_multimapping\t500\t500\t500",
        "N_noFeature\t300\t5000\t320",
        "N_ambiguous\t40\t2\t3",
    ]
    lines += [f"{g}\t{u}\t{f}\t{r}" for g, u, f, r in zip(genes.index, unstranded, forward, reverse)]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_htseq(path, genes: pd.Series):
    lines = [f"{g}\t{c}" for g, c in genes.items()]
    lines += ["__no_feature\t812", "__ambiguous\t31", "__too_low_aQual\t7",
              "__not_aligned\t120", "__alignment_not_unique\t95"]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture()
def star_cohort(tmp_path):
    counts = simulated_counts()
    column = [str(write_star(tmp_path / f"{s}.ReadsPerGene.out.tab", counts[s], seed=i))
              for i, s in enumerate(SAMPLES)]
    sheet = write_sheet(tmp_path / "samples.tsv", {"star": column})
    return counts, sheet


def spec_for(sheet, block) -> InputSpec:
    return InputSpec(counts=None, samples=sheet, design="~ response", contrasts=CONTRASTS,
                     count_files=block)


def test_star_files_read_the_chosen_strand(star_cohort, caplog):
    counts, sheet = star_cohort
    with caplog.at_level(logging.WARNING):
        adata = load_checked_inputs(spec_for(sheet, {"column": "star", "format": "star", "strand": "reverse"}))
    np.testing.assert_array_equal(adata.layers["counts"], counts.T.to_numpy())
    assert adata.var_names.tolist() == counts.index.tolist()
    assert adata.obs["unassigned_no_feature"].tolist() == [320] * 6
    assert adata.obs["unassigned_multimapping"].tolist() == [500] * 6
    assert "strandedness" not in caplog.text


def test_star_wrong_strand_warns(star_cohort):
    counts, sheet = star_cohort
    adata = load_checked_inputs(spec_for(sheet, {"column": "star", "format": "star", "strand": "forward"}))
    warning = [w for w in adata.uns["input_warnings"] if "strandedness" in w]
    assert len(warning) == 1 and "probably 'reverse'" in warning[0] and "6 of 6" in warning[0]
    # the unstranded column of a stranded library holds as many reads: no warning
    adata = load_checked_inputs(spec_for(sheet, {"column": "star", "format": "star", "strand": "unstranded"}))
    assert not [w for w in adata.uns["input_warnings"] if "strandedness" in w]


def test_strand_warning_for_an_unstranded_library_read_as_stranded():
    totals = pd.DataFrame({"unstranded": [1000.0, 990.0], "forward": [500.0, 497.0],
                           "reverse": [500.0, 493.0]}, index=["A", "B"])
    (warning,) = count_files.strand_warnings(totals, "reverse")
    assert "probably 'unstranded'" in warning
    assert count_files.strand_warnings(totals, "unstranded") == []


def test_htseq_files_drop_special_rows(tmp_path):
    counts = simulated_counts()
    column = [str(write_htseq(tmp_path / f"{s}.htseq.txt", counts[s])) for s in SAMPLES]
    sheet = write_sheet(tmp_path / "samples.tsv", {"htseq": column})
    adata = load_checked_inputs(spec_for(sheet, {"column": "htseq", "format": "htseq"}))
    np.testing.assert_array_equal(adata.layers["counts"], counts.T.to_numpy())
    assert not adata.var_names.str.startswith("__").any()
    assert adata.obs["unassigned_no_feature"].tolist() == [812] * 6
    assert adata.obs["unassigned_too_low_aqual"].tolist() == [7] * 6
    assert adata.obs["unassigned_alignment_not_unique"].tolist() == [95] * 6


def test_gene_order_may_differ_but_not_gene_sets(tmp_path):
    counts = simulated_counts()
    paths = []
    for i, s in enumerate(SAMPLES):
        genes = counts[s].iloc[::-1] if i == 2 else counts[s]
        paths.append(str(write_htseq(tmp_path / f"{s}.txt", genes)))
    sheet = write_sheet(tmp_path / "samples.tsv", {"htseq": paths})
    adata = load_checked_inputs(spec_for(sheet, {"column": "htseq", "format": "htseq"}))
    np.testing.assert_array_equal(adata.layers["counts"], counts.T.to_numpy())
    # another annotation: S4's file has other gene IDs
    other = counts["S4"].copy()
    other.index = [g.replace("ENSG", "ENSMUSG") if k < 5 else g for k, g in enumerate(other.index)]
    write_htseq(tmp_path / "S4.txt", other)
    with pytest.raises(InputError, match=r"S4.txt' \(sample 'S4'\) lists other genes than .*S1.txt'.*"
                                         r"5 gene\(s\) of .* are missing.*different annotations"):
        load_checked_inputs(spec_for(sheet, {"column": "htseq", "format": "htseq"}))


def test_count_file_errors(tmp_path, star_cohort):
    counts, sheet = star_cohort
    # a STAR file given as HTSeq and the other way round
    with pytest.raises(InputError, match=r"line 1: 4 tab-separated column\(s\), but a HTSeq-count file has 2.*"
                                         r"set count_files.format to 'star'"):
        load_checked_inputs(spec_for(sheet, {"column": "star", "format": "htseq"}))
    path = tmp_path / "S1.ReadsPerGene.out.tab"
    lines = path.read_text().splitlines()
    lines[10] = lines[10].rsplit("\t", 1)[0]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"S1.ReadsPerGene.out.tab' \(sample 'S1'\), line 11: 3 tab-separated"):
        load_checked_inputs(spec_for(sheet, {"column": "star", "format": "star"}))
    lines[10] = f"{counts.index[6]}\t12\t1.5\t10"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"line 11, gene 'ENSG00000000006': '1.5' is not a count"):
        load_checked_inputs(spec_for(sheet, {"column": "star", "format": "star"}))
    # a file that is not there, and a column that is not in the sheet
    sheet_table = pd.read_csv(sheet, sep="\t")
    sheet_table.loc[4, "star"] = str(tmp_path / "missing.tab")
    sheet_table.to_csv(sheet, sep="\t", index=False)
    with pytest.raises(InputError, match=r"row 6 \(sample 'S5'\): STAR ReadsPerGene.out.tab file '.*missing.tab' does not exist"):
        load_checked_inputs(spec_for(sheet, {"column": "star", "format": "star"}))
    with pytest.raises(InputError, match="has no such column"):
        load_checked_inputs(spec_for(sheet, {"column": "stars", "format": "star"}))


def test_relative_paths_resolve_beside_the_sheet(tmp_path, monkeypatch):
    counts = simulated_counts()
    (tmp_path / "data").mkdir()
    for s in SAMPLES:
        write_htseq(tmp_path / "data" / f"{s}.txt", counts[s])
    sheet = write_sheet(tmp_path / "data" / "samples.tsv", {"htseq": [f"{s}.txt" for s in SAMPLES]})
    monkeypatch.chdir(tmp_path)
    adata = load_checked_inputs(spec_for(sheet, {"column": "htseq", "format": "htseq"}))
    assert adata.shape == (6, len(counts))


def test_config_count_sources():
    assert missing_data_paths({"samples": "s.tsv", "count_files": {"column": "x"}}, ["my.yaml"]) is None
    both = missing_data_paths({"samples": "s", "counts": "c", "count_files": {"column": "x"}}, [])
    assert "'counts' and 'count_files' are set together" in both
    assert "count_files" in missing_data_paths({"samples": "s.tsv"}, ["my.yaml"])
    assert missing_data_paths({"samples": "s.tsv", "quantifications": {"tool": "salmon"}}, []) is None


@pytest.mark.parametrize(
    "extra, sentence",
    [
        ({"round_counts": True}, "held length-scaled estimated counts, which were rounded to whole numbers"),
        ({"count_files": {"column": "s", "format": "star", "strand": "reverse"}},
         "read from its STAR ReadsPerGene.out.tab file (reverse counts)"),
        ({"count_files": {"column": "s", "format": "htseq"}}, "read from its HTSeq-count file"),
        ({"quantifications": {"tool": "kallisto", "column": "q", "counts_from_abundance": "scaled_tpm"}},
         "estimated by kallisto were summarised to genes with pytximport 0.13.0"),
        ({"quantifications": {"tool": "kallisto", "column": "q", "counts_from_abundance": "scaled_tpm"}},
         "(countsFromAbundance scaledTPM) and rounded to whole numbers (half to even), without offsets"),
        # tximport's offsets: the default, and a bare YAML `no` (read as false)
        ({"quantifications": {"tool": "salmon", "column": "q"}},
         "each sample's average transcript length per gene used as offsets"),
        ({"quantifications": {"tool": "rsem", "column": "q", "counts_from_abundance": False}},
         "into gene-by-sample normalisation factors (estimateNormFactors), which took the size "
         "factors' place"),
    ],
)
def test_methods_say_how_the_counts_were_read(extra, sentence):
    from pathlib import Path

    import yaml

    from msc_response.report.jinja import environment

    config = yaml.safe_load((Path(__file__).parents[2] / "config/config.yaml").read_text())
    facts = {"n_genes": 10, "n_samples": 6, "contrasts": [], "collections": [], "source_in_design": False,
             "power": False}
    render = environment().get_template("methods.txt.j2").render
    options = dict(tools={"pytximport": "0.13.0"}, facts=facts, provenance={"workflow": {}})
    text = " ".join(render(config={**config, **extra}, **options).split())
    assert sentence in text
    plain = " ".join(render(config=config, **options).split())
    assert sentence not in plain and plain.startswith("Raw read counts")
