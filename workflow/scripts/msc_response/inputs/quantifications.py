"""Transcript quantifications of salmon, kallisto or RSEM, summarised to genes with
pytximport (the Python port of R's tximport), config `quantifications`.

Every file is checked before pytximport reads it (it exists; its columns are those of
the configured tool; values are numbers, finite and not negative; all samples hold
the same transcripts), and so is the transcript-to-gene table (tx2gene TSV/CSV or a
GTF): transcripts missing from it are counted, and above
`quantifications.max_missing_share` of them the run stops; IDs with a version
(`ENST00000335137.4`) are matched to IDs without one, and the log says so.

`counts_from_abundance`: `scaled_tpm` and `length_scaled_tpm` give gene counts
rebuilt from the abundances (tximport's countsFromAbundance), rounded half to even
as R's DESeqDataSetFromMatrix(round(txi$counts)) users do: bias-corrected counts
without offsets. `"no"` (the default): the original estimated counts, rounded, with
tximport's average transcript lengths kept beside them (layer `avg_tx_length` of the
checked carrier) as gene-by-sample offsets, as R's DESeqDataSetFromTximport: the DE,
normalisation and VST turn them into normalisation factors (`de.offsets`).
"""

from __future__ import annotations

import contextlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from msc_response.common.errors import InputError, listing
from msc_response.inputs import readers
from msc_response.inputs.quant_settings import QuantSpec, quant_paths, rsem_gene_level_error

log = logging.getLogger(__name__)

# The columns each tool writes (RSEM: the isoform-level .isoforms.results).
COLUMNS = {
    "salmon": ["Name", "Length", "EffectiveLength", "TPM", "NumReads"],
    "kallisto": ["target_id", "length", "eff_length", "est_counts", "tpm"],
    "rsem": ["transcript_id", "gene_id", "length", "effective_length", "expected_count", "TPM"],
}
# RSEM's gene-level .genes.results: read as R's tximport(type = "rsem", txIn = FALSE)
RSEM_GENE_COLUMNS = ["gene_id", "transcript_id(s)", "length", "effective_length",
                     "expected_count", "TPM"]


def read_quant_file(path: Path, tool: str, sample: str) -> pd.DataFrame:
    """A quantification file's transcripts (index) with its length, effective length,
    count and abundance columns, checked."""
    if path.suffix == ".h5":
        if tool != "kallisto":
            raise InputError(
                f"Quantification file '{path}' (sample '{sample}') is an HDF5 file, which "
                f"only kallisto writes (abundance.h5); quantifications.tool is '{tool}'."
            )
        return _read_kallisto_h5(path, sample)
    header = readers._first_lines(path, 1, f"{tool} quantification file")
    columns = header[0].split("\t") if header else []
    names = COLUMNS[tool]
    if columns[:2] == RSEM_GENE_COLUMNS[:2]:
        if tool != "rsem":
            raise InputError(
                f"Quantification file '{path}' (sample '{sample}') is an RSEM gene-level "
                f"file (.genes.results): set quantifications.tool to 'rsem'."
            )
        names = RSEM_GENE_COLUMNS
    if columns[: len(names)] != names:
        other = [t for t, names in COLUMNS.items() if columns[: len(names)] == names]
        hint = f" It is a {other[0]} file: set quantifications.tool to '{other[0]}'." if other else ""
        raise InputError(
            f"Quantification file '{path}' (sample '{sample}') does not have the columns "
            f"{tool} writes ({', '.join(names)}); its header is "
            f"{', '.join(columns[:6]) or '(empty)'}.{hint}"
        )
    table = readers._parse_table(path, f"{tool} quantification file", "\t", dtype={0: str})
    ids = table.iloc[:, 0]
    if ids.duplicated().any():
        raise InputError(
            f"Quantification file '{path}' (sample '{sample}'): transcript(s) "
            f"{listing(ids[ids.duplicated()].unique())} appear more than once."
        )
    numeric = [n for n in names[1:] if n not in ("gene_id", "transcript_id(s)")]
    for name in numeric:
        values = pd.to_numeric(table[name], errors="coerce")
        bad = np.flatnonzero(~np.isfinite(values.to_numpy(dtype=float)) | (values.to_numpy(dtype=float) < 0))
        if len(bad):
            row = bad[0]
            raise InputError(
                f"Quantification file '{path}' (sample '{sample}'), line {row + 2}, "
                f"transcript '{ids.iloc[row]}': {name} '{table[name].iloc[row]}' is not a "
                f"non-negative number ({len(bad)} such value(s) in that column). Is the "
                f"file complete and unchanged?"
            )
        table[name] = values
    return table.set_index(names[0])


KALLISTO_H5 = {"target_id": "aux/ids", "length": "aux/lengths", "eff_length": "aux/eff_lengths",
               "est_counts": "est_counts"}


