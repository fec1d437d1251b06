"""Transcript quantifications (config `quantifications`): pytximport's gene counts and
lengths against R's tximport on simulated salmon, kallisto and RSEM files, and the
checks that stop a bad file before anything is fitted."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from msc_response.common.errors import InputError
from msc_response.inputs import quant_settings, quantifications
from msc_response.inputs.dataset import InputSpec, load_checked_inputs
from tests import simulated_quantifications as sim

R_MODES = {"scaled_tpm": "scaledTPM", "length_scaled_tpm": "lengthScaledTPM"}


@pytest.fixture(scope="module")
def quants(tmp_path_factory):
    """Simulated quantifications written by each tool, a tx2gene, a sample sheet."""
    root = tmp_path_factory.mktemp("quants")
    q = sim.simulate(n_genes=150, n_per_group=3, seed=4)
    files = {tool: sim.write(q, tool, root / tool) for tool in sim.TOOLS}
    sheet = q.samples.copy()
    for tool in sim.TOOLS:
        sheet[tool] = [str(p.parent) if tool == "salmon" else str(p) for p in files[tool]]
    sheet.to_csv(root / "samples.tsv", sep="\t", index=False)
    sim.write_tx2gene(q, root / "tx2gene.tsv")
    return q, root, files


def spec(root, tool="salmon", mode="length_scaled_tpm", **extra):
    block = {"tool": tool, "column": tool, "tx2gene": str(root / "tx2gene.tsv"),
             "counts_from_abundance": mode, **extra}
    return quant_settings.check_settings(block)


def sheet_of(root):
    return pd.read_csv(root / "samples.tsv", sep="\t", dtype=str)


def gene_level(root, **kwargs):
    warnings = []
    return quantifications.gene_counts(sheet_of(root), spec(root, **kwargs), str(root / "samples.tsv"), warnings), warnings


# ---------------------------------------------------------------- R's tximport

R_SCRIPT = """
suppressMessages(library(tximport))
args <- commandArgs(TRUE)
root <- args[1]
tx2gene <- read.delim(file.path(root, "tx2gene.tsv"))[, 1:2]
for (tool in c("salmon", "kallisto", "rsem")) {
  fname <- c(salmon = "quant.sf", kallisto = "abundance.tsv", rsem = "sample.isoforms.results")[tool]
  files <- sort(Sys.glob(file.path(root, tool, "*", fname)))
  names(files) <- basename(dirname(files))
  for (mode in c("scaledTPM", "lengthScaledTPM")) {
    txi <- if (tool == "rsem") {
      tximport(files, type = "rsem", txIn = TRUE, txOut = FALSE, tx2gene = tx2gene,
               countsFromAbundance = mode)
    } else tximport(files, type = tool, tx2gene = tx2gene, countsFromAbundance = mode)
    for (what in c("counts", "length")) {
      write.table(format(txi[[what]], digits = 17), file.path(root, paste0("R_", tool, "_", mode, "_", what, ".tsv")),
                  sep = "\\t", quote = FALSE)
    }
  }
}
"""


@pytest.fixture(scope="module")
def r_tximport(quants):
    _, root, _ = quants
    if shutil.which("Rscript") is None or subprocess.run(
        ["Rscript", "-e", "suppressMessages(library(tximport))"], capture_output=True
    ).returncode:
        pytest.skip("R tximport not found: apt-get install -y r-bioc-tximport")
    run = subprocess.run(["Rscript", "-e", R_SCRIPT, str(root)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return root


@pytest.mark.needs_r
@pytest.mark.parametrize("tool", sim.TOOLS)
@pytest.mark.parametrize("mode", list(R_MODES))
def test_gene_counts_and_lengths_equal_r_tximport(quants, r_tximport, tool, mode):
    root = r_tximport
    genes, _ = gene_level(root, tool=tool, mode=mode)
    for what, ours in (("counts", genes.counts), ("length", genes.lengths)):
        theirs = pd.read_csv(root / f"R_{tool}_{R_MODES[mode]}_{what}.tsv", sep="\t", index_col=0)
        assert list(ours.index) == list(theirs.index), "the same genes in the same order"
        assert list(ours.columns) == list(theirs.columns)
        np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=1e-6, atol=0)


def test_isoform_switch_changes_gene_counts_not_tpm(quants):
    """A switched gene's reads change with its isoforms' lengths; length_scaled_tpm
    takes that out, so the two modes differ most on switched genes."""
    q, root, _ = quants
    scaled, _ = gene_level(root, mode="scaled_tpm")
    raw = q.counts.groupby(q.transcripts.set_index("transcript_id")["gene_id"]).sum()
    assert raw.shape == scaled.counts.shape
    np.testing.assert_allclose(scaled.counts.sum(axis=0), raw.sum(axis=0), rtol=1e-9)  # library sizes kept
    lengths = scaled.lengths
    treated = q.samples["group"].eq("treated").to_numpy()
    shift = np.log2(lengths.loc[:, treated].mean(axis=1) / lengths.loc[:, ~treated].mean(axis=1)).abs()
    switched = shift.index.isin(q.switched)
    assert shift[switched].median() > 5 * shift[~switched].median()


def test_checked_dataset_from_quantifications(quants):
    q, root, _ = quants
    spec = InputSpec(counts=None, samples=str(root / "samples.tsv"), design="~ group",
                     contrasts={"t": {"variable": "group", "test": "treated", "reference": "control"}},
                     quantifications={"tool": "kallisto", "column": "kallisto",
                                      "tx2gene": str(root / "tx2gene.tsv"),
                                      "counts_from_abundance": "length_scaled_tpm"})
    adata = load_checked_inputs(spec)
    genes, _ = gene_level(root, tool="kallisto")
    # rounded half to even, as R's round()
    np.testing.assert_array_equal(adata.layers["counts"], np.rint(genes.counts.to_numpy().T))
    assert adata.layers["counts"].dtype == np.int64
    assert adata.var["symbol"].iloc[0] == "GENE0"  # tx2gene's third column
    assert list(adata.obs_names) == q.samples["sample"].tolist()
    assert "avg_tx_length" not in adata.layers  # no offsets in the scaled modes


def test_checked_dataset_carries_the_lengths_with_offsets(quants):
    """counts_from_abundance "no": the estimated counts rounded, and tximport's average
    transcript lengths beside them (the DE model's offsets)."""
    _, root, _ = quants
    spec = InputSpec(counts=None, samples=str(root / "samples.tsv"), design="~ group",
                     contrasts={"t": {"variable": "group", "test": "treated", "reference": "control"}},
                     quantifications={"tool": "salmon", "column": "salmon",
                                      "tx2gene": str(root / "tx2gene.tsv")})
    adata = load_checked_inputs(spec)
    genes, _ = gene_level(root, tool="salmon", mode="no")
    np.testing.assert_array_equal(adata.layers["counts"], np.rint(genes.counts.to_numpy().T))
    np.testing.assert_array_equal(adata.layers["avg_tx_length"], genes.lengths.to_numpy().T)


# ---------------------------------------------------------------- settings


@pytest.mark.parametrize("value", ["no", False, None])
def test_offsets_are_the_default_and_a_bare_no_means_them(quants, value):
    """YAML reads a bare `no` as false; a missing key is the default, "no"."""
    _, root, _ = quants
    block = {"tool": "salmon", "column": "salmon", "tx2gene": str(root / "tx2gene.tsv")}
    if value is not None:
        block["counts_from_abundance"] = value
    assert quant_settings.check_settings(block).counts_from_abundance == "no"


@pytest.mark.parametrize("setting, value", [("inference", "default"), ("dispersion_prior", "pydeseq2"),
                                            ("size_factors_fit_type", "poscounts")])
def test_offsets_need_the_engine_that_carries_them(quants, setting, value):
    _, root, _ = quants
    spec = quant_settings.check_settings({"tool": "salmon", "column": "salmon",
                                          "tx2gene": str(root / "tx2gene.tsv")})
    with pytest.raises(InputError, match=rf"needs diffexp.{setting}: .*length_scaled_tpm"):
        quant_settings.check_offsets_settings(spec, {"diffexp": {setting: value}})
    with pytest.raises(InputError, match=r"crosscheck_r.enabled: false"):
        quant_settings.check_offsets_settings(spec, {"crosscheck_r": {"enabled": True}})
    quant_settings.check_offsets_settings(spec, {"diffexp": {"inference": "fast"}})
    scaled = quant_settings.check_settings({"tool": "salmon", "column": "salmon", "tx2gene": str(root / "tx2gene.tsv"),
                                            "counts_from_abundance": "scaled_tpm"})
    quant_settings.check_offsets_settings(scaled, {"diffexp": {setting: value}})


def test_tx2gene_needed_except_for_rsem(quants):
    _, root, _ = quants
    with pytest.raises(InputError, match="tx2gene' is needed for salmon"):
        quant_settings.check_settings({"tool": "salmon", "column": "salmon", "counts_from_abundance": "scaled_tpm"})
    block = {"tool": "rsem", "column": "rsem", "counts_from_abundance": "scaled_tpm"}
    warnings = []
    genes = quantifications.gene_counts(sheet_of(root), quant_settings.check_settings(block),
                                        str(root / "samples.tsv"), warnings)
    with_map, _ = gene_level(root, tool="rsem", mode="scaled_tpm")
    pd.testing.assert_frame_equal(genes.counts, with_map.counts)


# ---------------------------------------------------------------- bad files


def copy_case(quants, tmp_path, tool="salmon"):
    """A private copy of the simulated files and sheet, to break."""
    _, root, _ = quants
    shutil.copytree(root / tool, tmp_path / tool)
    shutil.copy(root / "tx2gene.tsv", tmp_path / "tx2gene.tsv")
    sheet = sheet_of(root)
    sheet[tool] = [str(tmp_path / tool / s / sim.FILE_NAMES[tool]) for s in sheet["sample"]]
    sheet.to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
    return tmp_path / tool / sheet["sample"].iloc[1] / sim.FILE_NAMES[tool]


def test_missing_file(quants, tmp_path):
    second = copy_case(quants, tmp_path)
    second.unlink()
    with pytest.raises(InputError, match=r"row 3 \(sample 'Q02'\): salmon quantification file .* does not exist"):
        quant_settings.quant_paths(sheet_of(tmp_path), spec(tmp_path), str(tmp_path / "samples.tsv"))


def test_file_of_another_tool(quants, tmp_path):
    copy_case(quants, tmp_path)
    sheet = sheet_of(tmp_path)
    sheet["kallisto"] = sheet["salmon"]  # salmon's files, said to be kallisto's
    sheet.to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
    with pytest.raises(InputError, match=r"does not have the columns kallisto writes.*It is a salmon file"):
        gene_level(tmp_path, tool="kallisto")


def test_different_transcript_sets(quants, tmp_path):
    second = copy_case(quants, tmp_path)
    table = pd.read_csv(second, sep="\t")
    table.iloc[:-3].to_csv(second, sep="\t", index=False)
    with pytest.raises(InputError, match=r"hold different transcripts \(3 of the first missing"):
        gene_level(tmp_path)


@pytest.mark.parametrize("value, shown", [("-4.2", "'-4.2'"), ("NaN", "'nan'"), ("many", "'many'")])
def test_bad_values(quants, tmp_path, value, shown):
    second = copy_case(quants, tmp_path)
    lines = second.read_text().splitlines()
    fields = lines[5].split("\t")
    fields[4] = value
    lines[5] = "\t".join(fields)
    second.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=rf"Q02/quant.sf' \(sample 'Q02'\), line 6, transcript .*NumReads {shown} is not a non-negative number"):
        gene_level(tmp_path)


