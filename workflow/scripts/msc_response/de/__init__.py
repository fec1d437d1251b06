"""Differential expression with PyDESeq2, held to R DESeq2's answers.

- `fit`: one fit per design (rule deseq2_fit), written to results/de/fit.* for the
  contrast jobs; `results`: one contrast's Wald test, Cook's filter, independent
  filtering and LFC shrinkage (rule deseq2_contrast); `kinds`: the other contrast
  kinds (within a level, per unit of a continuous variable, LRT) and `lrt`: the
  likelihood-ratio test (reduced fits in rule deseq2_fit, the test per contrast).
- `engines`: which inference engine and dataset class the config chooses;
  `engine/`: this project's gene-vectorised engine (FastInference).
- `r_compat`, `r_filter`: R DESeq2's behaviour where PyDESeq2 0.5.4 departs from it
  (dispersion prior variance for few residual df, independent filtering).
- `r_reference`: R DESeq2 itself through Rscript, and `crosscheck`: the agreement
  between the two (optional rule crosscheck_r; the R agreement tests).
- `figures`: MA and volcano plots (rule de_plots).
"""
