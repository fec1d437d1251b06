"""Open a local HTML file in Debian's headless Chromium (driven by playwright) and
record what a person would notice: console errors, failed or external requests,
broken images.

Run as a script to screenshot a report's first screen (as in docs/):
    python -m tests.browser.page results/report/index.html docs/report_screenshot.png
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
# Debian's browser, never a downloaded one (no `playwright install`); no background
# traffic of its own, so every request seen comes from the page.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LAPTOP = {"width": 1366, "height": 768}


@dataclass
class Visit:
    page: object
    url: str
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    @property
    def foreign_requests(self) -> list[str]:
        """Requests for anything but the page itself (data: and blob: URLs stay in
        the page; Chromium does not report data: images as requests anyway)."""
        return [
            url
            for url in self.requests
            if url != self.url and not url.startswith(("data:", "blob:"))
        ]

    def broken_images(self) -> list[str]:
        return self.page.evaluate(
            "Array.from(document.images)"
            ".filter(i => !i.complete || i.naturalWidth === 0)"
            ".map(i => i.alt || i.src.slice(0, 60))"
        )


@contextmanager
def visit(path: str | Path, viewport: dict = LAPTOP):
    """Yield a Visit of the file at `path`, loaded, with its problems being recorded."""
    from playwright.sync_api import sync_playwright

    url = Path(path).resolve().as_uri()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=viewport, accept_downloads=True)
            page = context.new_page()
            record = Visit(page, url)
            page.on("request", lambda request: record.requests.append(request.url))
            page.on(
                "console",
                lambda message: (
                    record.console_errors.append(message.text) if message.type == "error" else None
                ),
            )
            page.on("pageerror", lambda error: record.console_errors.append(str(error)))
            page.goto(url, wait_until="load")
            yield record
        finally:
            browser.close()


def screenshot_first_screen(html: str | Path, png: str | Path) -> None:
    with visit(html) as record:
        record.page.screenshot(path=str(png))


if __name__ == "__main__":
    screenshot_first_screen(sys.argv[1], sys.argv[2])
