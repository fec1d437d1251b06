"""Which files the HTML report reads: the paths the stages write (fixed in the
project's contracts), and which optional stages the run made.

Plain Python on purpose: the Snakefile imports it when it parses, to give rule
`report` its inputs, so that the rule and the report's reader cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

SIGNATURE_FILES = ("signature", "signature_performance", "signature_roc")
GSEA_FIGURES = ("dotplot", "gsea_top")

# The stages after DE that run for each kind of contrast (msc_response.design.contrasts),
# and why a stage does not run for a kind: the report says so where the stage would be.
KIND_STAGES = {
    "wald": ("crosscheck", "enrichment", "markers", "signature"),
    "within": ("enrichment", "markers", "signature"),
    "continuous": ("enrichment", "kind_markers"),
    "lrt": ("enrichment", "kind_markers"),
}
NOT_RUN = {
    "crosscheck": "the R cross-check (rule crosscheck_r) compares two levels of a factor "
    "only; the other kinds are held to R DESeq2 by the test suite (tests/unit/"
    "test_de_kinds_r.py)",
    "enrichment": "enrichment is not run for this kind of contrast",
    "markers": "marker tables with AUROCs compare two groups of samples",
    "signature": "the response signature is a classifier of two groups of samples, so it "
    "runs for two-level contrasts only",
}


def runs(kind: str, stage: str) -> bool:
    """Whether `stage` (crosscheck, enrichment, markers, signature) runs for a
    contrast of `kind`."""
    return stage in KIND_STAGES.get(kind, KIND_STAGES["wald"])


@dataclass(frozen=True)
class Stages:
    """What the run made beyond the fixed stages: the gene-set collections enrichment
    ran (none when it is off), whether the marker stage fitted a signature, whether
    the R cross-check ran, the contrasts the power stage ran for."""

    collections: tuple[str, ...] = ()
    signature: bool = True
    crosscheck: bool = False
    power: tuple[str, ...] = ()
    kinds: tuple = ()  # (contrast, kind) pairs; a contrast not listed is 'wald'
    # single_cell.group_by: (name, folder, contrasts) of each analysed population
    populations: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "collections", tuple(self.collections))
        object.__setattr__(
            self, "populations",
            tuple((str(n), str(f), tuple(c)) for n, f, c in self.populations),
        )
        object.__setattr__(self, "power", tuple(self.power))
        kinds = self.kinds.items() if isinstance(self.kinds, dict) else self.kinds
        object.__setattr__(self, "kinds", tuple((str(n), str(k)) for n, k in kinds))

    def kind(self, contrast: str) -> str:
        return dict(self.kinds).get(contrast, "wald")

    def runs(self, contrast: str, stage: str) -> bool:
        """Whether `stage` ran for `contrast`: on in the config and for its kind."""
        on = {"crosscheck": self.crosscheck, "signature": self.signature,
              "enrichment": bool(self.collections)}.get(stage, True)
        return on and runs(self.kind(contrast), stage)


@dataclass(frozen=True)
class ResultFiles:
    """Paths of the result files the report reads, under `root` (the contract's names)."""

    root: str = "results"

    def _path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    @property
    def design_audit(self) -> str:
        return self._path("qc", "design_audit.tsv")

    @property
    def samples_qc(self) -> str:
        return self._path("qc", "samples_qc.tsv")

    def qc_figures(self) -> dict[str, str]:
        return {
            name: self._path("qc", f"{name}.png")
            for name in ("library_sizes", "pca", "sample_distances")
        }

    @property
    def identity(self) -> str:
        return self._path("markers", "identity.tsv")

    @property
    def provenance(self) -> str:
        return self._path("provenance.json")

    @property
    def enrichment_summary(self) -> str:
        return self._path("enrichment", "summary.tsv")

    def de(self, contrast: str) -> dict[str, str]:
        return {
            "table": self._path("de", f"{contrast}.tsv"),
            "summary": self._path("de", f"{contrast}.summary.tsv"),
            "ma": self._path("de", f"{contrast}.ma.png"),
            "volcano": self._path("de", f"{contrast}.volcano.png"),
        }

    def crosscheck(self, contrast: str) -> str:
        return self._path("crosscheck", f"{contrast}.tsv")

    def enrichment(self, contrast: str, collection: str) -> dict[str, str]:
        folder = ("enrichment", contrast)
        return {
            kind: self._path(*folder, f"{collection}.{kind}.{ext}")
            for kind, ext in (
                ("gsea", "tsv"),
                ("ora_up", "tsv"),
                ("ora_down", "tsv"),
                ("sets", "tsv"),
                ("dotplot", "png"),
                ("gsea_top", "png"),
            )
        }

    def markers(self, contrast: str) -> dict[str, str]:
        files = {
            name: self._path("markers", contrast, f"{name}.tsv")
            for name in ("markers", "panel", "signature", "signature_performance")
        }
        files.update(
            {
                name: self._path("markers", contrast, f"{name}.png")
                for name in (
                    "strip_top",
                    "strip_panel",
                    "heatmap",
                    "panel_dotplot",
                    "volcano_panel",
                    "signature_roc",
                )
            }
        )
        return files

    def power(self, contrast: str) -> dict[str, str]:
        return {
            "table": self._path("power", f"{contrast}.tsv"),
            "figure": self._path("power", f"{contrast}.png"),
        }

    def kind_markers(self, contrast: str) -> dict[str, str]:
        """A continuous or LRT contrast's marker table and figure (markers.kinds)."""
        return {
            "markers": self._path("markers", contrast, "markers.tsv"),
            "figure": self._path("markers", contrast, "expression.png"),
        }

    def all(self, contrasts: Iterable[str], stages: Stages) -> list[str]:
        """Every file the report reads, for the rule's `input:`."""
        paths = [
            self.design_audit,
            self.samples_qc,
            *self.qc_figures().values(),
            self.identity,
            self.provenance,
        ]
        if any(stages.runs(c, "enrichment") for c in contrasts):
            paths.append(self.enrichment_summary)
        for contrast in contrasts:
            paths += self.contrast_files(contrast, stages)
            if contrast in stages.power:
                paths += self.power(contrast).values()
        if stages.populations:
            paths += self.composition().values()
            for _, folder, analysed in stages.populations:
                population = self.population(folder)
                for contrast in analysed:
                    paths += population.contrast_files(contrast, stages, crosscheck=False)
        return paths

    def contrast_files(self, contrast: str, stages: Stages, crosscheck: bool = True) -> list[str]:
        """A contrast's DE, R cross-check, enrichment and marker files (a population's
        contrast has them all but the cross-check)."""
        paths = list(self.de(contrast).values())
        if crosscheck and stages.runs(contrast, "crosscheck"):
            paths.append(self.crosscheck(contrast))
        if stages.runs(contrast, "enrichment"):
            for collection in stages.collections:
                paths += [
                    path
                    for key, path in self.enrichment(contrast, collection).items()
                    # an LRT has no direction: no GSEA, so no GSEA figures
                    if stages.kind(contrast) != "lrt" or key not in GSEA_FIGURES
                ]
        if stages.runs(contrast, "markers"):
            paths += [
                path
                for name, path in self.markers(contrast).items()
                if stages.runs(contrast, "signature") or name not in SIGNATURE_FILES
            ]
        if stages.runs(contrast, "kind_markers"):
            paths += self.kind_markers(contrast).values()
        return paths

    def population(self, folder: str) -> "ResultFiles":
        """The result tree of one population of single_cell.group_by."""
        return ResultFiles(self._path("populations", folder))

    def composition(self) -> dict[str, str]:
        """The tables and figure of the cell populations (rules population_table and
        composition)."""
        return {
            "populations": self._path("qc", "populations.tsv"),
            "cells": self._path("qc", "population_cells.tsv"),
            "table": self._path("qc", "composition.tsv"),
            "figure": self._path("qc", "composition.png"),
        }