def _read_kallisto_h5(path: Path, sample: str) -> pd.DataFrame:
    """kallisto's abundance.h5, as its abundance.tsv's columns (no tpm: tximport
    computes it from the counts and effective lengths, as R's does for .h5)."""
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            missing = [key for key in KALLISTO_H5.values() if key not in handle]
            if missing:
                raise InputError(
                    f"Quantification file '{path}' (sample '{sample}') is an HDF5 file "
                    f"without kallisto's {', '.join(missing)}: is it a kallisto abundance.h5?"
                )
            data = {name: handle[key][()] for name, key in KALLISTO_H5.items()}
    except OSError as err:
        raise InputError(f"Quantification file '{path}' (sample '{sample}') cannot be read ({err}).") from None
    ids = pd.Index([i.decode() if isinstance(i, bytes) else str(i) for i in data.pop("target_id")])
    table = pd.DataFrame(data, index=ids)
    values = table.to_numpy(dtype=float)
    bad = np.flatnonzero((~np.isfinite(values) | (values < 0)).any(axis=1))
    if len(bad):
        raise InputError(
            f"Quantification file '{path}' (sample '{sample}'), transcript '{ids[bad[0]]}': "
            f"a count or length is not a non-negative number ({len(bad)} transcript(s))."
        )
    return table


def read_tx2gene(path: str) -> pd.DataFrame:
    """transcript_id, gene_id, symbol (the gene ID when not given) from a table of two
    or three columns (a header line is recognised by its words) or a GTF."""
    path = readers.require_file(path, "quantifications.tx2gene")
    if path.name.lower().removesuffix(".gz").endswith((".gtf", ".gff", ".gff2")):
        table = _tx2gene_from_gtf(path)
    else:
        first = readers._first_lines(path, 1, "tx2gene file")
        sep = readers.sniff_separator(first[0]) if first else "\t"
        fields = [f.strip().lower() for f in first[0].split(sep)] if first else []
        if len(fields) < 2:
            raise InputError(
                f"tx2gene file '{path}' needs two or three columns: transcript ID, gene ID "
                f"and optionally the gene symbol."
            )
        header = any(w in fields[0] or w in fields[1] for w in ("transcript", "gene", "tx", "target"))
        table = readers._parse_table(
            path, "tx2gene file", sep, header=0 if header else None, dtype=str,
            usecols=list(range(min(3, len(fields)))),
        )
        table.columns = ["transcript_id", "gene_id", "symbol"][: table.shape[1]]
    table = table.dropna(subset=["transcript_id", "gene_id"])
    if "symbol" not in table:
        table["symbol"] = table["gene_id"]
    table["symbol"] = table["symbol"].fillna(table["gene_id"])
    clash = table.drop_duplicates(["transcript_id", "gene_id"])["transcript_id"]
    if clash.duplicated().any():
        raise InputError(
            f"tx2gene file '{path}': transcript(s) {listing(clash[clash.duplicated()].unique())} "
            f"map to more than one gene. Each transcript must belong to one gene."
        )
    return table.drop_duplicates("transcript_id").reset_index(drop=True)


def _tx2gene_from_gtf(path: Path) -> pd.DataFrame:
    rows = {}
    readers._check_is_text(path, "GTF")
    with readers._open_text(path) as handle:
        for line in handle:
            if line.startswith("#"):
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 9 or fields[2] not in ("transcript", "exon"):
                continue
            attributes = dict(readers.GTF_ATTRIBUTE.findall(fields[8]))
            if "transcript_id" in attributes and "gene_id" in attributes:
                rows.setdefault(
                    attributes["transcript_id"],
                    (attributes["gene_id"], attributes.get("gene_name", attributes["gene_id"])),
                )
    if not rows:
        raise InputError(f"GTF '{path}' has no transcript or exon lines with transcript_id and gene_id.")
    return pd.DataFrame(
        [(t, g, s) for t, (g, s) in rows.items()], columns=["transcript_id", "gene_id", "symbol"]
    )


