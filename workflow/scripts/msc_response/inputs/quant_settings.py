"""The config's `quantifications` block, checked when the workflow is parsed (no
file is read beyond the sample sheet): its settings, and each sample's file.
Reading the files is `quantifications`' job."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from msc_response.common.errors import InputError, listing
from msc_response.inputs import readers
from msc_response.inputs.count_files import sample_paths

TOOLS = ("salmon", "kallisto", "rsem")
MODES = ("no", "scaled_tpm", "length_scaled_tpm")
# What a sample-sheet entry that is a folder holds, in order of preference.
FILE_IN_FOLDER = {
    "salmon": ["quant.sf"],
    "kallisto": ["abundance.tsv", "abundance.h5"],
    "rsem": ["*.isoforms.results"],
}


def mode_of(value) -> str:
    """YAML reads a bare `no` as false: both mean "no"."""
    if value is None or value is False or str(value).strip().lower() in ("no", "false"):
        return "no"
    return str(value)


@dataclass
class QuantSpec:
    """The config's `quantifications` block."""

    tool: str
    column: str
    tx2gene: str | None = None
    counts_from_abundance: str = "no"
    max_missing_share: float = 0.05

    @classmethod
    def from_config(cls, block: dict) -> "QuantSpec":
        return cls(
            tool=block["tool"],
            column=block["column"],
            tx2gene=block.get("tx2gene") or None,
            counts_from_abundance=mode_of(block.get("counts_from_abundance", "no")),
            max_missing_share=float(block.get("max_missing_share", 0.05)),
        )


def check_settings(block: dict) -> QuantSpec:
    """The block's problems that the files need not be read for; the spec if none."""
    spec = QuantSpec.from_config(block)
    if spec.counts_from_abundance not in MODES:
        raise InputError(
            f"config 'quantifications.counts_from_abundance': '{spec.counts_from_abundance}' "
            f"is not one of {listing(MODES)}."
        )
    if spec.tool != "rsem" and not spec.tx2gene:
        raise InputError(
            f"config 'quantifications.tx2gene' is needed for {spec.tool}: a table of "
            f"transcript_id, gene_id[, symbol] or the GTF of the transcriptome."
        )
    if spec.tx2gene:
        readers.require_file(spec.tx2gene, "quantifications.tx2gene")
    return spec


def check_offsets_settings(spec: QuantSpec, config: dict) -> None:
    """tximport's offsets are carried by this project's DE engine and R's dataset
    class, with the median-of-ratios size factors R's estimateNormFactors uses; the
    R cross-check (a count-table run of R DESeq2) does not carry them."""
    if spec.counts_from_abundance != "no":
        return
    if (config.get("crosscheck_r") or {}).get("enabled"):
        raise InputError(
            "config 'crosscheck_r.enabled' is true with quantifications."
            "counts_from_abundance \"no\": the cross-check runs R DESeq2 on the counts "
            "alone, without tximport's offsets, so it would not compare like with like. "
            "Set crosscheck_r.enabled: false (the offsets' agreement with R's tximport + "
            "DESeq2 is held by the test suite)."
        )
    diffexp = config.get("diffexp") or {}
    needed = {"inference": "fast", "dispersion_prior": "r", "size_factors_fit_type": "ratio"}
    wrong = {k: diffexp[k] for k, v in needed.items() if diffexp.get(k, v) != v}
    if wrong:
        raise InputError(
            f"config 'quantifications.counts_from_abundance' is \"no\" (tximport's "
            f"average transcript lengths as offsets), which needs "
            + ", ".join(f"diffexp.{k}: {needed[k]}" for k in wrong)
            + " (set: " + ", ".join(f"{k}: {v}" for k, v in wrong.items()) + "). Change "
            "them, or set counts_from_abundance: length_scaled_tpm (no offsets)."
        )


def quant_paths(sheet: pd.DataFrame, spec: QuantSpec, sheet_path: str) -> dict[str, Path]:
    """Sample -> its quantification file (a folder stands for the file it holds)."""
    paths = sample_paths(sheet, spec.column, sheet_path, f"{spec.tool} quantification")
    return {sample: file_in(path, spec.tool, sample) for sample, path in paths.items()}


def file_in(path: Path, tool: str, sample: str) -> Path:
    if not path.is_dir():
        return path
    for pattern in FILE_IN_FOLDER[tool]:
        found = sorted(path.glob(pattern))
        if len(found) == 1:
            return found[0]
    if tool == "rsem":  # no isoform results: RSEM's gene-level results (offsets only)
        found = sorted(path.glob("*.genes.results"))
        if len(found) == 1:
            return found[0]
    raise InputError(
        f"{tool} quantification folder '{path}' (sample '{sample}') holds no "
        f"{' or '.join(FILE_IN_FOLDER[tool])}"
        f"{' (or one .genes.results)' if tool == 'rsem' else ''}; name the file itself "
        f"in the sample sheet."
    )


def rsem_gene_level_error(path: Path) -> InputError:
    """RSEM's gene-level results can be used only with tximport's offsets."""
    return InputError(
        f"RSEM file '{path}' holds gene-level results (.genes.results), which can be "
        f"used only with tximport's length offsets (counts_from_abundance \"no\", the "
        f"default), as in R. Use that, or give the .isoforms.results files (which the "
        f"scaled modes need)."
    )
