#!/usr/bin/env Rscript
# Reference run of R DESeq2 (DESeq() + results()) on files written by r_reference.py.
#
# Usage: Rscript deseq2_reference.R <workdir>
# <workdir> holds:
#   counts.tsv    genes x samples, header "gene_id<TAB>sample1...", integer counts
#   coldata.tsv   samples x variables, header "sample<TAB>var1...", one row per sample
#   levels.tsv    "variable<TAB>level" rows: factor variables and their level order
#                 (first level = reference); variables not listed are numeric
#   params.tsv    "key<TAB>value": design, contrast_variable, contrast_test,
#                 contrast_reference, alpha, cooks_filter, independent_filter
# and receives results.tsv, size_factors.tsv, dispersions.tsv, timing.tsv.

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1) stop("usage: Rscript deseq2_reference.R <workdir>")
wd <- args[[1]]

suppressPackageStartupMessages(library(DESeq2))

read_kv <- function(path) {
  kv <- read.delim(path, header = FALSE, sep = "\t", quote = "",
                   colClasses = "character", col.names = c("key", "value"))
  setNames(as.list(kv$value), kv$key)
}
params <- read_kv(file.path(wd, "params.tsv"))

# counts: fast scan of a numeric TSV
counts_path <- file.path(wd, "counts.tsv")
header <- scan(counts_path, what = "", nlines = 1, sep = "\t", quiet = TRUE)
samples <- header[-1]
cols <- scan(counts_path, what = c(list(""), rep(list(0), length(samples))),
             skip = 1, sep = "\t", quiet = TRUE)
counts <- do.call(cbind, cols[-1])
storage.mode(counts) <- "integer"
dimnames(counts) <- list(cols[[1]], samples)

coldata <- read.delim(file.path(wd, "coldata.tsv"), sep = "\t", quote = "",
                      colClasses = "character", check.names = FALSE)
rownames(coldata) <- coldata[[1]]
coldata <- coldata[, -1, drop = FALSE]
levels_tab <- read.delim(file.path(wd, "levels.tsv"), sep = "\t", quote = "",
                         colClasses = "character")
for (v in colnames(coldata)) {
  if (v %in% levels_tab$variable) {
    coldata[[v]] <- factor(coldata[[v]], levels = levels_tab$level[levels_tab$variable == v])
  } else {
    coldata[[v]] <- as.numeric(coldata[[v]])
  }
}
coldata <- coldata[samples, , drop = FALSE]

dds <- DESeqDataSetFromMatrix(countData = counts, colData = coldata,
                              design = as.formula(params$design))
t0 <- proc.time()[["elapsed"]]
dds <- DESeq(dds, quiet = TRUE)
res <- results(dds,
               contrast = c(params$contrast_variable, params$contrast_test,
                            params$contrast_reference),
               alpha = as.numeric(params$alpha),
               cooksCutoff = as.logical(params$cooks_filter),
               independentFiltering = as.logical(params$independent_filter))
compute_seconds <- proc.time()[["elapsed"]] - t0

out <- data.frame(gene_id = rownames(res), baseMean = res$baseMean,
                  log2FoldChange = res$log2FoldChange, lfcSE = res$lfcSE,
                  stat = res$stat, pvalue = res$pvalue, padj = res$padj,
                  check.names = FALSE)
write.table(out, file.path(wd, "results.tsv"), sep = "\t", quote = FALSE,
            row.names = FALSE, na = "NA")
write.table(data.frame(sample = colnames(dds), size_factor = sizeFactors(dds)),
            file.path(wd, "size_factors.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)
write.table(data.frame(gene_id = rownames(dds), dispersion = dispersions(dds)),
            file.path(wd, "dispersions.tsv"), sep = "\t", quote = FALSE,
            row.names = FALSE, na = "NA")
write.table(data.frame(key = c("compute_seconds", "filter_threshold"),
                       value = c(compute_seconds,
                                 if (is.null(metadata(res)$filterThreshold)) NA
                                 else unname(metadata(res)$filterThreshold))),
            file.path(wd, "timing.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)
