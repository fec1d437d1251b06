"""tximport's offsets (quantifications.counts_from_abundance "no") against R: simulated
salmon, kallisto and RSEM files with isoform switches between the groups, through R's
tximport + DESeqDataSetFromTximport + DESeq() + results() and through the workflow's
reader and DE fit. Also R's own run without the offsets, to show that they matter
here (so that the agreement figures can fail)."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from msc_response.de import offsets
from msc_response.de.crosscheck import jaccard
from msc_response.de.fit import DESettings, prefilter_mask
from msc_response.de.results import fit_and_test, shrink_lfc, wald_results
from msc_response.inputs import quant_settings, quantifications
from tests import simulated_quantifications as sim

N_PER_GROUP = 4
CONTRAST = ["group", "treated", "control"]

R_SCRIPT = """
suppressMessages({library(tximport); library(DESeq2)})
args <- commandArgs(TRUE)
root <- args[1]; tool <- args[2]; min_samples <- as.integer(args[3])
tx2gene <- read.delim(file.path(root, "tx2gene.tsv"))[, 1:2]
fname <- c(salmon = "quant.sf", kallisto = "abundance.tsv", rsem = "sample.isoforms.results",
           rsem_genes = "sample.genes.results")[tool]
files <- sort(Sys.glob(file.path(root, tool, "*", fname)))
names(files) <- basename(dirname(files))
txi <- if (tool == "rsem") {
  tximport(files, type = "rsem", txIn = TRUE, txOut = FALSE, tx2gene = tx2gene)
} else if (tool == "rsem_genes") {
  tximport(files, type = "rsem", txIn = FALSE, txOut = FALSE)
} else tximport(files, type = tool, tx2gene = tx2gene)
samples <- read.delim(file.path(root, "samples.tsv"), row.names = 1)[names(files), , drop = FALSE]
samples$group <- factor(samples$group, levels = c("control", "treated"))
out <- function(x, what) write.table(format(x, digits = 17),
  file.path(root, paste0("R_", tool, "_", what, ".tsv")), sep = "\\t", quote = FALSE)
out(txi$counts, "counts"); out(txi$length, "length")
fit <- function(dds) {
  keep <- rowSums(counts(dds) >= 10) >= min_samples
  dds <- DESeq(dds[keep, ], quiet = TRUE)
  list(dds = dds, res = results(dds, contrast = c("group", "treated", "control"), alpha = 0.05))
}
with <- suppressMessages(fit(DESeqDataSetFromTximport(txi, samples, ~ group)))
out(as.data.frame(with$res), "results"); out(normalizationFactors(with$dds), "nf")
without <- suppressMessages(fit(DESeqDataSetFromMatrix(round(txi$counts), samples, ~ group)))
out(as.data.frame(without$res), "results_no_offsets")
all <- suppressMessages(estimateSizeFactors(DESeqDataSetFromTximport(txi, samples, ~ group)))
out(counts(all, normalized = TRUE), "normalised")
# vst() as rule normalise: with fewer than nsub genes of mean > 5, all genes (R's advice)
big <- sum(rowMeans(counts(all, normalized = TRUE)) > 5) >= 1000
out(assay(if (big) vst(all, blind = TRUE) else varianceStabilizingTransformation(all, blind = TRUE)), "vst")
"""


TOOLS = (*sim.TOOLS, "rsem_genes")  # the last: RSEM's .genes.results
FILE_NAMES = {**sim.FILE_NAMES, "rsem_genes": "sample.genes.results"}


def write_quants(root, q, tools=TOOLS):
    for tool in tools:
        if tool == "rsem_genes":
            sim.write_rsem_genes(q, root / tool)
        else:
            sim.write(q, tool, root / tool)
    sheet = q.samples.copy()
    for tool in tools:
        sheet[tool] = [str(root / tool / s / FILE_NAMES[tool]) for s in sheet["sample"]]
    sheet.to_csv(root / "samples.tsv", sep="\t", index=False)
    sim.write_tx2gene(q, root / "tx2gene.tsv")
    return root


@pytest.fixture(scope="module")
def quants(tmp_path_factory):
    q = sim.simulate(n_genes=1200, n_per_group=N_PER_GROUP, change_share=0.15, seed=7)
    return write_quants(tmp_path_factory.mktemp("offsets"), q)


def r_tables(root, tool, min_samples=N_PER_GROUP) -> dict[str, pd.DataFrame]:
    if shutil.which("Rscript") is None or subprocess.run(
        ["Rscript", "-e", "suppressMessages(library(tximport))"], capture_output=True
    ).returncode:
        pytest.skip("R tximport not found: apt-get install -y r-bioc-tximport")
    run = subprocess.run(["Rscript", "-e", R_SCRIPT, str(root), tool, str(min_samples)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    names = ["counts", "length", "results", "nf", "results_no_offsets", "normalised", "vst"]
    return {n: pd.read_csv(root / f"R_{tool}_{n}.tsv", sep="\t", index_col=0) for n in names}


def ours(root, tool, min_samples=N_PER_GROUP):
    """The workflow's reader and DE fit, as rules check_inputs and deseq2_fit run them."""
    sheet = pd.read_csv(root / "samples.tsv", sep="\t", dtype=str)
    block = {"tool": tool.split("_")[0], "column": tool, "counts_from_abundance": False}
    if tool != "rsem_genes":  # RSEM's gene results need no tx2gene
        block["tx2gene"] = str(root / "tx2gene.tsv")
    spec = quant_settings.check_settings(block)
    genes = quantifications.gene_counts(sheet, spec, str(root / "samples.tsv"), [])
    assert genes.offsets
    counts = quantifications.round_counts(genes.counts).T
    keep = prefilter_mask(counts, 10, min_samples)
    metadata = sheet.set_index("sample")[["group"]].astype("category")
    table, dds, model = fit_and_test(
        counts.loc[:, keep], metadata, "~ group", CONTRAST, DESettings(),
        lengths=genes.lengths.T.to_numpy()[:, keep],
    )
    return genes, table, model, dds


