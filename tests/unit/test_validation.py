import numpy as np
import pandas as pd
import pytest

from msc_response.common.config import check_config
from msc_response.common.errors import InputError
from msc_response.design.contrasts import Contrast, order_reference_first, parse_contrasts
from msc_response.design.formula import design_variables
from msc_response.design.structure import check_design, check_full_rank
from msc_response.inputs.validation import (
    check_counts,
    check_sheet,
    coerce_sample_sheet,
    match_samples,
    warn_gene_ids,
    warn_level_typos,
)


def sheet(**columns):
    n = len(next(iter(columns.values())))
    data = {"sample": [f"S{i}" for i in range(n)], **columns}
    return pd.DataFrame(data).astype(str)


RESPONSE = ["responder"] * 3 + ["non_responder"] * 3
CONTRAST = Contrast("c", "response", "responder", "non_responder")


def test_design_variables_in_formula_order():
    assert design_variables("~ batch + source * response") == [
        "batch",
        "source",
        "response",
    ]
    with pytest.raises(InputError, match="not a formula"):
        design_variables("source + response")


def test_types_numeric_and_categorical():
    s = coerce_sample_sheet(
        sheet(response=RESPONSE, age=[50, 60, 70, 55, 65, 75], batch=[1, 2, 1, 2, 1, 2]),
        "s.tsv",
        ["response", "age", "batch"],
        categorical=["batch"],
    )
    assert s["age"].dtype == float
    assert isinstance(s["batch"].dtype, pd.CategoricalDtype)
    assert list(s.index) == [f"S{i}" for i in range(6)]


def test_missing_design_column_names_the_columns():
    with pytest.raises(InputError, match="'source'.*no column"):
        coerce_sample_sheet(sheet(response=RESPONSE), "s.tsv", ["source", "response"])


def test_blank_design_value_names_row():
    values = RESPONSE.copy()
    values[4] = ""
    with pytest.raises(InputError, match=r"row 6 \(sample 'S4'\).*'response' is missing"):
        coerce_sample_sheet(sheet(response=values), "s.tsv", ["response"])


def test_duplicate_sample():
    s = sheet(response=RESPONSE)
    s.loc[5, "sample"] = "S0"
    with pytest.raises(InputError, match="'S0' appear more than once"):
        coerce_sample_sheet(s, "s.tsv", ["response"])


def typed(**columns):
    variables = list(columns)
    return coerce_sample_sheet(sheet(**columns), "s.tsv", variables)


def test_contrast_level_must_occur():
    s = typed(response=RESPONSE)
    bad = Contrast("c", "response", "responder", "nonresponder")
    with pytest.raises(InputError, match="reference level 'nonresponder' does not occur"):
        check_design(s, "~ response", [bad], "s.tsv")


def test_single_replicate_level():
    s = typed(response=RESPONSE, source=["a", "a", "b", "b", "b", "c"])
    with pytest.raises(InputError, match="'c' have fewer than two samples"):
        check_design(s, "~ source + response", [CONTRAST], "s.tsv")


def test_confounded_design_is_not_full_rank():
    s = typed(response=RESPONSE, source=["a"] * 3 + ["b"] * 3)
    with pytest.raises(
        InputError,
        match=r"not full rank: 'response' is confounded with 'source' \(response = "
        r"non_responder only with source = b; response = responder only with source = a\)",
    ):
        check_design(s, "~ source + response", [CONTRAST], "s.tsv")


def test_good_design_passes():
    s = typed(response=RESPONSE, source=["a", "b", "a", "b", "a", "b"])
    assert check_design(s, "~ source + response", [CONTRAST], "s.tsv") == []


def counts_table(values):
    return pd.DataFrame(values, index=[f"G{i}" for i in range(len(values))], columns=["S1", "S2"])


@pytest.mark.parametrize(
    "values,message",
    [
        ([[1, 2], [3, -1]], r"gene 'G1' \(row 3\), sample 'S2'.*-1 is negative"),
        ([[1, 2.5], [3, 1]], r"gene 'G0' \(row 2\), sample 'S2'.*2.5 is not a whole number"),
        ([[1, np.nan], [3, 1]], r"gene 'G0' \(row 2\), sample 'S2'.*is missing"),
        ([[1, "x"], [3, 1]], r"gene 'G0' \(row 2\), sample 'S2': 'x' is not a number"),
        ([[0, 2], [0, 1]], r"sample\(s\) 'S1' have zero counts for every gene"),
    ],
)
def test_bad_counts(values, message):
    with pytest.raises(InputError, match=message):
        check_counts(counts_table(values), "c.tsv")


