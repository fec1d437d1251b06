#!/usr/bin/env Rscript
# The plain alternative to the workflow's DE stage, for benchmarks/bench_de_process.py:
# read the counts and the sample sheet, DESeq() and results() for one contrast, write
# the table. No pre-filter (the workflow's run is configured the same way).
#
# Usage: Rscript de_process.R <counts.tsv.gz> <samples.tsv> <design> \
#            <variable> <test> <reference> <out.tsv>

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 7) {
  stop("usage: Rscript de_process.R counts samples design variable test reference out")
}
suppressPackageStartupMessages(library(DESeq2))

counts <- as.matrix(read.delim(args[[1]], row.names = 1, check.names = FALSE))
samples <- read.delim(args[[2]], row.names = 1, check.names = FALSE,
                      stringsAsFactors = TRUE)
samples <- samples[colnames(counts), , drop = FALSE]
variable <- args[[4]]
samples[[variable]] <- relevel(samples[[variable]], ref = args[[6]])

dds <- DESeqDataSetFromMatrix(counts, samples, design = as.formula(args[[3]]))
dds <- DESeq(dds, quiet = TRUE)
res <- results(dds, contrast = c(variable, args[[5]], args[[6]]))
write.table(as.data.frame(res), args[[7]], sep = "\t", quote = FALSE, col.names = NA)