def match_transcripts(
    transcripts: pd.Index, tx2gene: pd.DataFrame, spec: QuantSpec, source: str, warnings: list[str]
) -> tuple[pd.DataFrame, bool]:
    """tx2gene as the quantifications' IDs match it, and whether versions are ignored.

    Versioned IDs on one side and unversioned on the other are matched without their
    versions. Transcripts missing from tx2gene: a warning, or above
    `spec.max_missing_share` of them an error.
    """
    # pytximport (as its default) reads a GENCODE header 'ENST...|ENSG...|...' as its
    # first field
    transcripts = pd.Index(transcripts.astype(str).str.split("|").str[0])
    known = pd.Index(tx2gene["transcript_id"])
    direct = transcripts.isin(known).mean()
    ignore_version = False
    if direct < 1:
        bare = _without_version(transcripts)
        if bare.isin(_without_version(known)).mean() > direct:
            ignore_version = True
            warnings.append(
                f"transcript IDs of {source} (e.g. '{transcripts[0]}') and of tx2gene "
                f"'{spec.tx2gene}' (e.g. '{known[0]}') differ in their version suffixes: "
                f"matched without versions."
            )
            transcripts = bare
            tx2gene = tx2gene.assign(transcript_id=_without_version(known))
            doubled = tx2gene["transcript_id"].duplicated()
            if doubled.any():  # GENCODE's ENST...5_PAR_Y beside ENST...5
                warnings.append(
                    f"tx2gene '{spec.tx2gene}': {int(doubled.sum())} transcript(s) share an ID "
                    f"once the version is dropped (e.g. "
                    f"'{known[np.flatnonzero(doubled.to_numpy())[0]]}'); the first one is used."
                )
                tx2gene = tx2gene.loc[~doubled].reset_index(drop=True)
            known = pd.Index(tx2gene["transcript_id"])
    missing = transcripts[~transcripts.isin(known)]
    share = len(missing) / len(transcripts)
    where = f"tx2gene '{spec.tx2gene}'" if spec.tx2gene else "the RSEM files' gene_id column"
    if share > spec.max_missing_share:
        raise InputError(
            f"{len(missing):,} of {len(transcripts):,} transcripts of {source} (e.g. "
            f"{listing(missing[:3])}) are not in {where} ({share:.1%}, more than "
            f"quantifications.max_missing_share {spec.max_missing_share:g}). Use the tx2gene "
            f"or GTF of the transcriptome the quantifications were made with (same "
            f"release and species)."
        )
    if len(missing):
        warnings.append(
            f"{len(missing):,} of {len(transcripts):,} transcripts of {source} (e.g. "
            f"{listing(missing[:3])}) are not in {where}; they are left out, as tximport "
            f"does."
        )
    return tx2gene, ignore_version


def _without_version(ids: pd.Index) -> pd.Index:
    """'ENST00000335137.4' -> 'ENST00000335137', as pytximport strips versions (the
    text before the first dot)."""
    return pd.Index(pd.Series(ids, dtype=str).str.split(".").str[0].to_numpy())


def check_files(paths: dict[str, Path], tool: str) -> pd.Index:
    """Read and check every file; return the transcripts (the same in every file)."""
    transcripts, first = None, None
    for sample, path in paths.items():
        table = read_quant_file(path, tool, sample)
        if transcripts is None:
            transcripts, first = table.index, (sample, path)
        elif not table.index.equals(transcripts):
            missing = transcripts.difference(table.index)
            extra = table.index.difference(transcripts)
            raise InputError(
                f"Quantification files '{first[1]}' (sample '{first[0]}') and '{path}' "
                f"(sample '{sample}') hold different transcripts ({len(missing)} of the "
                f"first missing from the second, e.g. {listing(missing[:3])}; {len(extra)} "
                f"extra). Quantify every sample against the same transcriptome index."
            )
    return transcripts


@dataclass
class GeneLevel:
    """tximport's gene-level result: counts (before rounding) and average transcript
    lengths, genes x samples; the genes' symbols."""

    counts: pd.DataFrame
    lengths: pd.DataFrame
    symbols: pd.Series
    # the lengths are the DE model's offsets (counts_from_abundance "no")
    offsets: bool = False


def gene_counts(
    sheet: pd.DataFrame, spec: QuantSpec, sheet_path: str, warnings: list[str]
) -> GeneLevel:
    """Summarise each sample's quantification file to genes with pytximport."""
    paths = quant_paths(sheet, spec, sheet_path)
    source = f"the {spec.tool} files of sample-sheet column '{spec.column}'"
    if spec.tool == "rsem" and gene_level_files(paths):
        return rsem_gene_results(paths, spec, source)
    transcripts = check_files(paths, spec.tool)
    if spec.tx2gene:
        tx2gene = read_tx2gene(spec.tx2gene)
    else:  # RSEM isoform results name each transcript's gene
        first = readers._parse_table(next(iter(paths.values())), "RSEM file", "\t", dtype=str)
        tx2gene = pd.DataFrame({"transcript_id": first["transcript_id"], "gene_id": first["gene_id"],
                                "symbol": first["gene_id"]})
    tx2gene, ignore_version = match_transcripts(transcripts, tx2gene, spec, source, warnings)
    result = run_tximport(list(paths.values()), spec, tx2gene, ignore_version)
    counts = pd.DataFrame(
        np.asarray(result.X, dtype=float).T, index=pd.Index(result.var_names.astype(str), name="gene_id"),
        columns=list(paths),
    )
    symbols = tx2gene.drop_duplicates("gene_id").set_index("gene_id")["symbol"]
    symbols = pd.Series(symbols.reindex(counts.index).fillna(pd.Series(counts.index, index=counts.index)).to_numpy(),
                        index=counts.index, name="symbol")
    log.info(
        "tximport (pytximport) of %d %s files: %d genes, counts_from_abundance %s",
        len(paths), spec.tool, len(counts), spec.counts_from_abundance,
    )
    lengths = pd.DataFrame(np.asarray(result.obsm["length"], dtype=float).T, index=counts.index,
                           columns=counts.columns)
    return GeneLevel(counts, lengths, symbols, offsets=spec.counts_from_abundance == "no")