@pytest.fixture(scope="module", params=[pytest.param(t, marks=pytest.mark.needs_r) for t in TOOLS])
def both(request, quants):
    tool = request.param
    return tool, r_tables(quants, tool), *ours(quants, tool)


def calls(table) -> set:
    return set(table.index[table["padj"] < 0.05])


def test_gene_counts_and_lengths_equal_r(both):
    tool, r, genes, _, _, _ = both
    for what, mine in (("counts", genes.counts), ("length", genes.lengths)):
        theirs = r[what].loc[mine.index, mine.columns]
        np.testing.assert_allclose(mine.to_numpy(), theirs.to_numpy(), rtol=1e-6, atol=0,
                                   err_msg=f"{tool} {what}")


def test_normalisation_factors_equal_r(both):
    tool, r, _, _, model, _ = both
    theirs = r["nf"].loc[model.lfc.index, model.size_factors.index].to_numpy().T
    np.testing.assert_allclose(model.norm_factors, theirs, rtol=1e-10, err_msg=tool)


def test_log2fc_pearson_and_calls_match_r(both):
    tool, r, _, table, _, _ = both
    theirs = r["results"].loc[table.index]
    ok = table["log2FoldChange"].notna() & theirs["log2FoldChange"].notna()
    rho = np.corrcoef(table["log2FoldChange"][ok], theirs["log2FoldChange"][ok])[0, 1]
    j = jaccard(calls(table), calls(theirs))
    print(f"{tool}: log2FC Pearson {rho:.10f}; padj < 0.05: {len(calls(table))} ours, "
          f"{len(calls(theirs))} R, Jaccard {j:.4f}")
    assert rho >= 0.9999, f"{tool}: log2FC Pearson {rho:.6f}"
    assert j >= 0.99, f"{tool}: Jaccard {j:.4f}"


