"""The HTML report from a small results tree shaped as the stages write it."""

import base64
import gzip
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from msc_response.common.errors import InputError
from msc_response.report import blocks as report_blocks
from msc_response.report import render as report_render
from msc_response.report.files import ResultFiles, Stages
from msc_response.report.methods import flatten
from msc_response.report.reading import DESIGN_AUDIT_REQUIRED, slug

from ._report_fixture import COLLECTIONS, CONTRASTS, context, render, write_results

SEEDS = ["IL4", "IL6", "CCL4", "CDH1", "PDX1"]
# 3 QC figures; per contrast 2 DE, 2 per collection, 6 markers
FIGURES = 3 + len(CONTRASTS) * (2 + 2 * len(COLLECTIONS) + 6)


class Page(HTMLParser):
    """Elements of the page: ids, attribute values, text per section, embedded data."""

    def __init__(self):
        super().__init__()
        self.attributes = []
        self.images = []
        self.ids = set()
        self.data_blocks = {}
        self.sections = {}
        self._section = None
        self._data = None
        self.tags = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        self.attributes += [(tag, name, value or "") for name, value in attrs.items()]
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "img":
            self.images.append(attrs)
        if tag == "section":
            self._section = attrs.get("id")
            self.sections[self._section] = ""
        if tag == "script" and attrs.get("type") == "application/octet-stream":
            self._data = (attrs["id"], attrs["data-encoding"])
            self.data_blocks[self._data] = ""

    def handle_endtag(self, tag):
        if tag == "section":
            self._section = None
        if tag == "script":
            self._data = None

    def handle_data(self, data):
        if self._data:
            self.data_blocks[self._data] += data
        elif self._section and self.tags[-1:] != ["script"]:
            self.sections[self._section] += data


def build(root: Path, empty: bool = False, **changes) -> tuple[str, Page, dict]:
    config = write_results(root, empty=empty)
    config.update(changes)
    html = render(root, config)
    page = Page()
    page.feed(html)
    return html, page, config


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    root = tmp_path_factory.mktemp("full")
    return (root, *build(root))


@pytest.fixture(scope="module")
def empty(tmp_path_factory):
    root = tmp_path_factory.mktemp("empty")
    return (root, *build(root, empty=True))


def section_text(page: Page, section_id: str) -> str:
    return " ".join(page.sections[section_id].split())


def test_numbers_are_formatted_for_reading():
    assert report_blocks.format_p(0.01234) == "0.0123"
    assert report_blocks.format_p(1.234e-5) == "1.23e-5"
    assert report_blocks.format_p(0.0) == "< 1e-300"
    assert report_blocks.format_p(np.nan) == "NA"
    assert report_blocks.format_fixed(2)(-0.001) == "0.00"
    assert report_blocks.format_fixed(2)(1.2345) == "1.23"
    assert report_blocks.format_mean(1234.6) == "1,235"
    assert report_blocks.format_mean(3.14159) == "3.1"
    assert report_blocks.format_int(41000000.0) == "41,000,000"
    assert report_blocks.format_genes(3)("A;B;C;D;E") == "A, B, C … (+2)"
    assert [report_blocks.truthy(v) for v in ("True", "false", 1, 0, np.nan, "yes")] == [
        True,
        False,
        True,
        False,
        False,
        True,
    ]


def test_result_files_follow_the_contract():
    files = ResultFiles("results")
    paths = files.all(["c1"], Stages(collections=["go_bp"], crosscheck=True))
    for expected in (
        "results/qc/samples_qc.tsv",
        "results/markers/identity.tsv",
        "results/provenance.json",
        "results/de/c1.tsv",
        "results/de/c1.volcano.png",
        "results/crosscheck/c1.tsv",
        "results/enrichment/c1/go_bp.gsea.tsv",
        "results/enrichment/c1/go_bp.ora_down.tsv",
        "results/enrichment/c1/go_bp.dotplot.png",
        "results/enrichment/summary.tsv",
        "results/markers/c1/signature_performance.tsv",
        "results/markers/c1/signature_roc.png",
    ):
        assert expected in paths
    assert len(paths) == len(set(paths))
    assert "results/crosscheck/c1.tsv" not in files.all(["c1"], Stages(["go_bp"]))
    without_signature = files.all(["c1"], Stages(["go_bp"], signature=False))
    assert "results/markers/c1/signature.tsv" not in without_signature
    assert "results/markers/c1/panel.tsv" in without_signature


