"""tximport's average transcript lengths as DESeq2 normalisation factors.

R's `DESeqDataSetFromTximport` keeps each sample's average transcript length per gene
(assay `avgTxLength`); `estimateSizeFactors` then turns it into a genes x samples
matrix of normalisation factors (`estimateNormFactors`):

1. the lengths divided by their per-gene geometric mean (the normMatrix);
2. size factors by the median-of-ratios on counts / normMatrix;
3. nf = normMatrix * size factor, each gene's row divided by its geometric mean.

Every later step uses nf where it would use the size factor: means are
nf * exp(X beta), normalised counts are counts / nf. Here matrices are samples x
genes (PyDESeq2's orientation). Plain numpy: the contrast jobs import it cheaply.
"""

from __future__ import annotations

import numpy as np

#: raw.h5ad / dataset.h5ad layer with tximport's average transcript lengths
LENGTH_LAYER = "avg_tx_length"
#: fit.h5ad / dataset.h5ad layer with the normalisation factors
NF_LAYER = "norm_factors"


def _per_gene_geomean(matrix: np.ndarray) -> np.ndarray:
    return np.exp(np.log(matrix).mean(axis=0))


def norm_matrix(lengths: np.ndarray) -> np.ndarray:
    """Lengths (samples x genes, all > 0) divided by each gene's geometric mean."""
    lengths = np.asarray(lengths, dtype=float)
    return lengths / _per_gene_geomean(lengths)


def ratio_size_factors(values: np.ndarray) -> np.ndarray:
    """R's `estimateSizeFactorsForMatrix` (type ratio) on a samples x genes matrix of
    possibly non-integer values; not rescaled (R rescales only given geoMeans)."""
    with np.errstate(divide="ignore"):
        logs = np.log(values)
    log_geomeans = logs.mean(axis=0)
    usable = np.isfinite(log_geomeans)
    if not usable.any():
        raise ValueError("every gene has a zero count: no median-of-ratios size factors")
    sf = np.empty(values.shape[0])
    for i, row in enumerate(logs):
        use = usable & (values[i] > 0)
        sf[i] = np.exp(np.median(row[use] - log_geomeans[use]))
    return sf


def from_size_factors(matrix: np.ndarray, size_factors: np.ndarray) -> np.ndarray:
    """nf = normMatrix * size factor, rescaled to a geometric mean of 1 per gene."""
    nf = np.asarray(matrix, dtype=float) * np.asarray(size_factors, dtype=float)[:, None]
    return nf / _per_gene_geomean(nf)


def norm_factors(counts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """R's estimateSizeFactors on a tximport data set: (nf, size factors), nf samples x
    genes; the size factors (those of counts / normMatrix) rescaled to a geometric
    mean of 1 for the tables (nf does not depend on their scale)."""
    matrix = norm_matrix(lengths)
    sf = ratio_size_factors(np.asarray(counts, dtype=float) / matrix)
    return from_size_factors(matrix, sf), sf / np.exp(np.log(sf).mean())


def scale(size_factors: np.ndarray, nf: np.ndarray | None = None) -> np.ndarray:
    """What multiplies exp(X beta) in the means, samples x genes (or x 1): nf when
    given, else the size factors as a column."""
    if nf is not None:
        return np.asarray(nf, dtype=float)
    return np.asarray(size_factors, dtype=float)[:, None]


def check_lengths(lengths: np.ndarray, source: str) -> None:
    """Lengths must be finite and positive (R's DESeqDataSetFromTximport stops too)."""
    lengths = np.asarray(lengths, dtype=float)
    bad = ~np.isfinite(lengths) | (lengths <= 0)
    if bad.any():
        from msc_response.common.errors import InputError

        raise InputError(
            f"{int(bad.sum())} average transcript length(s) of {source} are zero, negative "
            f"or missing: tximport's offsets need positive lengths. Use "
            f"counts_from_abundance: length_scaled_tpm for these files."
        )
