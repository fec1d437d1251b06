"""A single-cell version of a simulated cohort: each sample's counts split into cells.

`cells_from_counts` splits every sample's count profile (genes x samples, as the bulk
simulator writes it) into single cells whose counts sum back exactly to that profile:
each cell gets a share of the sample's reads (Dirichlet weights, so cells differ in
size as real cells do) and every gene's reads are dealt to the cells multinomially.
The pseudobulk of the result is therefore the bulk table itself, which is what the
bulk-equivalence test of the single-cell input needs; the cells also carry a
population label, drawn per cell, that the truth table documents.

`simulate_population_cohort` makes a cohort whose cells come from populations with
their own biology, for the per-population analysis (`single_cell.group_by`); its
truth is documented there and in config/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass

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


# --------------------------------------------------------------- populations cohort
# The planted truth of `simulate_population_cohort` (config/README.md repeats it).
POPULATION_SHARES = {"stromal": 0.6, "perivascular": 0.4}  # of a non-responder's cells
RESPONDER_ONLY = "immunoregulatory"  # a population only responders have
RESPONDER_ONLY_SHARE = 0.2  # of a responder's cells
PLANTED = {  # population -> (gene set whose members carry the effect, log2 FC)
    "stromal": ("MSC_PARACRINE_ANGIOGENIC", 2.0),
    "perivascular": ("MSC_IMMUNOMODULATION", -2.0),
}


@dataclass
class PopulationCohort:
    """Cells (AnnData), the sample sheet (sample, response) and the truth: one row per
    gene with the population whose cells carry its planted responder effect ('' for
    none) and that effect (log2 FC, responder over non_responder)."""

    cells: object
    samples: pd.DataFrame
    truth: pd.DataFrame


def simulate_population_cohort(
    n_per_group: int = 6,
    n_genes: int = 600,
    cells_per_donor: tuple[int, int] = (150, 250),
    n_random_de: int = 20,
    donor_sd: float = 0.25,
    seed: int = 24,
) -> PopulationCohort:
    """Single cells of `n_per_group` responder and non-responder donors from three
    populations, with a population-specific response effect and a composition shift.

    The truth:

    - populations `stromal` and `perivascular` are in every donor (shares about 0.6
      and 0.4 of a non-responder's cells, Dirichlet-scattered per donor);
    - `immunoregulatory` cells are in responders only (about 0.2 of their cells,
      taken from the other two): the composition shift, and a population that
      cannot be compared between the groups (no non-responder has its cells);
    - in `stromal` cells, the members of MSC_PARACRINE_ANGIOGENIC (msc_biology.gmt)
      and `n_random_de` other genes are 4-fold higher in responders (log2 FC 2); in
      `perivascular` cells, the members of MSC_IMMUNOMODULATION and `n_random_de`
      others are 4-fold lower (log2 FC -2). Each effect is absent from the other
      population, so it is found in its own population only;
    - each population has 15 genes of its own (8-fold higher than elsewhere), so
      populations differ as cell types do; donors differ by a log-normal factor
      per gene and population (sd `donor_sd`, natural log), the variation DESeq2
      estimates across donors; cells differ in size (log-normal, sd 0.3) and their
      counts are Poisson around those means.

    Gene IDs are human Ensembl IDs with symbols in `var['symbol']`; raw counts are
    in `layers['counts']` (CSR) and X holds log1p of counts per 10,000.
    """
    import anndata as ad

    from msc_response.example.biology import load_human_genes, msc_biology_genes, read_gmt
    from msc_response.example.biology import GENE_SETS_DIR

    rng = np.random.default_rng(seed)
    human = load_human_genes().drop_duplicates("symbol").set_index("symbol")
    sets = read_gmt(GENE_SETS_DIR / "msc_biology.gmt")
    curated = [g for g in msc_biology_genes() if g in human.index]
    others = human.index.difference(curated).to_numpy()
    symbols = curated + list(rng.choice(others, n_genes - len(curated), replace=False))
    gene_ids = human.loc[symbols, "gene_id"].to_numpy()
    populations = [*POPULATION_SHARES, RESPONDER_ONLY]
    n = len(symbols)
    # per-cell mean counts (total ~1,500 per cell) and population identity genes
    base = np.exp(rng.normal(0, 1.4, n))
    base *= 1500 / base.sum()
    log_mean = np.tile(np.log(base), (len(populations), 1))
    free = [i for i, s in enumerate(symbols) if s not in curated]
    own = rng.choice(free, 15 * len(populations), replace=False).reshape(len(populations), 15)
    for p, genes in enumerate(own):
        log_mean[p, genes] += np.log(8)
    effect = np.zeros((len(populations), n))
    truth_population = np.array([""] * n, dtype=object)
    taken = set(own.ravel())
    for population, (gene_set, lfc) in PLANTED.items():
        p = populations.index(population)
        members = [symbols.index(g) for g in sets[gene_set] if g in symbols]
        pool = [i for i in free if i not in taken]
        extra = list(rng.choice(pool, n_random_de, replace=False))
        genes = [g for g in members + extra if not truth_population[g]]
        taken.update(genes)
        effect[p, genes] = lfc
        truth_population[genes] = population
    samples = pd.DataFrame(
        {
            "sample": [f"D{i + 1:02d}" for i in range(2 * n_per_group)],
            "response": ["responder", "non_responder"] * n_per_group,
        }
    )
    blocks, obs = [], []
    for donor, response in samples.itertuples(index=False):
        responder = response == "responder"
        mean_shares = np.array([*POPULATION_SHARES.values(), 0.0])
        if responder:
            mean_shares = mean_shares * (1 - RESPONDER_ONLY_SHARE)
            mean_shares[-1] = RESPONDER_ONLY_SHARE
        present = mean_shares > 0
        shares = np.zeros(len(populations))
        shares[present] = rng.dirichlet(40 * mean_shares[present])
        n_cells = int(rng.integers(cells_per_donor[0], cells_per_donor[1] + 1))
        labels = rng.choice(len(populations), size=n_cells, p=shares)
        donor_factor = rng.normal(0, donor_sd, (len(populations), n))
        means = np.exp(log_mean + donor_factor + responder * effect * np.log(2))
        sizes = np.exp(rng.normal(0, 0.3, n_cells))
        blocks.append(rng.poisson(means[labels] * sizes[:, None]).astype(np.int32))
        obs += [(donor, populations[p]) for p in labels]
    raw = sp.csr_matrix(np.vstack(blocks))
    totals = np.asarray(raw.sum(axis=1)).ravel()
    lognorm = (sp.diags(1e4 / np.maximum(totals, 1)) @ raw.astype(np.float32)).tocsr()
    lognorm.data = np.log1p(lognorm.data).astype(np.float32)
    obs = pd.DataFrame(obs, columns=["donor", "cell_type"],
                       index=[f"cell{i:06d}" for i in range(len(obs))])
    obs["donor"] = pd.Categorical(obs["donor"], categories=list(samples["sample"]))
    obs["cell_type"] = pd.Categorical(obs["cell_type"], categories=populations)
    var = pd.DataFrame({"symbol": symbols}, index=pd.Index(gene_ids))
    cells = ad.AnnData(X=lognorm, obs=obs, var=var)
    cells.layers["counts"] = raw
    truth = pd.DataFrame(
        {
            "gene_id": gene_ids,
            "symbol": symbols,
            "population": truth_population,
            "log2FoldChange": [effect[populations.index(p), i] if p else 0.0
                               for i, p in enumerate(truth_population)],
        }
    )
    return PopulationCohort(cells=cells, samples=samples, truth=truth)
