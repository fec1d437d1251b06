"""Read a rendered report like a reader: text per section, figures, links."""

from html.parser import HTMLParser
from pathlib import Path

REPORT = "results/report/index.html"


class ReportPage(HTMLParser):
    """Text per <section id> (scripts left out, whitespace collapsed by `read_report`),
    image sources, and every other src/href."""

    def __init__(self):
        super().__init__()
        self.text, self.images, self.links = {}, [], []
        self._section = None
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self._section = attrs.get("id")
            self.text[self._section] = ""
        if tag == "script":
            self._in_script = True
        if tag == "img":
            self.images.append(attrs.get("src") or "")
        else:
            self.links += [attrs[name] or "" for name in ("href", "src") if name in attrs]

    def handle_endtag(self, tag):
        if tag == "section":
            self._section = None
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._section and not self._in_script:
            self.text[self._section] += data


def read_report(workdir: Path) -> ReportPage:
    page = ReportPage()
    page.feed((Path(workdir) / REPORT).read_text())
    page.text = {key: " ".join(value.split()) for key, value in page.text.items()}
    return page