def test_duplicate_genes():
    table = counts_table([[1, 2], [3, 4]])
    table.index = ["G0", "G0"]
    with pytest.raises(InputError, match="'G0' appear more than once"):
        check_counts(table, "c.tsv")


def test_match_samples_reorders_and_handles_extra_columns():
    s = typed(response=["a", "b"])
    counts = pd.DataFrame([[1, 2, 3]], columns=["S1", "X", "S0"], index=["G"])
    matched, warnings = match_samples(counts, s, "c.tsv", "s.tsv")
    assert list(matched.columns) == ["S0", "S1"]
    assert "'X'" in warnings[0]
    with pytest.raises(InputError, match="'X'.*not in sample sheet"):
        match_samples(counts, s, "c.tsv", "s.tsv", extra_columns="error")
    with pytest.raises(InputError, match="'S1' that have no column"):
        match_samples(counts[["S0"]], s, "c.tsv", "s.tsv")


def test_reference_first():
    s = typed(response=RESPONSE)
    ordered = order_reference_first(s, CONTRAST)
    assert list(ordered["response"].cat.categories) == ["non_responder", "responder"]


# ---------------------------------------------------------------- config


def config_schema():
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[2]
    return yaml.safe_load((root / "workflow/schemas/config.schema.yaml").read_text())


def minimal_config(**extra):
    config = {
        "counts": "c.tsv",
        "samples": "s.tsv",
        "design": "~ response",
        "contrasts": {"c": {"variable": "response", "test": "responder", "reference": "non_responder"}},
    }
    config.update(extra)
    return config


def test_config_problems_are_listed_one_per_line_with_suggestions():
    config = minimal_config(desing="~ x", diffexp={"alpah": 0.1, "inference": "fats"})
    with pytest.raises(InputError) as caught:
        check_config(config, config_schema())
    message = str(caught.value)
    assert message.startswith("the config has 3 problems")
    assert "unknown key 'desing' (did you mean 'design'?)" in message
    assert "unknown key 'diffexp.alpah' (did you mean 'alpha'?)" in message
    assert "'diffexp.inference': 'fats' is not allowed; choose one of 'fast', 'default' (did you mean 'fast'?)" in message
    assert "Failed validating" not in message  # no schema dump


def test_config_yaml_booleans_for_levels():
    config = minimal_config(contrasts={"c": {"variable": "treated", "test": True, "reference": False}})
    with pytest.raises(InputError, match=r"'contrasts.c.test': YAML reads an unquoted yes/true/on as True"):
        check_config(config, config_schema())


def test_valid_config_passes():
    check_config(minimal_config(), config_schema())


# ---------------------------------------------------------------- more sheet problems


def test_space_in_sample_name():
    s = sheet(response=RESPONSE)
    s.loc[2, "sample"] = "MSC 03"
    with pytest.raises(InputError, match=r"row 4: sample name 'MSC 03' contains a space.*'MSC_03'"):
        coerce_sample_sheet(s, "s.tsv", ["response"])


def test_typo_in_numeric_column_is_reported_by_row():
    with pytest.raises(InputError, match=r"row 5 \(sample 'S3'\): '6O' in column 'age' is not a number"):
        coerce_sample_sheet(
            sheet(response=RESPONSE, age=["61", "72", "55", "6O", "48", "66"]), "s.tsv", ["response", "age"]
        )


def test_missing_design_column_suggests_the_close_one():
    with pytest.raises(InputError, match=r"uses 'Source'.*\(did you mean 'source'\?\)"):
        coerce_sample_sheet(
            sheet(response=RESPONSE, source=["a", "b"] * 3), "s.tsv", ["Source", "response"]
        )


def test_numeric_contrast_variable_says_how_to_fix():
    s = typed(response=["1", "1", "1", "0", "0", "0"])
    with pytest.raises(InputError, match=r"holds numbers.*'categorical_variables: \[response\]'"):
        check_design(s, "~ response", [Contrast("c", "response", "1", "0")], "s.tsv")