def test_report_is_self_contained(full):
    _, html, page, _ = full
    for tag, name, value in page.attributes:
        if name in ("src", "href", "action", "poster", "data", "srcset"):
            assert value.startswith(("data:image/png;base64,", "#")), (tag, name, value[:80])
    assert not re.search(
        r"url\(|@import|https?://", html.split("<body")[0].replace("Content-Security-Policy", "")
    )  # nothing in the head loads anything
    assert "default-src 'none'" in html  # and the browser is told to refuse it
    assert {"link", "iframe", "object", "embed"}.isdisjoint(page.tags)
    assert len(page.images) == FIGURES
    for image in page.images:
        data = base64.b64decode(image["src"].split(",", 1)[1])
        assert report_blocks.png_info(data) is not None


def test_sections_navigation_and_one_section_per_contrast(full):
    _, html, page, _ = full
    for section in ("overview", "cohort", "qc", "methods"):
        assert section in page.ids
        assert f'href="#{section}"' in html
    for name in CONTRASTS:
        section = f"contrast-{slug(name)}"
        assert section in page.ids and f'href="#{section}"' in html
        for part in ("de", "enrichment", "markers", "signature"):
            assert f"{section}-{part}" in page.ids


def test_cohort_and_qc_sections(full):
    _, _, page, _ = full
    cohort = section_text(page, "cohort")
    assert "12 samples" in cohort and "~ batch + source + response" in cohort
    assert "7 residual degrees of freedom" in cohort
    assert "nearly confounded" in cohort  # the audit's flag is shown
    assert "response by source" in cohort
    qc = section_text(page, "qc")
    assert (
        "1 sample flagged as outlier" in qc and "S04: small library; far from other samples" in qc
    )
    assert "S08 (few detected genes)" in qc  # a note, not an outlier
    assert "S06: PTPRC (CD45) expressed" in qc  # identity check


def test_de_section_states_counts_and_embeds_the_full_table(full):
    root, _, page, _ = full
    name = "responder_vs_non_responder"
    text = section_text(page, f"contrast-{name}")
    table = pd.read_csv(root / f"results/de/{name}.tsv", sep="\t")
    up = int(((table["padj"] < 0.05) & (table["log2FoldChange"] > 0)).sum())
    down = int(((table["padj"] < 0.05) & (table["log2FoldChange"] < 0)).sum())
    assert f"{up + down} genes differ at adjusted p < 0.05: {up} up and {down} down" in text
    # the page shows the top rows; the download is the whole file, byte for byte
    ((key, encoding),) = [k for k in page.data_blocks if k[0] == f"de-{name}-data"]
    data = base64.b64decode(page.data_blocks[(key, encoding)])
    if encoding == "gzip+base64":
        data = gzip.decompress(data)
    assert data == (root / f"results/de/{name}.tsv").read_bytes()


def test_panel_names_the_seed_genes_with_their_status(full):
    _, html, page, _ = full
    text = section_text(page, "contrast-responder_vs_non_responder")
    panel = text[text.index("Markers and curated panel") : text.index("Marker genes")]
    for gene in SEEDS:
        assert gene in panel
    assert "NT5E (not in data)" in panel
    assert "CDH1 (down)" in panel


def test_enrichment_shows_representative_sets_and_escapes_text(full):
    _, html, page, _ = full
    text = section_text(page, "contrast-responder_vs_non_responder")
    assert "go_bp" in text and "representative sets" in text
    assert "msc_biology" in text
    # a set description with markup in it is shown as text, never as markup
    assert "go_bp process 0 &lt;b&gt;&amp;amp;&lt;/b&gt;" in html
    assert "<b>&amp;</b>" not in html


