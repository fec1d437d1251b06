"""A single-cell version of a simulated cohort: each sample's counts split into cells.

`cells_from_counts` splits every sample's count profile (genes x samples, as the bulk
simulator writes it) into single cells whose counts sum back exactly to that profile:
each cell gets a share of the sample's reads (Dirichlet weights, so cells differ in
size as real cells do) and every gene's reads are dealt to the cells multinomially.
The pseudobulk of the result is therefore the bulk table itself, which is what the
bulk-equivalence test of the single-cell input needs; the cells also carry a
population label, drawn per cell, that the truth table documents.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

POPULATIONS = ("stromal", "perivascular", "proliferating")


def cells_from_counts(
    counts: pd.DataFrame,
    *,
    cells_per_sample: tuple[int, int] = (40, 80),
    seed: int = 1,
    sample_column: str = "donor",
):
    """An AnnData of cells x genes whose cells of each sample sum to `counts`' column.

    `counts`: genes x samples raw counts. Each sample gets a number of cells drawn
    uniformly from `cells_per_sample`. The raw counts are in `layers['counts']` (CSR,
    int32) and `X` holds log1p of counts per 10,000 (what a single-cell file usually
    carries in X), so a reader must be told the layer. `obs[sample_column]` names the
    sample, `obs['population']` a population label.
    """
    import anndata as ad

    rng = np.random.default_rng(seed)
    blocks, samples = [], []
    for sample in counts.columns:
        profile = counts[sample].to_numpy(dtype=np.int64)
        n_cells = int(rng.integers(cells_per_sample[0], cells_per_sample[1] + 1))
        weights = rng.dirichlet(np.full(n_cells, 2.0))
        dealt = rng.multinomial(profile, weights)  # genes x cells, rows sum to profile
        blocks.append(sp.csr_matrix(dealt.T.astype(np.int32)))
        samples += [str(sample)] * n_cells
    raw = sp.vstack(blocks, format="csr")
    totals = np.asarray(raw.sum(axis=1)).ravel()
    scale = sp.diags(1e4 / np.maximum(totals, 1))
    lognorm = (scale @ raw.astype(np.float32)).tocsr()
    lognorm.data = np.log1p(lognorm.data).astype(np.float32)
    obs = pd.DataFrame(
        {
            sample_column: pd.Categorical(samples, categories=[str(s) for s in counts.columns]),
            "population": pd.Categorical(rng.choice(POPULATIONS, size=len(samples))),
        },
        index=[f"cell{i:06d}" for i in range(len(samples))],
    )
    var = pd.DataFrame(index=counts.index.astype(str))
    cells = ad.AnnData(X=lognorm, obs=obs, var=var)
    cells.layers["counts"] = raw
    return cells