def test_transcripts_missing_from_tx2gene(quants, tmp_path):
    copy_case(quants, tmp_path)
    tx2gene = pd.read_csv(tmp_path / "tx2gene.tsv", sep="\t")
    tx2gene.iloc[2:].to_csv(tmp_path / "tx2gene.tsv", sep="\t", index=False)
    genes, warnings = gene_level(tmp_path)
    assert len(warnings) == 1 and "2 of " in warnings[0] and "left out, as tximport does" in warnings[0]
    tx2gene.iloc[40:].to_csv(tmp_path / "tx2gene.tsv", sep="\t", index=False)
    with pytest.raises(InputError, match=r"40 of .* transcripts .* are not in tx2gene .*more than quantifications.max_missing_share 0.05"):
        gene_level(tmp_path)


def test_versions_matched_and_said(quants, tmp_path):
    copy_case(quants, tmp_path)
    q, root, _ = quants
    sim.write_tx2gene(q, tmp_path / "tx2gene.tsv", versions=False)
    bare, warnings = gene_level(tmp_path)
    assert len(warnings) == 1 and "differ in their version suffixes: matched without versions" in warnings[0]
    versioned, _ = gene_level(root)
    np.testing.assert_allclose(bare.counts.to_numpy(), versioned.counts.to_numpy(), rtol=1e-12)
    assert bare.counts.index[0] == "ENSG00000000000"  # the tx2gene's own gene IDs


