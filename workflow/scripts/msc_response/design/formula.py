"""The design formula and its model matrix: the one place validation, the audit, the
fit and the marker stage get a design's variables and columns from.

formulaic (pinned) parses formulas and builds model matrices, as PyDESeq2 does; it is
imported inside the functions, so reading this module costs nothing at parse time.
"""

from __future__ import annotations

import pandas as pd

from msc_response.common.errors import InputError


def design_variables(design: str) -> list[str]:
    """Variables a design formula uses, in formula order: '~ batch + source:sex' ->
    ['batch', 'source', 'sex']."""
    from formulaic import Formula

    if not isinstance(design, str) or not design.strip().startswith("~"):
        raise InputError(
            f"config 'design': '{design}' is not a formula. Write it like '~ source + response'."
        )
    try:
        formula = Formula(design)
    except Exception as err:  # formulaic raises several parser exception types
        raise InputError(
            f"config 'design': cannot parse '{design}' ({err}). Write it like '~ source + response'."
        ) from None
    required = formula.required_variables
    ordered = []
    for term in formula:
        for factor in term.factors:
            name = str(factor)
            if name in required and name not in ordered:
                ordered.append(name)
    # Variables used inside transforms such as np.log(age) come last.
    return ordered + sorted(required - set(ordered))


def design_matrix(sheet: pd.DataFrame, design: str) -> pd.DataFrame:
    from formulaic import model_matrix

    return model_matrix(design, sheet)
