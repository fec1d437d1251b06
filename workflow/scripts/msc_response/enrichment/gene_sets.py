"""Gene-set collections: the project's one GMT reader, gene identifiers, checksums.

A GMT file (Broad format) has one gene set per line: the set's name, a description,
then its genes, all separated by tabs; plain or gzipped. `read_gmt` checks every
line and raises `InputError` naming the file and the line (gseapy's own reader skips
what it cannot parse, or only warns about a missing file).

Sets are matched on gene symbols. The DE tables carry `gene_id` (as in the counts)
and `symbol` (from the run's annotation); `map_symbols` fills in symbols the
annotation lacked from a gene table (by default the shipped
`resources/gene_sets/human_genes.tsv.gz`), and `collapse_duplicate_symbols` keeps one
row per symbol. `check_overlap` stops a run whose collection does not speak the
data's identifiers (mouse symbols against human data, Ensembl IDs against symbols).
"""

from __future__ import annotations

import gzip
import hashlib
import re
import zlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from msc_response.common.errors import InputError
from msc_response.inputs.readers import require_file, strip_version

ENSEMBL_ID = re.compile(r"^ENS[A-Z]*G\d{6,}(\.\d+)?$")
ENTREZ_ID = re.compile(r"^\d+$")
# Mouse/rat style symbols: one capital, then lower case or digits (Vegfa, Il6, Cd34).
MIXED_CASE_SYMBOL = re.compile(r"^[A-Z][a-z0-9][a-z0-9-]*$")
EXAMPLES = 5
# Set sizes (after matching to the tested genes) when a collection gives none.
DEFAULT_MIN_SIZE, DEFAULT_MAX_SIZE = 15, 500


@dataclass(frozen=True)
class GeneSet:
    name: str
    description: str
    genes: tuple[str, ...]  # distinct, in file order
    line: int  # 1-based line in the GMT


@dataclass
class Collection:
    """The sets of one GMT file, in file order, and the file's fingerprint."""

    name: str
    path: Path
    sets: dict[str, GeneSet]
    sha256: str
    bytes: int

    @cached_property
    def genes(self) -> set[str]:
        return {gene for gene_set in self.sets.values() for gene in gene_set.genes}


def _where(name: str, path: Path) -> str:
    return f"Gene-set collection '{name}': GMT file '{path}'"