def test_tx2gene_from_gtf(quants, tmp_path):
    q, root, _ = quants
    copy_case(quants, tmp_path)
    lines = [
        f'chr1\tsim\ttranscript\t1\t100\t.\t+\t.\tgene_id "{g}"; transcript_id "{t}"; gene_name "{s}";'
        for t, g, s in q.transcripts[["transcript_id", "gene_id", "symbol"]].itertuples(index=False)
    ]
    (tmp_path / "tx2gene.tsv").unlink()
    (tmp_path / "genes.gtf").write_text("#!genome-build sim\n" + "\n".join(lines) + "\n")
    block = {"tool": "salmon", "column": "salmon", "tx2gene": str(tmp_path / "genes.gtf"),
             "counts_from_abundance": "length_scaled_tpm"}
    genes = quantifications.gene_counts(sheet_of(tmp_path), quant_settings.check_settings(block),
                                        str(tmp_path / "samples.tsv"), [])
    versioned, _ = gene_level(root)
    pd.testing.assert_frame_equal(genes.counts, versioned.counts)
    assert genes.symbols.iloc[1] == "GENE1"


def test_rsem_gene_results_need_offsets(tmp_path):
    """RSEM's .genes.results are read (as R's tximport txIn = FALSE) with the offsets
    only; a gene-level file beside isoform files, or under another tool, stops."""
    header = "gene_id\ttranscript_id(s)\tlength\teffective_length\texpected_count\tTPM\tFPKM\n"
    for sample, count in (("S1", "12.00"), ("S2", "7.5")):
        (tmp_path / sample).mkdir()
        (tmp_path / sample / "x.genes.results").write_text(header + f"G1\tT1\t1000\t800\t{count}\t3.1\t2.9\n")
    pd.DataFrame({"sample": ["S1", "S2"], "rsem": ["S1", "S2"]}).to_csv(tmp_path / "s.tsv", sep="\t", index=False)
    sheet = pd.read_csv(tmp_path / "s.tsv", sep="\t", dtype=str)

    def read(mode):
        spec = quant_settings.check_settings({"tool": "rsem", "column": "rsem", "counts_from_abundance": mode})
        return quantifications.gene_counts(sheet, spec, str(tmp_path / "s.tsv"), [])

    genes = read("no")
    assert genes.offsets and genes.counts.loc["G1"].tolist() == [12.0, 7.5]
    assert genes.lengths.loc["G1"].tolist() == [800.0, 800.0]
    with pytest.raises(InputError, match=r"gene-level results .*only with tximport's length offsets"):
        read("length_scaled_tpm")
    with pytest.raises(InputError, match=r"RSEM gene-level file .*tool to 'rsem'"):
        quantifications.read_quant_file(tmp_path / "S1" / "x.genes.results", "salmon", "S1")
    (tmp_path / "S2" / "x.genes.results").unlink()
    (tmp_path / "S2" / "x.isoforms.results").write_text(
        "transcript_id\tgene_id\tlength\teffective_length\texpected_count\tTPM\nT1\tG1\t1000\t800\t3\t1\n")
    with pytest.raises(InputError, match=r"mix gene-level .*S1"):
        read("no")


