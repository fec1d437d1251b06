"""Design audit: is the variable of interest separable from the covariates?

Built from the sample sheet and the config alone (no counts), so it can be written,
and read, before any count is parsed or any model fitted; the same functions name
the confounded variables when the design is not full rank.

The audit is one long table (`results/qc/design_audit.tsv`), one row per fact:

- `samples_per_level`: samples per level of each categorical design variable;
- `samples_per_combination`: samples per combination of a contrast variable with
  each categorical covariate (empty combinations included), and per observed
  combination of all categorical design variables;
- `association`: strength of association between each contrast variable and every
  other design variable, and between covariates: Cramér's V (`cramers_v`, 0 = none,
  1 = one determines the other) for two categorical variables, the correlation ratio
  (`eta`, the share of a continuous covariate's spread explained by the groups,
  as a square root) for categorical vs continuous, and `abs_pearson_r` for two
  continuous covariates; also between each contrast variable and every sample-sheet
  column left out of the design (its message says so), because a covariate that is
  unevenly spread over the groups and left out lets its effects pass for theirs;
- `design`: samples, coefficients, rank and residual degrees of freedom.

Columns: section, variable, level, covariate, measure, value, flag, message. `flag`
is `ok`, `note` (worth knowing: e.g. a contrast variable unevenly spread over a
covariate's levels, association >= `NOTE_ASSOCIATION`), `nearly_confounded`
(association at least the configured threshold), `confounded` (the two cannot be
told apart: the design is not full rank) or `error` (the run stops).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from msc_response.design.formula import design_matrix, design_variables
from msc_response.inputs.readers import MISSING_VALUES

# Association (Cramér's V or eta) from which an uneven spread of a contrast variable over
# a covariate is noted: Cohen's "medium" effect for V, and above what chance gives a
# cohort of ~40 samples with three levels (V ~ sqrt(2 / 40) = 0.22 under independence).
NOTE_ASSOCIATION = 0.3

COLUMNS = ["section", "variable", "level", "covariate", "measure", "value", "flag", "message"]


def _is_categorical(column: pd.Series) -> bool:
    return isinstance(column.dtype, pd.CategoricalDtype)


def _observed(column: pd.Series) -> pd.Series:
    """Categorical column with only the levels that occur (the sheet may have been
    subset)."""
    return column.cat.remove_unused_categories()


# ---------------------------------------------------------------- association measures


def cramers_v(a: pd.Series, b: pd.Series) -> float:
    """Cramér's V of two categorical variables (without bias correction, so that 1
    means exactly that one determines the other)."""
    table = pd.crosstab(_observed(a), _observed(b)).to_numpy(dtype=float)
    n = table.sum()
    k = min(table.shape) - 1
    if n == 0 or k == 0:
        return float("nan")
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    chi2 = ((table - expected) ** 2 / expected).sum()
    return float(np.sqrt(min(1.0, chi2 / (n * k))))


def correlation_ratio(groups: pd.Series, values: pd.Series) -> float:
    """eta: sqrt(between-group sum of squares / total sum of squares) of `values`."""
    y = values.to_numpy(dtype=float)
    total = ((y - y.mean()) ** 2).sum()
    if total == 0:
        return float("nan")
    frame = pd.DataFrame({"g": _observed(groups), "y": y})
    stats = frame.groupby("g", observed=True)["y"].agg(["mean", "size"])
    between = (stats["size"] * (stats["mean"] - y.mean()) ** 2).sum()
    return float(np.sqrt(min(1.0, between / total)))


def _components(a: pd.Series, b: pd.Series) -> list[tuple[list, list]]:
    """Connected groups of levels of a and b that share samples. More than one group
    means an additive design with both cannot separate their effects."""
    table = pd.crosstab(_observed(a), _observed(b))
    a_levels, b_levels = list(table.index), list(table.columns)
    present = table.to_numpy() > 0
    seen_a: set[int] = set()
    groups = []
    for start in range(len(a_levels)):
        if start in seen_a:
            continue
        stack, group_a, group_b = [start], {start}, set()
        while stack:
            i = stack.pop()
            for j in np.flatnonzero(present[i]):
                if j not in group_b:
                    group_b.add(j)
                    for k in np.flatnonzero(present[:, j]):
                        if k not in group_a:
                            group_a.add(k)
                            stack.append(k)
        seen_a |= group_a
        groups.append(
            ([a_levels[i] for i in sorted(group_a)], [b_levels[j] for j in sorted(group_b)])
        )
    return groups


def _levels(levels) -> str:
    return ", ".join(str(level) for level in levels)


def association(sheet: pd.DataFrame, a: str, b: str) -> tuple[str, float, str | None]:
    """(measure, value, why they are confounded or None) for design variables a, b."""
    x, y = sheet[a], sheet[b]
    if _is_categorical(x) and _is_categorical(y):
        value = cramers_v(x, y)
        groups = _components(x, y)
        if len(groups) > 1:
            parts = [f"{a} = {_levels(ga)} only with {b} = {_levels(gb)}" for ga, gb in groups]
            return "cramers_v", value, f"'{a}' is confounded with '{b}' (" + "; ".join(parts) + ")"
        return "cramers_v", value, None
    if _is_categorical(x) or _is_categorical(y):
        groups, values, g, v = (x, y, a, b) if _is_categorical(x) else (y, x, b, a)
        value = correlation_ratio(groups, values)
        spread = pd.Series(values.to_numpy(dtype=float)).groupby(
            _observed(groups).to_numpy()
        ).agg(["min", "max"])
        if np.isnan(value):
            return "eta", value, f"'{v}' has the same value for every sample"
        if (spread["min"] == spread["max"]).all():
            parts = [f"{level}: {row['min']:g}" for level, row in spread.iterrows()]
            return "eta", value, (
                f"'{v}' is constant within each level of '{g}', so it is confounded with "
                f"'{g}' (" + "; ".join(parts) + ")"
            )
        return "eta", value, None
    xv, yv = x.to_numpy(dtype=float), y.to_numpy(dtype=float)
    if xv.std() == 0 or yv.std() == 0:
        return "abs_pearson_r", float("nan"), (
            f"'{a if xv.std() == 0 else b}' has the same value for every sample"
        )
    r = float(abs(np.corrcoef(xv, yv)[0, 1]))
    if np.isclose(r, 1.0, rtol=0, atol=1e-12):
        return "abs_pearson_r", r, f"'{a}' and '{b}' are perfectly correlated"
    return "abs_pearson_r", r, None


def confounded_pairs(sheet: pd.DataFrame, variables: list[str]) -> list[str]:
    """Descriptions of the pairs of design variables that cannot be told apart."""
    found = []
    # The variable of interest comes last in a design: name it first.
    for a, b in combinations([v for v in reversed(variables) if v in sheet.columns], 2):
        _, _, why = association(sheet, a, b)
        if why:
            found.append(why)
    return found


# ---------------------------------------------------------------- the audit table


def _row(section, variable, level="", covariate="", measure="", value=np.nan, flag="ok", message=""):
    return dict(
        section=section, variable=variable, level=level, covariate=covariate,
        measure=measure, value=value, flag=flag, message=message,
    )


def design_audit(
    sheet: pd.DataFrame,
    design: str,
    contrast_variables: list[str],
    warn_association: float = 0.8,
) -> pd.DataFrame:
    """The audit table (see the module docstring) for a typed sample sheet."""
    variables = [v for v in design_variables(design) if v in sheet.columns]
    interest = [v for v in dict.fromkeys(contrast_variables) if v in variables]
    categorical = [v for v in variables if _is_categorical(sheet[v])]
    rows = []

    for variable in categorical:
        sizes = _observed(sheet[variable]).value_counts().sort_index()
        for level, n in sizes.items():
            flag, message = "ok", ""
            if n < 2:
                flag = "error"
                message = f"only {n} sample with {variable} = {level}: no replicates"
            rows.append(_row("samples_per_level", variable, level, measure="n_samples",
                             value=n, flag=flag, message=message))

    for a in (v for v in interest if v in categorical):  # a continuous one has no groups
        for b in (v for v in categorical if v != a):
            table = pd.crosstab(_observed(sheet[a]), _observed(sheet[b]))
            for level_a in table.index:
                for level_b in table.columns:
                    n = int(table.loc[level_a, level_b])
                    flag, message = "ok", ""
                    if n == 0:
                        flag = "note"
                        message = f"no sample with {a} = {level_a} and {b} = {level_b}"
                    rows.append(_row("samples_per_combination", f"{a} x {b}",
                                     f"{level_a} | {level_b}", measure="n_samples",
                                     value=n, flag=flag, message=message))
    if len(categorical) > 2 or (len(categorical) == 2 and not interest):
        counts = sheet.groupby(categorical, observed=True).size()
        for levels, n in counts.items():
            rows.append(_row("samples_per_combination", " x ".join(categorical),
                             " | ".join(map(str, levels)), measure="n_samples", value=int(n)))

    others = [v for v in variables if v not in interest]
    pairs = [(a, b) for a in interest for b in variables if b != a]
    pairs = [(a, b) for i, (a, b) in enumerate(pairs) if (b, a) not in pairs[:i]]
    pairs += list(combinations(others, 2))
    for a, b in pairs:
        measure, value, why = association(sheet, a, b)
        flag, message = "ok", ""
        if why:
            flag, message = "confounded", why + ": the design is not full rank"
        elif not np.isnan(value) and value >= warn_association:
            flag = "nearly_confounded" if a in interest else "note"
            message = (
                f"'{a}' is strongly associated with '{b}' ({measure} = {value:.2f} >= "
                f"{warn_association:g}): their effects are hard to separate, so the "
                f"'{a}' comparison has little power and depends on the model being right"
            )
        elif a in interest and not np.isnan(value) and value >= NOTE_ASSOCIATION:
            flag = "note"
            message = (
                f"'{a}' is unevenly spread over '{b}' ({measure} = {value:.2f}): keep '{b}' "
                f"in the design, or its effects pass for '{a}' effects"
            )
        rows.append(_row("association", a, covariate=b, measure=measure, value=value,
                         flag=flag, message=message))

    rows += _left_out_rows(sheet, variables, interest)
    rows += _design_rows(sheet, design, design_matrix)
    return pd.DataFrame(rows, columns=COLUMNS)


def left_out_covariates(sheet: pd.DataFrame, variables: list[str]) -> pd.DataFrame:
    """Sample-sheet columns that are not in the design but could be covariates, typed
    as design variables would be (all numbers: continuous; else labels). Identifier
    columns (one value per sample), constant columns and columns with blanks are left
    out."""
    typed = {}
    for column in sheet.columns:
        if column == "sample" or column in variables:
            continue
        values = sheet[column].astype(str)
        if values.isin(MISSING_VALUES).any() or not 1 < values.nunique() < len(values):
            continue
        numeric = pd.to_numeric(values, errors="coerce")
        typed[column] = (
            numeric.astype(float) if numeric.notna().all()
            else pd.Categorical(values, categories=sorted(values.unique()))
        )
    return pd.DataFrame(typed, index=sheet.index)


def _left_out_rows(sheet, variables, interest) -> list[dict]:
    extra = left_out_covariates(sheet, variables)
    rows = []
    for a in interest:
        frame = pd.concat([sheet[[a]], extra], axis=1)
        for b in extra.columns:
            measure, value, why = association(frame, a, b)
            flag, message = "ok", f"'{b}' is not in the design"
            if why or (not np.isnan(value) and value >= NOTE_ASSOCIATION):
                flag = "note"
                message = (
                    f"'{b}' is not in the design but is unevenly spread over '{a}' "
                    f"({measure} = {value:.2f}): if '{b}' affects expression, its effects "
                    f"pass for '{a}' effects; add it to the design (e.g. '~ {b} + {a}')"
                )
                if why:
                    message = f"{why}: '{b}' (not in the design) and '{a}' cannot be told apart"
            rows.append(_row("association", a, covariate=b, measure=measure, value=value,
                             flag=flag, message=message))
    return rows


def _design_rows(sheet, design, design_matrix) -> list[dict]:
    try:
        matrix = design_matrix(sheet, design).to_numpy(dtype=float)
    except Exception as err:  # formulaic's errors; the checks report them properly
        return [_row("design", design, measure="model_matrix", flag="error",
                     message=f"cannot build the model matrix: {err}")]
    n, p = matrix.shape
    rank = int(np.linalg.matrix_rank(matrix))
    residual = n - rank
    rows = [
        _row("design", design, measure="n_samples", value=n),
        _row("design", design, measure="n_coefficients", value=p),
        _row("design", design, measure="rank", value=rank,
             flag="ok" if rank == p else "error",
             message="" if rank == p else
             f"not full rank: {p - rank} coefficient(s) cannot be estimated (see the "
             f"'confounded' rows)"),
    ]
    if residual <= 0:
        flag, message = "error", "no residual degrees of freedom: dispersions cannot be estimated"
    elif residual <= 3:
        flag, message = "note", (
            f"only {residual} residual degree(s) of freedom: dispersion estimates lean "
            f"heavily on the prior shared across genes"
        )
    else:
        flag, message = "ok", ""
    rows.append(_row("design", design, measure="residual_df", value=residual, flag=flag,
                     message=message))
    return rows


def audit_warnings(table: pd.DataFrame, flags=("nearly_confounded",)) -> list[str]:
    """Messages of the rows flagged with one of `flags`, once each. By default the
    near confounding of a contrast variable with a covariate: full confounding and
    errors stop the run with their own message."""
    flagged = table[table["flag"].isin(flags)]
    return list(dict.fromkeys(f"design audit: {m}" for m in flagged["message"] if m))