def test_normalised_counts_and_vst_equal_r(both):
    """Rule normalise (QC, markers and the report read its layers) on the checked
    carrier: R's counts(dds, normalized = TRUE) and blind VST of the tximport data set."""
    import anndata as ad

    from msc_response.de.engines import dataset_class, make_inference
    from msc_response.qc.normalisation import normalise

    tool, r, genes, _, _, _ = both
    counts = quantifications.round_counts(genes.counts)
    adata = ad.AnnData(X=counts.to_numpy().T.copy(), obs=pd.DataFrame(index=counts.columns),
                       var=pd.DataFrame(index=counts.index))
    adata.layers["counts"] = adata.X.copy()
    plain = normalise(adata, inference=make_inference("fast"), dataset_cls=dataset_class("r"))
    adata.layers[offsets.LENGTH_LAYER] = genes.lengths.to_numpy().T
    out = normalise(adata, inference=make_inference("fast"), dataset_cls=dataset_class("r"))
    normalised, vst = (r[n].loc[counts.index, counts.columns].to_numpy().T for n in ("normalised", "vst"))
    np.testing.assert_allclose(out.layers["normalised"], normalised, rtol=1e-10, err_msg=tool)
    # the VST's dispersion trend comes from the engine's dispersions (R's to ~1e-4):
    # without offsets the VST is R's to 0.0064 (log2) on these data, with them 0.0034
    assert np.abs(out.layers["vst"] - vst).max() < 0.01
    assert np.abs(plain.layers["vst"] - vst).max() > 0.1  # the offsets matter here


def test_offsets_move_r_calls(both):
    """Dropping the offsets moves R's own calls well beyond the agreement bound, so
    a workflow that ignored them would fail the test above."""
    tool, r, _, table, _, _ = both
    j = jaccard(calls(r["results"]), calls(r["results_no_offsets"]))
    mine = jaccard(calls(table), calls(r["results_no_offsets"]))
    print(f"{tool}: R with vs without offsets: Jaccard {j:.4f}; ours vs R without: {mine:.4f}")
    assert j < 0.95 and mine < 0.95, f"{tool}: {j:.4f}, {mine:.4f}"


@pytest.mark.needs_r
def test_cooks_refit_with_offsets_matches_r(tmp_path):
    """7 samples per group and planted outliers: R's DESeq() replaces the outlier
    counts (trimmed mean of counts / nf, times nf) and refits those genes with
    their normalisation factors; so does the workflow's fit."""
    q = sim.simulate(n_genes=400, n_per_group=7, change_share=0.15, seed=11)
    rng = np.random.default_rng(11)
    for row in rng.choice(len(q.counts), 12, replace=False):
        q.counts.iloc[row, int(rng.integers(q.counts.shape[1]))] *= 25
    root = write_quants(tmp_path, q, tools=("salmon",))
    r = r_tables(root, "salmon", min_samples=7)
    _, table, _, dds = ours(root, "salmon", min_samples=7)
    refitted = dds.var_names[dds.var["refitted"].to_numpy(dtype=bool)]
    assert len(refitted) >= 5
    theirs = r["results"].loc[table.index]
    np.testing.assert_allclose(table.loc[refitted, "log2FoldChange"],
                               theirs.loc[refitted, "log2FoldChange"], atol=2e-3)
    ok = table["log2FoldChange"].notna() & theirs["log2FoldChange"].notna()
    rho = np.corrcoef(table["log2FoldChange"][ok], theirs["log2FoldChange"][ok])[0, 1]
    j = jaccard(calls(table), calls(theirs))
    print(f"Cook's refit: log2FC Pearson {rho:.10f}, Jaccard {j:.4f}")
    assert rho >= 0.9999 and j >= 0.99


def test_norm_factors_are_r_formula():
    """estimateNormFactors by hand on a tiny matrix: per-gene geometric means of 1,
    nf / normMatrix constant within a sample."""
    rng = np.random.default_rng(3)
    counts = rng.poisson(50, size=(5, 40)).astype(float) + 1
    lengths = rng.uniform(500, 3000, size=(5, 40))
    nf, sf = offsets.norm_factors(counts, lengths)
    np.testing.assert_allclose(np.exp(np.log(nf).mean(axis=0)), 1.0, rtol=1e-12)
    ratio = nf / offsets.norm_matrix(lengths)
    np.testing.assert_allclose(ratio / ratio[:, :1], 1.0, rtol=1e-12)
    np.testing.assert_allclose(ratio[:, 0] / ratio[0, 0], sf / sf[0], rtol=1e-12)


