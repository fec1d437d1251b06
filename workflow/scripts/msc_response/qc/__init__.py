"""QC and normalisation: DESeq2 size factors, normalised counts and the VST of rule
normalise (`normalisation`, writes results/dataset.h5ad and results/counts/), and
the per-sample metrics, outlier flags, PCA and sample distances of rule sample_qc
(`samples`, with its figures in `figures`).
"""