def test_signature_reports_auroc_with_interval_and_null(full):
    _, _, page, _ = full
    text = section_text(page, "contrast-responder_vs_non_responder")
    # the interval is the sampling interval; the repeats' spread is named for what it is
    assert "Cross-validated AUROC 0.78 (95% interval 0.50 to 1.00) against 0.50 with permuted" in text
    assert "permutation p = 0.01" in text and "95th percentile is 0.66" in text
    assert "10 repeats of the 5-fold nested cross-validation span 0.61 to 0.93" in text
    assert "not a confidence interval" in text


def test_methods_versions_parameters_checksums_and_citations(full):
    _, html, page, config = full
    methods = section_text(page, "methods")
    assert "pydeseq2" in methods and "0.5.4" in methods
    assert "c" * 64 in methods and "gene sets: go_bp" in methods
    assert "<td>inmoose</td><td>not installed</td>" in html
    assert "e" * 64 in methods  # result files, from the provenance record
    text = section_text(page, "methods")
    assert "PyDESeq2 0.5.4 (Muzellec et al. 2023)" in text
    assert "DESeq2 (Love et al. 2014)" in text
    assert "with the design ~ batch + source + response" in text
    assert "adjusted p-value below 0.05" in text
    assert "fewer than 10 reads" in text
    assert "gseapy 1.3.1 (Fang et al. 2023)" in text
    assert "(GSEA; Subramanian et al. 2005) ranked the tested genes by the Wald statistic" in text
    assert "multilevel algorithm of fgsea (Korotkevich et al. 2021), random seed 42" in text
    assert "go_bp (15 to 500 genes per set), msc_biology (3 to 500 genes per set)" in text
    assert "(Gene Ontology Consortium 2023)" in text
    assert "|log2 fold change| of at least 0.5" in text
    for reference in (
        "Genome Biology 15:550",
        "Bioinformatics 39:btad547",
        "Bioinformatics 39:btac757",
        "PNAS",
        "bioRxiv",
        "Genetics",
        "F1000Research",
        "Genome Biology 19:15",
        "PLoS ONE 8:e73722",
        "10.1177/15266028251361770",
        "Cytotherapy 8:315",
    ):
        assert reference in methods
    # every parameter is in the embedded parameters table
    (key,) = [k for k in page.data_blocks if k[0] == "parameters-data"]
    parameters = base64.b64decode(page.data_blocks[key]).decode()
    for name, value in flatten(config):
        assert f"{name}\t{value}" in parameters


def test_methods_text_follows_the_parameters(tmp_path):
    changed = {
        "diffexp": {
            **write_results(tmp_path)["diffexp"],
            "alpha": 0.1,
            "lfc_threshold": 1,
            "prefilter": {"min_count": 0, "min_samples": None},
        },
    }
    _, page, _ = build(tmp_path, **changed)
    text = section_text(page, "methods")
    assert "adjusted p-value below 0.1" in text
    assert "|log2 fold change| ≤ 1" in text
    assert "were removed before fitting" not in text


def test_rendering_is_deterministic(full):
    root, html, _, config = full
    assert report_render.render(context(root, config)) == html


def test_nothing_significant_renders_with_clear_statements(empty):
    _, html, page, _ = empty
    assert len(page.images) == FIGURES
    for name in CONTRASTS:
        text = section_text(page, f"contrast-{slug(name)}")
        assert "No gene reaches adjusted p < 0.05 in this contrast" in text
        assert "no set reaches FDR < 0.05" in text
        assert "Nothing in go_bp is significant for this contrast" in text
        assert "No marker gene passes the marker criteria" in text
        assert "No signature performance was estimated: fewer than 5 samples" in text
        assert "PDX1 (not in data)" in text
    assert "No sample is flagged as an outlier" in section_text(page, "qc")
    assert "All samples pass the MSC identity check" in section_text(page, "qc")
    assert "found no confounded" in section_text(page, "cohort")


