"""Assembling the report: every section's data read from the result files that the
run's stages made, as plain dicts, tables and embedded figures (`build_context`).
Rendering them is `report.render`'s job."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2
import pandas as pd

from msc_response.report.blocks import (
    format_text,
)
from msc_response.report.cohort import cohort_section, qc_section
from msc_response.report.contrast import de_section, enrichment_overview, enrichment_section
from msc_response.report.files import NOT_RUN, ResultFiles, Stages, runs
from msc_response.report.jinja import environment
from msc_response.report.markers import kind_markers_section, markers_section
from msc_response.report.methods import methods_section, read_provenance
from msc_response.report.populations import populations_section
from msc_response.report.power import power_section
from msc_response.report.reading import (
    DESIGN_AUDIT_REQUIRED,
    categorical_design_variables,
    contrast_label,
    shown_contrast,
    read_tsv,
    slug,
)


@dataclass
class ReportSettings:
    title: str = "msc-response report"
    top_genes: int = 200
    top_terms: int = 20

    @classmethod
    def from_config(cls, config: dict) -> "ReportSettings":
        section = config.get("report", {}) or {}
        return cls(**{k: section[k] for k in ("title", "top_genes", "top_terms") if k in section})


def contrast_entry(
    files: ResultFiles,
    name: str,
    spec: dict,
    config: dict,
    settings: ReportSettings,
    stages: Stages,
    sheet: pd.DataFrame,
    cohort: bool = True,
) -> dict:
    """One contrast's section: DE, enrichment, markers, signature (and, for the whole
    cohort, not a population of it, the R cross-check and power)."""
    contrast = shown_contrast(spec, config.get("design", ""))
    collections = list(stages.collections)
    enrichment = stages.runs(name, "enrichment")
    return {
        "name": name,
        "id": f"contrast-{slug(name)}",
        "title": f"Contrast: {contrast_label(contrast)}",
        "label": contrast_label(contrast),
        "kind": contrast["kind"],
        "meaning": contrast["meaning"],
        "variable": contrast["variable"],
        "test": format_text(contrast["test"]),
        "reference": format_text(contrast["reference"]),
        "de": de_section(
            files, name, contrast, config, settings.top_genes,
            cohort and stages.runs(name, "crosscheck"),
        ),
        "enrichment": [
            enrichment_section(files, name, collection, contrast, config, settings.top_terms)
            for collection in collections
        ] if enrichment else [],
        "markers": markers_section(
            files, name, contrast, config, settings.top_genes, stages.runs(name, "signature"),
        ) if stages.runs(name, "markers") else None,
        "kind_markers": kind_markers_section(
            files, name, contrast, config, settings.top_genes
        ) if stages.runs(name, "kind_markers") else None,
        # why a stage did not run for this kind of contrast
        "not_run": {
            stage: NOT_RUN[stage]
            for stage in ("enrichment", "markers", "signature")
            if not runs(contrast["kind"], stage)
            and (stage != "enrichment" or collections)
        },
        "power": (
            power_section(files, name, contrast, sheet, config)
            if cohort and name in stages.power
            else None
        ),
    }


def build_context(
    files: ResultFiles,
    sheet: pd.DataFrame,
    config: dict,
    stages: Stages = Stages(),
    env: jinja2.Environment | None = None,
) -> dict:
    """Everything the template shows, read from the result files of `files` that the
    run's `stages` made."""
    env = env or environment()
    settings = ReportSettings.from_config(config)
    contrasts = config["contrasts"]
    collections = list(stages.collections)
    audit = read_tsv(files.design_audit, DESIGN_AUDIT_REQUIRED, "design audit")
    cohort = cohort_section(sheet, audit, Path(files.design_audit).read_bytes(), config)
    qc = qc_section(files, sheet, categorical_design_variables(audit), config)
    sections = [
        contrast_entry(files, name, spec, config, settings, stages, sheet)
        for name, spec in contrasts.items()
    ]
    provenance = read_provenance(files.provenance)
    facts = {
        "n_samples": len(sheet),
        "n_genes": sections[0]["de"]["counts"]["genes"] if sections else None,
        "contrasts": [
            {
                "name": s["name"],
                "label": s["label"],
                "variable": s["variable"],
                "kind": s["kind"],
                "up": s["de"]["counts"]["up"],
                "down": s["de"]["counts"]["down"],
            }
            for s in sections
        ],
        "collections": collections,
        "source_in_design": "source" in categorical_design_variables(audit),
        "power": bool(stages.power),
    }
    return {
        "title": settings.title,
        "created": provenance.get("created", ""),
        "workflow": provenance.get("workflow", {}),
        "cohort": cohort,
        "qc": qc,
        "contrasts": sections,
        "enrichment_summary": (
            enrichment_overview(
                files, [n for n in contrasts if stages.runs(n, "enrichment")], collections
            )
            if any(stages.runs(n, "enrichment") for n in contrasts)
            else None
        ),
        "collections": collections,
        "populations": (
            populations_section(files, sheet, config, stages, settings, contrast_entry)
            if stages.populations
            else None
        ),
        "methods": methods_section(provenance, config, facts, env),
        "settings": settings,
    }
