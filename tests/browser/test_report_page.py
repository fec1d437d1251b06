"""The HTML report in a real browser: no errors, no network, working tables."""

from pathlib import Path

import pytest

from msc_response.report import blocks as report_blocks
from tests.unit._report_fixture import render as write_report
from tests.unit._report_fixture import write_results

from .page import LAPTOP, visit

pytestmark = pytest.mark.browser

CONTRAST = "responder_vs_non_responder"
DE_TABLE = f"#de-{CONTRAST}"


def render(root: Path, empty: bool = False, config: dict | None = None) -> Path:
    """Write the fixture results under `root` (unless `config` says they are there)
    and render the report; return its path."""
    write_report(root, config or write_results(root, empty=empty))
    return root / "results/report/index.html"


@pytest.fixture(scope="module")
def full_report(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    return root, render(root, empty=False)


def column_keys(page, table: str, index: int) -> list:
    """The sort keys (numeric cells) or texts of one column, in the DOM's order now."""
    return page.evaluate(
        """([table, index]) => Array.from(document.querySelector(table).tBodies[0].rows)
            .filter(r => !r.hidden)
            .map(r => { const c = r.cells[index];
                        return c.hasAttribute('data-sort') ? c.getAttribute('data-sort') : c.textContent.trim(); })""",
        [table, index],
    )


def header_index(page, table: str, label: str) -> int:
    labels = page.evaluate(
        "t => Array.from(document.querySelector(t).tHead.rows[0].cells).map(c => c.textContent.trim())",
        table,
    )
    return labels.index(label)


def test_page_loads_offline_without_errors(full_report, tmp_path):
    root, html = full_report
    with visit(html) as record:
        page = record.page
        images = page.evaluate("document.images.length")
        assert images >= 8
        assert record.broken_images() == []
        # scroll through the whole page so everything is laid out and decoded
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        page.wait_for_timeout(200)
        assert record.broken_images() == []
        assert record.console_errors == []
        assert record.foreign_requests == [], record.foreign_requests
        screenshot = tmp_path / "first_screen.png"
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(screenshot))
        data = screenshot.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert report_blocks.png_info(data)[:2] == (LAPTOP["width"], LAPTOP["height"])


def test_clicking_a_header_sorts_the_table(full_report):
    _, html = full_report
    with visit(html) as record:
        page = record.page
        column = header_index(page, DE_TABLE, "log2 FC")
        header = page.locator(f"{DE_TABLE} thead th").nth(column)
        header.click()
        keys = column_keys(page, DE_TABLE, column)
        numbers = [float(k) for k in keys if k != ""]
        assert numbers == sorted(numbers) and len(numbers) > 5
        assert all(k == "" for k in keys[len(numbers) :]), "NA sorts last"
        assert header.get_attribute("aria-sort") == "ascending"
        header.click()
        numbers = [float(k) for k in column_keys(page, DE_TABLE, column) if k != ""]
        assert numbers == sorted(numbers, reverse=True)
        assert header.get_attribute("aria-sort") == "descending"
        symbol = header_index(page, DE_TABLE, "symbol")
        page.locator(f"{DE_TABLE} thead th").nth(symbol).click()
        symbols = column_keys(page, DE_TABLE, symbol)
        assert symbols == sorted(symbols, key=str.lower)
        assert record.console_errors == []


def test_search_filters_rows(full_report):
    _, html = full_report
    with visit(html) as record:
        page = record.page
        total = page.evaluate(f"document.querySelector('{DE_TABLE}').tBodies[0].rows.length")
        search = page.locator(f'input.table-search[data-table="de-{CONTRAST}"]')
        search.fill("CDH1")
        symbols = column_keys(page, DE_TABLE, header_index(page, DE_TABLE, "symbol"))
        assert symbols == ["CDH1"]
        count = page.locator(f'[data-count-for="de-{CONTRAST}"]').text_content()
        assert count == f"1 of {total} rows match \u201cCDH1\u201d"
        search.fill("")
        assert len(column_keys(page, DE_TABLE, 0)) == total
        assert (
            page.locator(f'[data-count-for="de-{CONTRAST}"]').text_content()
            == f"top {total} of 37 rows"
        )
        assert record.console_errors == []


def test_download_link_saves_the_full_table(full_report, tmp_path):
    root, html = full_report
    with visit(html) as record:
        page = record.page
        links = page.locator("a[data-download]")
        assert links.count() >= 10
        link = page.locator(f'a[data-download="de-{CONTRAST}"]')
        assert link.get_attribute("download") == f"{CONTRAST}.de.tsv"
        with page.expect_download() as download:
            link.click()
        saved = tmp_path / "de.tsv"
        download.value.save_as(saved)
        assert saved.read_bytes() == (root / f"results/de/{CONTRAST}.tsv").read_bytes()
        assert record.console_errors == []
        assert record.foreign_requests == []


def test_large_table_download_is_unpacked_in_the_page(tmp_path):
    """A table embedded gzip-compressed comes out of the page as the plain file."""
    config = write_results(tmp_path)
    table = tmp_path / f"results/de/{CONTRAST}.tsv"
    header, *rows = table.read_text().splitlines(keepends=True)
    copies = 2 * report_blocks.COMPRESS_ABOVE_BYTES // sum(map(len, rows)) + 1
    table.write_text(header + "".join(rows * copies))
    html = render(tmp_path, config=config)
    assert 'data-encoding="gzip+base64"' in html.read_text()
    with visit(html) as record:
        with record.page.expect_download() as download:
            record.page.locator(f'a[data-download="de-{CONTRAST}"]').click()
        saved = tmp_path / "big.tsv"
        download.value.save_as(saved)
        assert saved.read_bytes() == table.read_bytes()
        assert record.console_errors == []


def test_report_with_nothing_significant_renders_cleanly(tmp_path):
    html = render(tmp_path, empty=True)
    with visit(html) as record:
        assert record.page.locator("p.nothing").count() >= 6
        assert record.broken_images() == []
        assert record.console_errors == []
        assert record.foreign_requests == []
