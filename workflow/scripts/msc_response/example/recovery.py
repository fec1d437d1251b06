"""How much of the example cohort's planted truth a contrast recovers.

For each contrast kind, the genes with a planted effect (``planted``) and the
recall and false discovery proportion of the genes a results table calls
(``recovery``). The README's figures for ``config/examples/designs.yaml`` and the
integration test of that config use these functions.

What counts as planted, from the cohort's truth table (``cohort.Cohort.truth``):

- a Wald or ``within:`` contrast of ``variable``: that variable's planted effect
  (the cohort plants no interaction, so the response effect is the same within
  every source);
- a continuous contrast: its per-unit effect (``abi_change``; ``age`` has none);
- an LRT: an effect of any variable that the reduced design drops.
"""

from __future__ import annotations

import re
from typing import Mapping

import numpy as np
import pandas as pd

# truth-table columns holding each sample-sheet variable's planted effect
EFFECT_COLUMNS = {
    "response": ["true_log2fc"],
    "source": ["source_log2fc_adipose", "source_log2fc_wharton_jelly"],
    "sex": ["sex_log2fc_female"],
    "batch": ["batch_sd"],
    "abi_change": ["abi_change_log2fc_per_unit"],
    "age": [],  # the cohort plants no age effect
}


def _variables(formula: str) -> set[str]:
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_.]*", formula))


def planted(truth: pd.DataFrame, contrast: Mapping, design: str) -> pd.Series:
    """Boolean per gene (index: the truth's ``gene``): has the contrast a planted effect?"""
    if str(contrast.get("test", "")).upper() == "LRT":
        variables = sorted(_variables(design) - _variables(contrast["reduced"]))
    else:
        variables = [contrast["variable"]]
    unknown = [v for v in variables if v not in EFFECT_COLUMNS]
    if unknown:
        raise KeyError(f"the example cohort's truth has no effect column for {unknown}")
    table = truth.set_index("gene") if "gene" in truth.columns else truth
    columns = [c for v in variables for c in EFFECT_COLUMNS[v]]
    effect = (table[columns].apply(pd.to_numeric).to_numpy() if columns
              else np.zeros((len(table), 0)))
    return pd.Series((effect != 0).any(axis=1), index=table.index, name="planted")


def recovery(table: pd.DataFrame, is_planted: pd.Series, alpha: float = 0.05) -> dict:
    """Genes called (padj < alpha) in a results table against the planted truth.

    Returns called, planted, true_positives, recall (of the planted genes) and fdp
    (share of the called genes with no planted effect; NaN when none is called).
    """
    called = set(table.loc[table["padj"] < alpha, "gene_id"])
    true = set(is_planted.index[is_planted.to_numpy()])
    hits = len(called & true)
    return {
        "called": len(called),
        "planted": len(true),
        "true_positives": hits,
        "recall": hits / len(true) if true else float("nan"),
        "fdp": (len(called) - hits) / len(called) if called else float("nan"),
    }
