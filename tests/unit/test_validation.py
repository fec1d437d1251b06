import numpy as np
import pandas as pd
import pytest

from msc_response import validation
from msc_response.errors import InputError
from msc_response.validation import Contrast


def sheet(**columns):
    n = len(next(iter(columns.values())))
    data = {"sample": [f"S{i}" for i in range(n)], **columns}
    return pd.DataFrame(data).astype(str)


RESPONSE = ["responder"] * 3 + ["non_responder"] * 3
CONTRAST = Contrast("c", "response", "responder", "non_responder")


def test_design_variables_in_formula_order():
    assert validation.design_variables("~ batch + source * response") == [
        "batch",
        "source",
        "response",
    ]
    with pytest.raises(InputError, match="not a formula"):
        validation.design_variables("source + response")


def test_types_numeric_and_categorical():
    s = validation.coerce_sample_sheet(
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
        validation.coerce_sample_sheet(sheet(response=RESPONSE), "s.tsv", ["source", "response"])


def test_blank_design_value_names_row():
    values = RESPONSE.copy()
    values[4] = ""
    with pytest.raises(InputError, match=r"row 6 \(sample 'S4'\).*'response' is missing"):
        validation.coerce_sample_sheet(sheet(response=values), "s.tsv", ["response"])


def test_duplicate_sample():
    s = sheet(response=RESPONSE)
    s.loc[5, "sample"] = "S0"
    with pytest.raises(InputError, match="'S0' appear more than once"):
        validation.coerce_sample_sheet(s, "s.tsv", ["response"])


def typed(**columns):
    variables = list(columns)
    return validation.coerce_sample_sheet(sheet(**columns), "s.tsv", variables)


def test_contrast_level_must_occur():
    s = typed(response=RESPONSE)
    bad = Contrast("c", "response", "responder", "nonresponder")
    with pytest.raises(InputError, match="reference level 'nonresponder' does not occur"):
        validation.check_design(s, "~ response", [bad], "s.tsv")


def test_single_replicate_level():
    s = typed(response=RESPONSE, source=["a", "a", "b", "b", "b", "c"])
    with pytest.raises(InputError, match="'c' have fewer than two samples"):
        validation.check_design(s, "~ source + response", [CONTRAST], "s.tsv")


def test_confounded_design_is_not_full_rank():
    s = typed(response=RESPONSE, source=["a"] * 3 + ["b"] * 3)
    with pytest.raises(
        InputError,
        match=r"not full rank: 'response' is confounded with 'source' \(response = "
        r"non_responder only with source = b; response = responder only with source = a\)",
    ):
        validation.check_design(s, "~ source + response", [CONTRAST], "s.tsv")


def test_good_design_passes():
    s = typed(response=RESPONSE, source=["a", "b", "a", "b", "a", "b"])
    assert validation.check_design(s, "~ source + response", [CONTRAST], "s.tsv") == []


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
        validation.check_counts(counts_table(values), "c.tsv")


def test_duplicate_genes():
    table = counts_table([[1, 2], [3, 4]])
    table.index = ["G0", "G0"]
    with pytest.raises(InputError, match="'G0' appear more than once"):
        validation.check_counts(table, "c.tsv")


def test_match_samples_reorders_and_handles_extra_columns():
    s = typed(response=["a", "b"])
    counts = pd.DataFrame([[1, 2, 3]], columns=["S1", "X", "S0"], index=["G"])
    matched, warnings = validation.match_samples(counts, s, "c.tsv", "s.tsv")
    assert list(matched.columns) == ["S0", "S1"]
    assert "'X'" in warnings[0]
    with pytest.raises(InputError, match="'X'.*not in sample sheet"):
        validation.match_samples(counts, s, "c.tsv", "s.tsv", extra_columns="error")
    with pytest.raises(InputError, match="'S1' that have no column"):
        validation.match_samples(counts[["S0"]], s, "c.tsv", "s.tsv")


def test_reference_first():
    s = typed(response=RESPONSE)
    ordered = validation.order_reference_first(s, CONTRAST)
    assert list(ordered["response"].cat.categories) == ["non_responder", "responder"]
