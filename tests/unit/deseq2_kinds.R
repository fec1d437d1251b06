#!/usr/bin/env Rscript
# R DESeq2's answers for the contrast kinds beyond two levels (tests/unit/test_de_kinds_r.py).
# Usage: Rscript deseq2_kinds.R <workdir>...; each <workdir> (one R process for all,
# since loading DESeq2 costs ~12 s) holds counts.tsv (genes x samples),
# coldata.tsv (sample, variables), levels.tsv (variable, level: factors and their level
# order, first = reference; other variables are numeric) and params.tsv (key, value:
# design, mode = lrt | name | list, reduced, name, terms = comma-separated names).
# Writes results.tsv (gene_id, baseMean, log2FoldChange, lfcSE, stat, pvalue, padj) and
# names.tsv (resultsNames).
args <- commandArgs(trailingOnly = TRUE)
suppressPackageStartupMessages(library(DESeq2))
for (wd in args) {
kv <- read.delim(file.path(wd, "params.tsv"), header = FALSE, colClasses = "character")
params <- setNames(as.list(kv[[2]]), kv[[1]])
counts <- as.matrix(read.delim(file.path(wd, "counts.tsv"), row.names = 1, check.names = FALSE))
storage.mode(counts) <- "integer"
coldata <- read.delim(file.path(wd, "coldata.tsv"), colClasses = "character",
                      row.names = 1, check.names = FALSE)
levels_tab <- read.delim(file.path(wd, "levels.tsv"), colClasses = "character")
for (v in colnames(coldata)) {
  if (v %in% levels_tab$variable) {
    coldata[[v]] <- factor(coldata[[v]], levels = levels_tab$level[levels_tab$variable == v])
  } else {
    coldata[[v]] <- as.numeric(coldata[[v]])
  }
}
coldata <- coldata[colnames(counts), , drop = FALSE]
dds <- DESeqDataSetFromMatrix(counts, coldata, design = as.formula(params$design))
# results()'s alpha (default 0.1) also sets the independent-filtering threshold: use
# the workflow's 0.05 (DESettings.alpha), or R filters at another baseMean
alpha <- 0.05
if (params$mode == "lrt") {
  dds <- DESeq(dds, test = "LRT", reduced = as.formula(params$reduced), quiet = TRUE)
  res <- results(dds, alpha = alpha)
} else {
  dds <- DESeq(dds, quiet = TRUE)
  if (params$mode == "name") {
    res <- results(dds, name = params$name, alpha = alpha)
  } else {
    res <- results(dds, contrast = list(strsplit(params$terms, ",")[[1]]), alpha = alpha)
  }
}
out <- data.frame(gene_id = rownames(res), baseMean = res$baseMean,
                  log2FoldChange = res$log2FoldChange, lfcSE = res$lfcSE,
                  stat = res$stat, pvalue = res$pvalue, padj = res$padj)
write.table(out, file.path(wd, "results.tsv"), sep = "\t", quote = FALSE,
            row.names = FALSE, na = "NA")
writeLines(resultsNames(dds), file.path(wd, "names.tsv"))
write.table(data.frame(gene_id = rownames(dds), dispersion = dispersions(dds)),
            file.path(wd, "dispersions.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)
}