def _decode(data: bytes, name: str, path: Path) -> str:
    where = _where(name, path)
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as err:
            raise InputError(
                f"{where} cannot be read to the end ({err}): is it truncated? Copy or "
                f"download it again."
            ) from None
    if b"\x00" in data[:4096]:
        raise InputError(
            f"{where} is a binary file, not a text GMT (an Excel workbook or a zip "
            f"archive?). Save the sets as tab-separated text: name, description, genes."
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise InputError(
            f"{where}, line {line}: not UTF-8 text (byte {data[err.start:err.start + 1]!r}). "
            f"Save it again as UTF-8."
        ) from None


def _parse_line(text: str, number: int, name: str, path: Path) -> GeneSet:
    where = f"{_where(name, path)}, line {number}"
    fields = text.count("\t") + 1
    if fields < 3:
        if fields == 1 and len(text.split()) >= 3:
            problem = "its fields are separated by spaces, not tabs"
        else:
            problem = f"it has {fields} tab-separated field(s)"
        raise InputError(
            f"{where}: {problem}. Each GMT line needs a set name, a description (may be "
            f"'na') and at least one gene, separated by tabs."
        )
    set_name, description, genes_text = text.split("\t", 2)
    set_name = set_name.strip()
    if not set_name:
        raise InputError(f"{where}: the set name (first field) is empty.")
    genes = genes_text.split("\t")
    if " " in genes_text:  # rare: only then strip and look closer
        genes = [gene.strip() for gene in genes]
        spaced = [gene for gene in genes if len(gene.split()) > 1]
        if spaced:
            raise InputError(
                f"{where} (set '{set_name}'): the gene field '{spaced[0]}' holds several "
                f"words; genes must be separated by tabs."
            )
    unique = dict.fromkeys(genes)  # repeated genes kept once, in order
    unique.pop("", None)  # empty fields (trailing tabs)
    if not unique:
        raise InputError(f"{where}: set '{set_name}' lists no genes.")
    return GeneSet(set_name, description.strip(), tuple(unique), number)


def read_gmt(path: str | Path, name: str | None = None, config_key: str | None = None) -> Collection:
    """Read and check a GMT file (plain or gzipped, detected from its bytes).

    Blank lines are skipped and repeated genes within a set kept once; everything
    else that is not `name<TAB>description<TAB>gene...` is an `InputError` naming the
    file and the line: a missing or empty file, fields separated by spaces, a line
    without genes, an empty name, a name used twice. `config_key` is the config
    setting the message points to (default: the enrichment collection's `gmt`).
    """
    path = Path(path)
    name = name or path.name
    if not path.exists():
        raise InputError(
            f"{_where(name, path)} does not exist. Check "
            f"{config_key or f'enrichment.collections.{name}.gmt'} in your config (a relative path is looked up from the directory you run "
            f"snakemake in, then from the workflow's own folder)."
        )
    require_file(path, f"Gene-set collection '{name}': GMT")
    data = path.read_bytes()
    sets: dict[str, GeneSet] = {}
    for number, line in enumerate(_decode(data, name, path).splitlines(), start=1):
        if not line.strip():
            continue
        gene_set = _parse_line(line.rstrip("\r\n"), number, name, path)
        if gene_set.name in sets:
            raise InputError(
                f"{_where(name, path)}, line {number}: the set name '{gene_set.name}' is "
                f"used already on line {sets[gene_set.name].line}. Set names must be unique."
            )
        sets[gene_set.name] = gene_set
    if not sets:
        raise InputError(f"{_where(name, path)} is empty: it holds no gene sets.")
    return Collection(name, path, sets, hashlib.sha256(data).hexdigest(), len(data))


def resolve_path(path: str, basedir: str | Path) -> Path:
    """A relative path as given if it exists from the run directory, else from the
    workflow's own folder (so the shipped resources/gene_sets/ work with
    --directory elsewhere); absolute paths as they are."""
    given = Path(path)
    if given.is_absolute() or given.exists():
        return given
    shipped = Path(basedir) / given
    return shipped if shipped.exists() else given


def active_collections(section: dict) -> dict[str, dict]:
    """The collections of the `enrichment` config section, each with gmt, min_size
    and max_size; a collection set to null (to leave out a default one) is dropped."""
    return {
        name: {"min_size": DEFAULT_MIN_SIZE, "max_size": DEFAULT_MAX_SIZE, **spec}
        for name, spec in (section.get("collections") or {}).items()
        if spec
    }


def check_collections(section: dict, basedir: str | Path) -> dict[str, Path]:
    """Parse-time check of the `enrichment` config section: every GMT exists and is
    well formed, sizes are consistent, the fallback symbol table exists. Returns
    collection name -> resolved GMT path."""
    paths = {}
    for name, spec in active_collections(section).items():
        if spec["min_size"] > spec["max_size"]:
            raise InputError(
                f"enrichment.collections.{name}: min_size ({spec['min_size']}) is larger "
                f"than max_size ({spec['max_size']})."
            )
        paths[name] = resolve_path(spec["gmt"], basedir)
        read_gmt(paths[name], name)
    if section.get("fallback_symbols"):
        path = resolve_path(section["fallback_symbols"], basedir)
        require_file(path, "Fallback gene symbol table (enrichment.fallback_symbols)")
        with (gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open)(path, "rt") as handle:
            header = handle.readline().rstrip("\r\n").split("\t")
        if not {"gene_id", "symbol"} <= set(header):
            raise InputError(
                f"Fallback gene symbol table '{path}' (enrichment.fallback_symbols) needs "
                f"tab-separated columns 'gene_id' and 'symbol'; its header has {header[:5]}."
            )
    return paths


def check_enrichment_settings(config: dict, basedir) -> dict:
    """Parse-time check of the `enrichment` section against the rest of the config;
    returns collection name -> GMT path (see check_collections)."""
    section = config["enrichment"]
    if section["ranking"] == "log2FoldChange_shrunk" and not config["diffexp"]["lfc_shrinkage"]:
        raise InputError(
            "enrichment.ranking is 'log2FoldChange_shrunk' but diffexp.lfc_shrinkage is "
            "false, so the DE tables have no shrunken fold changes. Set one of them "
            "differently ('stat' ranks by the Wald statistic)."
        )
    return check_collections(section, basedir)


# ------------------------------------------------------------------ identifiers


def read_symbol_table(path: str | Path) -> pd.Series:
    """A gene table with columns `gene_id` and `symbol` (e.g. human_genes.tsv.gz) as a
    Series gene ID (without Ensembl version) -> symbol."""
    path = require_file(path, "Fallback gene symbol table (enrichment.fallback_symbols)")
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, usecols=["gene_id", "symbol"])
    except ValueError as err:
        raise InputError(
            f"Fallback gene symbol table '{path}' needs tab-separated columns 'gene_id' "
            f"and 'symbol' ({err})."
        ) from None
    table = table.dropna()
    table["gene_id"] = strip_version(pd.Index(table["gene_id"]))
    return table.drop_duplicates("gene_id").set_index("gene_id")["symbol"]