def _cohort(n_per_group, seed, outliers=0):
    q = sim.simulate(n_genes=300, n_per_group=n_per_group, change_share=0.15, seed=seed)
    gene_of = q.transcripts.set_index("transcript_id")["gene_id"]
    counts = np.rint(q.counts.groupby(gene_of).sum()).T  # samples x genes
    # tximport's average transcript length: effective lengths weighted by abundance
    rate = q.counts / q.effective_length
    lengths = ((rate * q.effective_length).groupby(gene_of).sum()
               / rate.groupby(gene_of).sum().replace(0, np.nan)).T.loc[counts.index, counts.columns]
    lengths = lengths.fillna(q.effective_length.groupby(gene_of).mean().T)
    rng = np.random.default_rng(seed)
    for gene in rng.choice(counts.shape[1], outliers, replace=False):
        counts.iloc[0, gene] = counts.iloc[:, gene].max() * 20 + 100  # a Cook's outlier
    keep = prefilter_mask(counts, 10, n_per_group)
    metadata = q.samples.set_index("sample")[["group"]].astype("category")
    return counts.loc[:, keep].astype(np.int64), lengths.loc[:, keep].to_numpy(), metadata


def test_equal_lengths_give_the_fit_without_offsets():
    """Lengths that do not vary between samples make every gene's factors the size
    factors: the whole fit, Wald test and shrinkage then match the fit without
    offsets (the offset paths are the size-factor paths with a matrix)."""
    counts, lengths, metadata = _cohort(4, seed=5)
    equal = np.broadcast_to(lengths[:1], lengths.shape)
    with_nf, _, model = fit_and_test(counts, metadata, "~ group", CONTRAST, DESettings(), lengths=equal)
    plain, _, plain_model = fit_and_test(counts, metadata, "~ group", CONTRAST, DESettings())
    assert model.norm_factors is not None and plain_model.norm_factors is None
    np.testing.assert_allclose(model.norm_factors, model.norm_factors[:, :1] * np.ones_like(equal),
                               rtol=1e-12)
    # the factors have geometric mean 1, PyDESeq2's size factors need not: base means
    # differ by that one constant, the rest only through it (the trend's argument)
    ratio = with_nf["baseMean"] / plain["baseMean"]
    np.testing.assert_allclose(ratio, ratio.iloc[0], rtol=1e-10)
    # Not exactly: R's rough dispersion estimate (the search's start) is not invariant
    # to a constant factor on the normalised counts, and R's search keeps its start
    # where the posterior does not rise (noIncrease): measured 29 of 300 genes with
    # gene-wise dispersions apart, so LFCs up to 3.6e-4 and SEs up to 0.3% apart
    np.testing.assert_allclose(with_nf["log2FoldChange"], plain["log2FoldChange"], atol=1e-3)
    se = np.abs(np.log(with_nf["lfcSE"] / plain["lfcSE"]))
    assert se.median() < 1e-3 and se.max() < 0.02
    disp = np.abs(np.log(model.dispersions / plain_model.dispersions))
    assert np.median(disp) < 1e-3 and disp.max() < 0.05
    shrunk = [shrink_lfc(m, wald_results(m, CONTRAST, DESettings())[1], _fast())[0]
              for m in (model, plain_model)]
    np.testing.assert_allclose(shrunk[0], shrunk[1], atol=1e-3)
    assert set(with_nf.index[with_nf["padj"] < 0.05]) == set(plain.index[plain["padj"] < 0.05])


def _fast():
    from msc_response.de.engines import make_inference

    return make_inference("fast")


def test_lengths_change_the_fit():
    """The same counts with the simulated lengths: the factors vary within samples
    and the LFCs move (the offsets are used, not dropped)."""
    counts, lengths, metadata = _cohort(4, seed=5)
    with_nf, _, model = fit_and_test(counts, metadata, "~ group", CONTRAST, DESettings(), lengths=lengths)
    plain, _, _ = fit_and_test(counts, metadata, "~ group", CONTRAST, DESettings())
    moved = (with_nf["log2FoldChange"] - plain["log2FoldChange"]).abs()
    assert moved.max() > 0.5
    # the shrinkage uses the offsets too: where they move the LFC and the estimate is
    # precise, the shrunken LFC stays with the offsets' MLE
    wald = wald_results(model, CONTRAST, DESettings())[1]
    shrunk = shrink_lfc(model, wald, _fast())[0] / np.log(2)
    sure = (moved > 0.3) & (with_nf["lfcSE"] < 0.3)
    assert sure.sum() >= 5
    to_mle = np.abs(shrunk[sure] - with_nf["log2FoldChange"][sure])
    to_plain = np.abs(shrunk[sure] - plain["log2FoldChange"][sure])
    assert (to_mle < to_plain).all(), (to_mle, to_plain)