def test_kallisto_h5_as_its_tsv(quants, tmp_path):
    """abundance.h5 holds what abundance.tsv does; tximport computes the TPM from it."""
    import h5py

    _, root, _ = quants
    sheet = sheet_of(root)
    paths = []
    for sample, tsv in zip(sheet["sample"], sheet["kallisto"]):
        table = pd.read_csv(tsv, sep="\t")
        path = tmp_path / sample / "abundance.h5"
        path.parent.mkdir()
        with h5py.File(path, "w") as handle:
            handle["aux/ids"] = table["target_id"].to_numpy().astype("S")
            handle["aux/lengths"] = table["length"].to_numpy()
            handle["aux/eff_lengths"] = table["eff_length"].to_numpy()
            handle["est_counts"] = table["est_counts"].to_numpy()
        paths.append(str(path.parent))  # the kallisto folder
    sheet["kallisto"] = paths
    sheet.to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
    shutil.copy(root / "tx2gene.tsv", tmp_path / "tx2gene.tsv")
    from_h5, _ = gene_level(tmp_path, tool="kallisto")
    from_tsv, _ = gene_level(root, tool="kallisto")
    np.testing.assert_allclose(from_h5.counts.to_numpy(), from_tsv.counts.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(from_h5.lengths.to_numpy(), from_tsv.lengths.to_numpy(), rtol=1e-6)


def test_gencode_headers_and_par_y_duplicates(quants, tmp_path):
    """salmon run on a GENCODE FASTA without --gencode names transcripts by the whole
    header ('ENST...|ENSG...|...'); GENCODE's ENST....5_PAR_Y copies collide once the
    version is dropped: both still give tximport's counts, with a warning."""
    q, root, _ = quants
    second = copy_case(quants, tmp_path)
    for path in (tmp_path / "salmon").glob("*/quant.sf"):
        table = pd.read_csv(path, sep="\t")
        table["Name"] = table["Name"] + "|OTTHUMT0001|GENE-201|"
        table.to_csv(path, sep="\t", index=False, float_format="%.10g")
    tx2gene = pd.read_csv(tmp_path / "tx2gene.tsv", sep="\t")
    par = tx2gene.iloc[[0]].assign(transcript_id=lambda t: t["transcript_id"] + "_PAR_Y",
                                   gene_id=lambda t: t["gene_id"] + "_PAR_Y")
    tx2gene = pd.concat([tx2gene, par])
    tx2gene["transcript_id"] = tx2gene["transcript_id"].str.replace(r"\.\d+", ".9", regex=True, n=1)
    tx2gene.to_csv(tmp_path / "tx2gene.tsv", sep="\t", index=False)
    genes, warnings = gene_level(tmp_path)
    assert any("matched without versions" in w for w in warnings)
    assert any("1 transcript(s) share an ID once the version is dropped" in w for w in warnings)
    expected, _ = gene_level(root)
    pd.testing.assert_frame_equal(genes.counts, expected.counts)
    assert second.exists()
