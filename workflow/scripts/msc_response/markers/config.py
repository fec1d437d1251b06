"""The `markers` config section, checked when the workflow is parsed.

`workflow/rules/common.smk` calls it before any job runs, and the marker jobs call
it again to get the panel. The GMT file is read by the project's one reader,
`gene_sets.read_gmt`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from msc_response.common.errors import InputError
from msc_response.enrichment.gene_sets import read_gmt, resolve_path

PANEL_KEY = "markers.panel_gmt"


def panel_sets(gmt: str | Path) -> dict[str, list[str]]:
    """Set name -> symbols of the panel's GMT file, in file order."""
    collection = read_gmt(gmt, "markers panel", config_key=PANEL_KEY)
    return {name: list(gene_set.genes) for name, gene_set in collection.sets.items()}


def resolve_panel(
    gmt: str | Path | None, sets: list[str], extra: dict[str, list[str]] | None
) -> dict[str, list[str]]:
    """Panel name -> symbols: the named sets of the GMT file, then the config's own
    lists (`extra`; a name already taken from the GMT is replaced)."""
    panel: dict[str, list[str]] = {}
    if sets:
        if not gmt:
            raise InputError("config 'markers.panel_sets' needs 'markers.panel_gmt' (a GMT file).")
        available = panel_sets(gmt)
        unknown = [name for name in sets if name not in available]
        if unknown:
            raise InputError(
                f"config 'markers.panel_sets': {', '.join(repr(u) for u in unknown)} not in "
                f"'{gmt}'. Sets there: {', '.join(available)}."
            )
        panel = {name: available[name] for name in sets}
    for name, symbols in (extra or {}).items():
        if not symbols:
            raise InputError(f"config 'markers.panel.{name}': give at least one gene symbol.")
        panel[str(name)] = [str(s) for s in dict.fromkeys(symbols)]
    return panel


@dataclass
class MarkerConfig:
    """The `markers` config section checked at parse time."""

    gmt: str | None
    panel: dict[str, list[str]]
    positive: list[str]
    negative: list[str]


def check_marker_config(settings: dict, basedir: str | Path) -> MarkerConfig:
    """The panel and the identity marker sets, every set the config names checked;
    an InputError (with the file and the sets it has) otherwise."""
    gmt = settings.get("panel_gmt")
    gmt = str(resolve_path(gmt, basedir)) if gmt else None
    panel = resolve_panel(gmt, settings.get("panel_sets") or [], settings.get("panel") or {})
    identity = settings["identity"]
    sets = panel_sets(gmt) if gmt else {}
    members = {}
    for key in ("positive_set", "negative_set"):
        name = identity[key]
        if name in (settings.get("panel") or {}):
            members[key] = list(settings["panel"][name])
        elif name in sets:
            members[key] = sets[name]
        else:
            raise InputError(
                f"config 'markers.identity.{key}': '{name}' is neither a set of "
                f"'{gmt}' nor a list in 'markers.panel'. Sets there: {', '.join(sets) or 'none'}."
            )
    return MarkerConfig(gmt, panel, members["positive_set"], members["negative_set"])