def map_symbols(
    gene_ids: pd.Series, symbols: pd.Series, fallback: pd.Series | None
) -> tuple[pd.Series, dict[str, int]]:
    """One symbol per gene: the annotation's, else the fallback table's (matched on
    the gene ID without Ensembl version), else the gene ID itself.

    A symbol counts as missing when it is empty, equal to the gene ID (the workflow
    keeps the ID where the annotation has none) or an Ensembl ID. Returns the symbols
    (same index as `gene_ids`) and how many came from each source.
    """
    gene_ids = gene_ids.astype(str)
    symbols = symbols.where(symbols.notna(), "").astype(str).str.strip()
    missing = (symbols == "") | (symbols == gene_ids) | symbols.str.match(ENSEMBL_ID.pattern)
    mapped = symbols.where(~missing, None)
    from_fallback = pd.Series(False, index=gene_ids.index)
    if fallback is not None and missing.any():
        bare = pd.Series(strip_version(pd.Index(gene_ids[missing])), index=gene_ids.index[missing])
        found = bare.map(fallback).dropna()
        mapped.loc[found.index] = found
        from_fallback.loc[found.index] = True
    unmapped = mapped.isna()
    mapped = mapped.where(~unmapped, gene_ids)
    counts = {
        "annotation": int((~missing).sum()),
        "fallback": int(from_fallback.sum()),
        "unmapped": int(unmapped.sum()),
    }
    return mapped.rename("symbol"), counts


def collapse_duplicate_symbols(frame: pd.DataFrame, value: str) -> tuple[pd.DataFrame, int]:
    """One row per symbol: of genes sharing a symbol, keep the one with the largest
    |`value`| (the ranking statistic), ties broken by the smaller gene ID. Returns the
    rows kept (in their original order) and how many were dropped."""
    order = frame.assign(_magnitude=-frame[value].abs()).sort_values(
        ["symbol", "_magnitude", "gene_id"], kind="mergesort"
    )
    kept = order.drop_duplicates("symbol", keep="first").index
    return frame.loc[frame.index.isin(kept)], len(frame) - len(kept)


