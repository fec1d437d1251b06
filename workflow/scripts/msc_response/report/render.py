"""Rendering the HTML report (rule report): `render` fills the Jinja2 template
`templates/report.html.j2` with the context `report.context.build_context` read from
the result files, and `write_report` does both and writes the page atomically. The
page needs nothing but itself: figures are base64 PNGs, CSS and JavaScript are
inlined, and every table carries its own data for the TSV download.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
import pandas as pd

from msc_response.report.context import build_context
from msc_response.report.files import ResultFiles, Stages
from msc_response.report.jinja import TEMPLATES, environment

MAIN_TEMPLATE = "report.html.j2"


def render(context: dict, env: jinja2.Environment | None = None) -> str:
    env = env or environment()
    # Inlined verbatim (the template marks them safe): our own files, not data.
    assets = {
        "css": (TEMPLATES / "report.css").read_text(),
        "js": (TEMPLATES / "report.js").read_text(),
    }
    return env.get_template(MAIN_TEMPLATE).render(**context, assets=assets)


def write_report(
    files: ResultFiles,
    sheet: pd.DataFrame,
    config: dict,
    output: str | Path,
    stages: Stages = Stages(),
) -> str:
    """Build, render and write the report (atomically); return the HTML."""
    from msc_response.common.tables import write_atomically

    env = environment()
    html = render(build_context(files, sheet, config, stages, env), env)
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    write_atomically(output, html.encode("utf-8"))
    return html