def gene_level_files(paths: dict[str, Path]) -> bool:
    """Whether the RSEM files are gene-level (.genes.results); all or none must be."""
    kinds = {}
    for sample, path in paths.items():
        header = readers._first_lines(path, 1, "RSEM file")
        kinds[sample] = bool(header) and header[0].split("\t")[:2] == RSEM_GENE_COLUMNS[:2]
    if len(set(kinds.values())) > 1:
        genes = [s for s, gene in kinds.items() if gene]
        raise InputError(
            f"The RSEM files mix gene-level (.genes.results: sample(s) {listing(genes)}) and "
            f"isoform-level results; give one kind for every sample."
        )
    return next(iter(kinds.values()))


def rsem_gene_results(paths: dict[str, Path], spec: QuantSpec, source: str) -> GeneLevel:
    """RSEM's .genes.results as R's tximport reads them (type "rsem", txIn = FALSE):
    counts expected_count, lengths effective_length; usable with the offsets only."""
    if spec.counts_from_abundance != "no":
        raise rsem_gene_level_error(next(iter(paths.values())))
    tables = {sample: read_quant_file(path, "rsem", sample) for sample, path in paths.items()}
    first_sample, first = next(iter(tables.items()))
    for sample, table in tables.items():
        if not table.index.equals(first.index):
            raise InputError(
                f"RSEM files of samples '{first_sample}' and '{sample}' hold different genes "
                f"({len(first.index.difference(table.index))} of the first missing from the "
                f"second). Quantify every sample against the same annotation."
            )
    index = pd.Index(first.index.astype(str), name="gene_id")
    counts = pd.DataFrame({s: t["expected_count"].to_numpy(float) for s, t in tables.items()}, index=index)
    lengths = pd.DataFrame({s: t["effective_length"].to_numpy(float) for s, t in tables.items()},
                           index=index)
    symbols = pd.Series(index.to_numpy(), index=index, name="symbol")
    if spec.tx2gene:  # its symbols, where it names the gene
        table = read_tx2gene(spec.tx2gene).drop_duplicates("gene_id").set_index("gene_id")["symbol"]
        symbols = table.reindex(index).fillna(symbols).rename("symbol")
    log.info("RSEM gene-level results of %d samples (%s): %d genes, with tximport's offsets",
             len(paths), source, len(counts))
    return GeneLevel(counts, lengths, symbols, offsets=True)


def run_tximport(files: list[Path], spec: QuantSpec, tx2gene: pd.DataFrame, ignore_version: bool):
    """pytximport's tximport, its progress bar and root-logger chatter kept out of the
    terminal (they go to the log at INFO)."""
    from pytximport import tximport

    options = {}
    if spec.tool == "kallisto" and all(f.suffix != ".h5" for f in files):
        options["abundance_column"] = "tpm"  # as R's tximport; else recomputed from counts
    root = logging.getLogger()
    relay = _Relay()
    for handler in root.handlers:
        handler.addFilter(relay)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            return tximport(
                [str(f) for f in files],
                data_type=spec.tool,
                transcript_gene_map=tx2gene[["transcript_id", "gene_id"]].copy(),
                # pytximport's "no" is None: the estimated counts as they are
                counts_from_abundance=(
                    None if spec.counts_from_abundance == "no" else spec.counts_from_abundance
                ),
                ignore_transcript_version=ignore_version,
                output_type="anndata",
                **options,
            )
    finally:
        for handler in root.handlers:
            handler.removeFilter(relay)


class _Relay(logging.Filter):
    """Drops pytximport's records (on the root logger) from the handlers, and logs
    them once, at INFO, under this module's logger."""

    def __init__(self):
        super().__init__()
        self.seen = set()

    def filter(self, record):
        if record.name != "root":
            return True
        key = (record.created, record.getMessage())
        if key not in self.seen:
            self.seen.add(key)
            if "pyarrow" not in record.getMessage():
                log.info("pytximport: %s", record.getMessage())
        return False


def round_counts(counts: pd.DataFrame) -> pd.DataFrame:
    """Rounded half to even, as R's round()."""
    return pd.DataFrame(np.rint(counts.to_numpy()).astype(np.int64), index=counts.index, columns=counts.columns)