def test_contrast_level_suggestion():
    s = typed(response=RESPONSE)
    bad = Contrast("c", "response", "Responder", "non_responder")
    with pytest.raises(InputError, match=r"test level 'Responder' does not occur.*Did you mean 'responder'\?"):
        check_design(s, "~ response", [bad], "s.tsv")


def test_numeric_yaml_levels_match_text():
    [contrast] = parse_contrasts({"c": {"variable": "v", "test": 1.0, "reference": 0}})
    assert (contrast.test, contrast.reference) == ("1", "0")


def test_level_typos_warned():
    s = typed(response=["responder", "Responder", "responder", "non_responder", "non_responder", "responder"])
    [warning] = warn_level_typos(s, ["response"], "s.tsv")
    assert "'Responder', 'responder' differ only in case" in warning


def test_no_residual_degrees_of_freedom():
    s = typed(response=["r", "r", "n", "n"], source=["a", "b", "a", "b"], sex=["m", "f", "f", "m"])
    with pytest.raises(InputError, match=r"4 coefficients for 4 samples: no residual degrees of freedom"):
        check_full_rank(s, "~ sex + source + response")


def test_check_sheet_defers_design_structure_problems(tmp_path):
    path = tmp_path / "s.tsv"
    path.write_text("sample\tresponse\tsource\n" + "".join(
        f"S{i}\t{r}\t{'a' if r == 'responder' else 'b'}\n" for i, r in enumerate(RESPONSE)))
    checked = check_sheet(str(path), "~ source + response", {"c": {"variable": "response", "test": "responder", "reference": "non_responder"}}, ())
    assert len(checked.design_problems) == 1 and "not full rank" in checked.design_problems[0]


# ---------------------------------------------------------------- more counts problems


def test_text_column_in_counts():
    table = pd.DataFrame({"symbol": ["TP53", "IL6", "CDH1"], "S1": [1, 2, 3]}, index=["G1", "G2", "G3"])
    with pytest.raises(InputError, match=r"column 'symbol' holds text.*remove annotation columns"):
        check_counts(table, "c.tsv")


def test_integer_counts_are_not_copied():
    table = pd.DataFrame(np.arange(1, 13, dtype=np.int64).reshape(4, 3), columns=["S1", "S2", "S3"],
                         index=[f"G{i}" for i in range(4)])
    counts = check_counts(table, "c.tsv")
    assert np.shares_memory(counts.to_numpy(), table.to_numpy())
    s = typed(response=["a", "b", "a"])
    s.index = ["S1", "S2", "S3"]
    matched, _ = match_samples(counts, s, "c.tsv", "s.tsv")
    assert matched is counts


def test_whole_floats_and_infinite_values():
    counts = check_counts(counts_table([[1.0, 2.0], [3.0, 1e5]]), "c.tsv")
    assert counts.dtypes.tolist() == [np.int64, np.int64] and counts.iloc[1, 1] == 100000
    with pytest.raises(InputError, match=r"the count inf is not a whole number"):
        check_counts(counts_table([[1.0, np.inf], [3.0, 1.0]]), "c.tsv")


def test_excel_dates_in_gene_ids_warned():
    ids = pd.Index(["TP53", "1-Mar", "2-Sep", "SEPT2", "Mar-01", "2023-03-01", "ENSG00000000003"])
    [warning] = warn_gene_ids(ids, "c.tsv")
    assert "4 gene ID(s) look like dates ('1-Mar', '2-Sep', 'Mar-01', '2023-03-01')" in warning
    assert warn_gene_ids(pd.Index(["TP53", "MARCH1", "SEPTIN2"]), "c.tsv") == []


def test_sample_name_suggestion_and_transposed_counts():
    s = typed(response=["a", "b"])
    s.index = ["MSC_01", "MSC_02"]
    counts = pd.DataFrame([[1, 2]], columns=["MSC-01", "MSC_02"], index=["G"])
    with pytest.raises(InputError, match=r"For 'MSC_01', did you mean 'MSC-01'\?"):
        match_samples(counts, s, "c.tsv", "s.tsv")
    transposed = pd.DataFrame([[1, 2], [3, 4]], index=["MSC_01", "MSC_02"], columns=["G1", "G2"])
    with pytest.raises(InputError, match="looks transposed"):
        match_samples(transposed, s, "c.tsv", "s.tsv")
