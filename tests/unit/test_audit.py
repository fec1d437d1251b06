import numpy as np
import pandas as pd
import pytest

from msc_response.design import audit
from msc_response.design.formula import design_matrix
from msc_response.inputs.validation import coerce_sample_sheet


def typed(**columns):
    n = len(next(iter(columns.values())))
    raw = pd.DataFrame({"sample": [f"S{i}" for i in range(n)], **columns}).astype(str)
    return coerce_sample_sheet(raw, "s.tsv", list(columns))


RESPONSE = ["responder"] * 4 + ["non_responder"] * 4


def rows(table, section, **where):
    selected = table[table["section"] == section]
    for column, value in where.items():
        selected = selected[selected[column] == value]
    return selected


def test_cramers_v_and_eta_values():
    s = typed(
        response=RESPONSE,
        balanced=["a", "b"] * 4,
        same=["x"] * 4 + ["y"] * 4,
        age=[60, 62, 64, 66, 60, 62, 64, 66],
        shifted=[1, 2, 1, 2, 11, 12, 11, 12],
    )
    assert audit.cramers_v(s["response"], s["balanced"]) == pytest.approx(0.0)
    assert audit.cramers_v(s["response"], s["same"]) == pytest.approx(1.0)
    assert audit.correlation_ratio(s["response"], s["age"]) == pytest.approx(0.0)
    # between-group SS 200 of total 202: eta = sqrt(200/202)
    assert audit.correlation_ratio(s["response"], s["shifted"]) == pytest.approx(np.sqrt(200 / 202))


def test_confounded_categorical_pair_is_described():
    s = typed(response=RESPONSE, source=["adipose", "bone_marrow"] * 2 + ["wharton"] * 4)
    measure, value, why = audit.association(s, "response", "source")
    assert (measure, value) == ("cramers_v", pytest.approx(1.0))
    assert why == (
        "'response' is confounded with 'source' (response = non_responder only with "
        "source = wharton; response = responder only with source = adipose, bone_marrow)"
    )


def test_disconnected_levels_are_confounded_even_below_v_one():
    # a1 only with x; a2, a3 mix y and z: additive ~ a + b is not full rank
    s = typed(a=["a1", "a1", "a2", "a2", "a3", "a3"], b=["x", "x", "y", "z", "y", "z"])
    measure, value, why = audit.association(s, "a", "b")
    assert value < 1 and why and "a = a1 only with b = x" in why
    assert np.linalg.matrix_rank(design_matrix(s, "~ a + b").to_numpy(float)) < 5


def test_continuous_covariate_constant_within_groups():
    s = typed(response=RESPONSE, age=[70] * 4 + [50] * 4)
    measure, value, why = audit.association(s, "response", "age")
    assert measure == "eta" and value == pytest.approx(1.0)
    assert "'age' is constant within each level of 'response'" in why


def test_audit_table_flags_near_and_full_confounding():
    near = typed(
        response=RESPONSE,
        source=["a", "a", "a", "a", "b", "b", "b", "a"],
        batch=["1", "2"] * 4,
    )
    table = audit.design_audit(near, "~ batch + source + response", ["response"], 0.7)
    assert list(table.columns) == audit.COLUMNS
    source = rows(table, "association", variable="response", covariate="source").iloc[0]
    assert source["measure"] == "cramers_v" and source["value"] == pytest.approx(np.sqrt(0.6))
    assert source["flag"] == "nearly_confounded"
    assert rows(table, "association", variable="response", covariate="batch")["flag"].item() == "ok"
    [warning] = audit.audit_warnings(table)
    assert "'response' is strongly associated with 'source' (cramers_v = 0.77 >= 0.7)" in warning
    combos = rows(table, "samples_per_combination", variable="response x source")
    assert combos.set_index("level")["value"].to_dict() == {
        "non_responder | a": 1, "non_responder | b": 3, "responder | a": 4, "responder | b": 0,
    }
    assert combos.set_index("level").loc["responder | b", "flag"] == "note"
    design = rows(table, "design").set_index("measure")["value"].to_dict()
    assert design == {"n_samples": 8, "n_coefficients": 4, "rank": 4, "residual_df": 4}

    full = typed(response=RESPONSE, source=["a"] * 4 + ["b"] * 4)
    table = audit.design_audit(full, "~ source + response", ["response"])
    assert rows(table, "association", covariate="source")["flag"].item() == "confounded"
    assert rows(table, "design", measure="rank")["flag"].item() == "error"


def test_audit_flags_missing_replicates_and_residual_df():
    s = typed(response=["r", "r", "n", "n"], source=["a", "b", "a", "c"])
    table = audit.design_audit(s, "~ source + response", ["response"])
    lonely = rows(table, "samples_per_level", variable="source").set_index("level")
    assert lonely.loc["b", "flag"] == "error" and lonely.loc["a", "flag"] == "ok"
    residual = rows(table, "design", measure="residual_df").iloc[0]
    assert residual["value"] == 0 and residual["flag"] == "error"


def test_confounded_pairs_name_the_variable_of_interest_first():
    s = typed(batch=["1", "2"] * 4, source=["a"] * 4 + ["b"] * 4, response=RESPONSE)
    [pair] = audit.confounded_pairs(s, ["batch", "source", "response"])
    assert pair.startswith("'response' is confounded with 'source'")


def test_uneven_spread_is_noted_in_and_out_of_the_design():
    raw = pd.DataFrame({
        "sample": [f"S{i}" for i in range(8)],
        "response": RESPONSE,
        "source": ["a", "a", "a", "b", "a", "b", "b", "b"],  # Cramér's V 0.5
        "donor": [f"D{i}" for i in range(8)],
        "age": ["60", "70"] * 4,
    })
    kept = coerce_sample_sheet(raw, "s.tsv", ["source", "response"])
    table = audit.design_audit(kept, "~ source + response", ["response"])
    row = rows(table, "association", variable="response", covariate="source").iloc[0]
    assert row["value"] == pytest.approx(0.5)
    assert row["flag"] == "note" and "keep 'source' in the design" in row["message"]

    naive = coerce_sample_sheet(raw, "s.tsv", ["response"])
    table = audit.design_audit(naive, "~ response", ["response"])
    left_out = rows(table, "association", variable="response").set_index("covariate")
    assert set(left_out.index) == {"source", "age"}  # the identifier column is skipped
    assert left_out.loc["source", "flag"] == "note"
    assert "'source' is not in the design" in left_out.loc["source", "message"]
    assert "'~ source + response'" in left_out.loc["source", "message"]
    assert (left_out.loc["age", "measure"], left_out.loc["age", "flag"]) == ("eta", "ok")
    assert left_out.loc["age", "value"] == pytest.approx(0.0)
    assert audit.audit_warnings(table) == []  # notes stay in the table
