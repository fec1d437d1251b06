#!/usr/bin/env Rscript
# What a lab would run by hand on the workflow's inputs, for benchmarks/bench_scale.py:
# DESeq() + results() for one contrast, vst(), and the results, normalised counts and
# VST written as gzipped tables.
#
# With the 8th argument `de-only` (for benchmarks/bench_de_process.py): no pre-filter,
# DESeq() + results() alone, only results.tsv.gz written.
#
# Usage: Rscript lab_deseq2.R <counts.tsv.gz> <samples.tsv> <design> \
#            <variable> <test> <reference> <outdir> [de-only]

args <- commandArgs(trailingOnly = TRUE)
if (!(length(args) == 7 || (length(args) == 8 && args[[8]] == "de-only"))) {
  stop("usage: Rscript lab_deseq2.R counts samples design variable test reference outdir [de-only]")
}
de_only <- length(args) == 8
suppressPackageStartupMessages(library(DESeq2))

counts <- as.matrix(read.delim(args[[1]], row.names = 1, check.names = FALSE))
samples <- read.delim(args[[2]], row.names = 1, check.names = FALSE,
                      stringsAsFactors = TRUE)
samples <- samples[colnames(counts), , drop = FALSE]
variable <- args[[4]]
samples[[variable]] <- relevel(samples[[variable]], ref = args[[6]])

all_genes <- DESeqDataSetFromMatrix(counts, samples, design = as.formula(args[[3]]))
# the DESeq2 vignette's pre-filter, then the model
keep <- de_only | rowSums(counts(all_genes) >= 10) >= min(table(samples[[variable]]))
dds <- DESeq(all_genes[keep, ], quiet = de_only)
res <- results(dds, contrast = c(variable, args[[5]], args[[6]]))

out <- args[[7]]
dir.create(out, showWarnings = FALSE, recursive = TRUE)
write_gz <- function(x, name) {
  handle <- gzfile(file.path(out, name), "w")
  write.table(x, handle, sep = "\t", quote = FALSE, col.names = NA)
  close(handle)
}
write_gz(as.data.frame(res), "results.tsv.gz")
if (!de_only) {
  # normalised counts and VST of every gene, as the workflow's tables
  all_genes <- estimateSizeFactors(all_genes)
  vsd <- vst(all_genes, blind = TRUE)
  write_gz(counts(all_genes, normalized = TRUE), "normalised_counts.tsv.gz")
  write_gz(assay(vsd), "vst.tsv.gz")
}
