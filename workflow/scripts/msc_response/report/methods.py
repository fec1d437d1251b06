"""The report's methods section: the software versions, parameters and input
checksums of the run (from results/provenance.json), the methods text and citations."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jinja2
import pandas as pd

from msc_response.common.errors import InputError
from msc_response.report.blocks import (
    Column,
    format_int,
    format_text,
    make_table,
)

METHODS_TEMPLATE = "methods.txt.j2"


CITATIONS = {
    "deseq2": "Love MI, Huber W, Anders S (2014). Moderated estimation of fold change and "
    "dispersion for RNA-seq data with DESeq2. Genome Biology 15:550. doi:10.1186/s13059-014-0550-8",
    "pydeseq2": "Muzellec B, Teleńczuk M, Cabeli V, Andreux M (2023). PyDESeq2: a python "
    "package for bulk RNA-seq differential expression analysis. Bioinformatics 39:btad547. "
    "doi:10.1093/bioinformatics/btad547",
    "tximport": "Soneson C, Love MI, Robinson MD (2015). Differential analyses for RNA-seq: "
    "transcript-level estimates improve gene-level inferences. F1000Research 4:1521. "
    "doi:10.12688/f1000research.7563.2",
    "gseapy": "Fang Z, Liu X, Peltz G (2023). GSEApy: a comprehensive package for performing "
    "gene set enrichment analysis in Python. Bioinformatics 39:btac757. "
    "doi:10.1093/bioinformatics/btac757",
    "gsea": "Subramanian A, Tamayo P, Mootha VK, et al. (2005). Gene set enrichment analysis: "
    "a knowledge-based approach for interpreting genome-wide expression profiles. PNAS "
    "102:15545-15550. doi:10.1073/pnas.0506580102",
    "fgsea": "Korotkevich G, Sukhov V, Budin N, Shpak B, Artyomov MN, Sergushichev A "
    "(2016, revised 2021). Fast gene set enrichment analysis. bioRxiv 060012. doi:10.1101/060012",
    "go": "The Gene Ontology Consortium (2023). The Gene Ontology knowledgebase in 2023. "
    "Genetics 224:iyad031. doi:10.1093/genetics/iyad031",
    "newcombe": "Newcombe RG (2006). Confidence intervals for an effect size measure based "
    "on the Mann-Whitney statistic. Part 2: asymptotic methods and evaluation. Statistics in "
    "Medicine 25:559-573. doi:10.1002/sim.2324",
    "snakemake": "Mölder F, Jablonski KP, Letcher B, et al. (2021). Sustainable data analysis "
    "with Snakemake. F1000Research 10:33. doi:10.12688/f1000research.29032.2",
    "scanpy": "Wolf FA, Angerer P, Theis FJ (2018). SCANPY: large-scale single-cell gene "
    "expression data analysis. Genome Biology 19:15. doi:10.1186/s13059-017-1382-0",
    "altaner": "Altaner C, Altanerova V, Cihova M, et al. (2013). Characterization of "
    'mesenchymal stem cells of "no-options" patients with critical limb ischemia treated '
    "by autologous bone marrow mononuclear cells. PLoS ONE 8:e73722. "
    "doi:10.1371/journal.pone.0073722",
    "liang": "Liang H, Zhao B, Ren Y, Li P, Dai X (2025). Application of Wharton's jelly "
    "mesenchymal stem cells in critical limb ischemia. Journal of Endovascular Therapy. "
    "doi:10.1177/15266028251361770",
    "isct": "Dominici M, Le Blanc K, Mueller I, et al. (2006). Minimal criteria for defining "
    "multipotent mesenchymal stromal cells. The International Society for Cellular Therapy "
    "position statement. Cytotherapy 8:315-317. doi:10.1080/14653240600855905",
}


def flatten(mapping, prefix: str = "") -> list[tuple[str, str]]:
    """Nested config -> sorted ('diffexp.alpha', '0.05') pairs; lists as JSON."""
    pairs = []
    for key in mapping:
        value = mapping[key]
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            pairs += flatten(value, name + ".")
        elif isinstance(value, (dict, list, tuple)):
            pairs.append((name, json.dumps(value, sort_keys=True, default=str)))
        elif value is None:
            pairs.append((name, "null"))
        elif isinstance(value, bool):
            pairs.append((name, "true" if value else "false"))
        else:
            pairs.append((name, str(value)))
    return pairs


def checksum_rows(inputs: dict) -> list[dict]:
    rows = []
    for name, entry in (inputs or {}).items():
        if name in ("gene_sets", "count_files"):
            label = "gene sets" if name == "gene_sets" else "input file"
            for collection, sub in (entry or {}).items():
                rows.append(_checksum_row(f"{label}: {collection}", sub))
        else:
            rows.append(_checksum_row(name, entry))
    return rows


def _checksum_row(name: str, entry) -> dict:
    entry = entry or {}
    return {
        "input": name,
        "path": format_text(entry.get("path", "")) or "(none)",
        "sha256": format_text(entry.get("sha256", "")),
        "bytes": format_int(entry["bytes"]) if "bytes" in entry else "",
    }


def read_provenance(path: str | Path) -> dict:
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(
            f"Report input '{path}' is not readable JSON ({err}); rerun rule provenance."
        ) from None
    missing = [k for k in ("workflow", "config", "tools", "inputs") if k not in record]
    if missing:
        raise InputError(
            f"Report input '{path}' lacks {', '.join(missing)}; rerun rule provenance."
        )
    return record


def methods_section(provenance: dict, config: dict, facts: dict, env: jinja2.Environment) -> dict:
    tools = provenance.get("tools", {})
    parameters = flatten(config)
    text = env.get_template(METHODS_TEMPLATE).render(
        config=config, tools=tools, facts=facts, provenance=provenance
    )
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]
    return {
        "workflow": provenance.get("workflow", {}),
        "created": provenance.get("created", ""),
        "platform": provenance.get("platform", {}),
        "tools": sorted(
            ((name, version or "not installed") for name, version in tools.items()),
            key=lambda item: item[0].lower(),
        ),
        "parameters": make_table(
            pd.DataFrame(parameters, columns=["parameter", "value"]),
            "parameters",
            [Column("parameter", "parameter"), Column("value", "value")],
            "parameters.tsv",
        ),
        "checksums": checksum_rows(provenance.get("inputs", {})),
        "outputs": make_table(
            pd.DataFrame(
                [
                    _checksum_row(name, entry)
                    for name, entry in (provenance.get("outputs") or {}).items()
                ],
                columns=["input", "path", "sha256", "bytes"],
            ).drop(columns="input"),
            "result-checksums",
            [
                Column("path", "file"),
                Column("bytes", "bytes", numeric=True),
                Column("sha256", "sha256"),
            ],
            "result_checksums.tsv",
        ),
        "paragraphs": paragraphs,
        "citations": [
            text
            for key, text in CITATIONS.items()
            if (key != "tximport" or config.get("quantifications"))
            and (key != "propeller" or (config.get("single_cell") or {}).get("group_by"))
        ],
    }