def describe_ids(ids) -> str:
    """What a list of identifiers looks like, in words, for error messages."""
    ids = [str(i) for i in ids]
    if not ids:
        return "no identifiers"
    shares = {
        "Ensembl gene IDs": np.mean([bool(ENSEMBL_ID.match(i)) for i in ids]),
        "Entrez gene IDs (numbers)": np.mean([bool(ENTREZ_ID.match(i)) for i in ids]),
        "mouse/rat-style symbols (first letter upper case only, e.g. Vegfa)": np.mean(
            [bool(MIXED_CASE_SYMBOL.match(i)) for i in ids]
        ),
        "upper-case symbols, human style (e.g. VEGFA)": np.mean(
            [i.upper() == i and not ENTREZ_ID.match(i) and not ENSEMBL_ID.match(i) for i in ids]
        ),
    }
    kind, share = max(shares.items(), key=lambda item: item[1])
    return kind if share >= 0.5 else "a mix of identifier styles"


@dataclass
class Overlap:
    gmt_genes: int  # distinct genes in the collection
    measured_genes: int  # distinct symbols in the DE table
    shared: int

    @property
    def fraction(self) -> float:
        """The larger of: the share of the collection's genes found in the data, and
        the share of the data's genes found in the collection (a small curated
        collection or a small gene panel can each be mostly covered by the other)."""
        if not self.gmt_genes or not self.measured_genes:
            return 0.0
        return max(self.shared / self.gmt_genes, self.shared / self.measured_genes)


def check_overlap(collection: Collection, measured: set[str], min_overlap: float) -> Overlap:
    """Stop with a message showing the overlap when the collection's genes and the
    data's genes barely meet: usually a different identifier type or species."""
    gmt_genes = collection.genes
    overlap = Overlap(len(gmt_genes), len(measured), len(gmt_genes & measured))
    if overlap.fraction >= min_overlap:
        return overlap
    gmt_examples = sorted(gmt_genes)[:: max(1, len(gmt_genes) // EXAMPLES)][:EXAMPLES]
    data_examples = sorted(measured)[:: max(1, len(measured) // EXAMPLES)][:EXAMPLES]
    upper = {g.upper() for g in gmt_genes} & {g.upper() for g in measured}
    hint = ""
    if len(upper) > 2 * max(overlap.shared, 1):
        hint = (
            f" Ignoring upper/lower case, {len(upper):,} genes would match: a collection "
            f"for another species (e.g. mouse symbols) against these data?"
        )
    raise InputError(
        f"{_where(collection.name, collection.path)}: only {overlap.shared:,} of its "
        f"{overlap.gmt_genes:,} genes are among the {overlap.measured_genes:,} genes of the "
        f"DE table ({overlap.fraction:.1%} overlap; enrichment.min_overlap is "
        f"{min_overlap:.0%}). The collection has {describe_ids(gmt_genes)} (e.g. "
        f"{', '.join(gmt_examples)}); the data have {describe_ids(measured)} (e.g. "
        f"{', '.join(data_examples)}).{hint} Use a GMT with the data's species and gene "
        f"symbols, or give the run an annotation (config 'annotation') that maps its gene "
        f"IDs to symbols."
    )


@dataclass
class MatchedSets:
    """A collection restricted to the tested genes and to the size bounds."""

    genes: dict[str, list[str]]  # set name -> tested genes, in the GMT's order
    table: pd.DataFrame  # term, description, size_gmt, size: the sets tested
    too_small: int
    too_large: int


def match_sets(
    collection: Collection, universe: set[str], min_size: int, max_size: int
) -> MatchedSets:
    """Restrict every set to the tested genes; keep sets with min_size to max_size of
    them (as gseapy and fgsea count size: after matching)."""
    genes, rows, too_small, too_large = {}, [], 0, 0
    for gene_set in collection.sets.values():
        tested = [gene for gene in gene_set.genes if gene in universe]
        if len(tested) < min_size:
            too_small += 1
        elif len(tested) > max_size:
            too_large += 1
        else:
            genes[gene_set.name] = tested
            rows.append((gene_set.name, gene_set.description, len(gene_set.genes), len(tested)))
    table = pd.DataFrame(rows, columns=["term", "description", "size_gmt", "size"])
    return MatchedSets(genes, table, too_small, too_large)