def test_without_enrichment_there_is_no_enrichment_section(tmp_path):
    import shutil

    config = write_results(tmp_path)
    shutil.rmtree(tmp_path / "results/enrichment")
    config["enrichment"] = {"enabled": False, "collections": {}}
    html = render(tmp_path, config, Stages(collections=[]))
    page = Page()
    page.feed(html)
    assert "contrast-responder_vs_non_responder-enrichment" not in page.ids
    assert "Gene-set enrichment" not in section_text(page, "methods")
    assert "results/enrichment/summary.tsv" not in ResultFiles().all(
        CONTRASTS, Stages()
    )


def test_a_long_list_of_flagged_samples_is_folded(tmp_path):
    config = write_results(tmp_path)
    identity = tmp_path / "results/markers/identity.tsv"
    table = pd.read_csv(identity, sep="\t").assign(flagged=True, reason="THY1 low")
    table.to_csv(identity, sep="\t", index=False)
    page = Page()
    page.feed(render(tmp_path, config))
    qc = section_text(page, "qc")
    assert "12 samples do not look like MSCs" in qc
    assert "S08: THY1 low and 4 more S09: THY1 low" in qc


def test_without_signature_the_report_says_so(tmp_path):
    config = write_results(tmp_path)
    for name in CONTRASTS:
        for kind in ("signature.tsv", "signature_performance.tsv", "signature_roc.png"):
            (tmp_path / f"results/markers/{name}/{kind}").unlink()
    page = Page()
    page.feed(render(tmp_path, config, Stages(tuple(COLLECTIONS), signature=False)))
    text = section_text(page, "contrast-responder_vs_non_responder")
    assert "No signature performance was estimated: the marker stage was run without it" in text
    assert len(page.images) == FIGURES - len(CONTRASTS)


def test_missing_figure_is_a_note_not_a_broken_image(tmp_path):
    config = write_results(tmp_path)
    roc = tmp_path / "results/markers/responder_vs_non_responder/signature_roc.png"
    roc.write_bytes(b"not a png")
    html = render(tmp_path, config)
    assert "This figure was not produced" in html and "signature_roc.png" in html
    assert html.count("<img ") == FIGURES - 1


def test_a_table_without_the_contract_columns_is_named(tmp_path):
    config = write_results(tmp_path)
    qc = tmp_path / "results/qc/samples_qc.tsv"
    pd.read_csv(qc, sep="\t").drop(columns=["flag", "flag_reason"]).to_csv(
        qc, sep="\t", index=False
    )
    with pytest.raises(
        InputError, match=r"samples_qc.tsv.*lacks the column\(s\) flag, flag_reason"
    ):
        context(tmp_path, config)


def test_png_size_and_dpi_are_read(tmp_path):
    write_results(tmp_path)
    data = (tmp_path / "results/qc/pca.png").read_bytes()
    width, height, dpi = report_blocks.png_info(data)
    assert (width, height) == (600, 400) and round(dpi) == 100
    shown = report_blocks.figure(tmp_path / "results/qc/pca.png", "t", "c")
    assert shown["width"] == 576  # 6 inches at 96 CSS pixels per inch
    assert report_blocks.png_info(b"GIF89a" + bytes(40)) is None


def test_report_reads_the_design_audit_columns_the_audit_writes():
    from msc_response.design.audit import COLUMNS

    assert DESIGN_AUDIT_REQUIRED == COLUMNS


def test_header_names_the_release_outside_a_git_checkout(full):
    """A release tarball (no git): the version and 'not a git checkout', never 'None'."""
    root, html, _, config = full
    assert "commit 0123456789ab" in html and "not a git checkout" not in html
    ctx = context(root, config)
    ctx["workflow"] = {"name": "msc-response", "release": "0.19.0", "git_checkout": False,
                       "git_commit": None, "git_dirty": None, "version": "0.19.0"}
    header = report_render.render(ctx).split("</header>")[0]
    assert "msc-response 0.19.0" in header and "not a git checkout" in header
    assert "None" not in header
