"""The provenance record: checksums, git state, versions, and what makes two records equal."""

import hashlib
import json
import shutil
import subprocess
from datetime import datetime, timezone

import pytest

from msc_response.common import provenance as prov


def test_file_record_is_the_sha256_and_size_of_the_bytes(tmp_path):
    data = b"gene_id\tS1\nG1\t5\n" * 100_000  # > one read block
    path = tmp_path / "counts.tsv"
    path.write_bytes(data)
    record = prov.file_record(path)
    assert record == {
        "path": str(path),
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
    }


def test_inputs_without_annotation_or_gene_sets(tmp_path):
    (tmp_path / "c.tsv").write_text("x")
    (tmp_path / "s.tsv").write_text("y")
    (tmp_path / "b.gmt").write_text("SET\tdesc\tG1\n")
    (tmp_path / "a.gmt").write_text("SET\tdesc\tG2\n")
    bare = prov.input_records(str(tmp_path / "c.tsv"), str(tmp_path / "s.tsv"), None, {})
    assert bare["annotation"] is None and bare["gene_sets"] == {}
    assert bare["counts"]["sha256"] == hashlib.sha256(b"x").hexdigest()
    sets = prov.input_records(
        str(tmp_path / "c.tsv"),
        str(tmp_path / "s.tsv"),
        None,
        {"msc": str(tmp_path / "b.gmt"), "go_bp": str(tmp_path / "a.gmt")},
    )["gene_sets"]
    assert list(sets) == ["go_bp", "msc"]  # sorted: the record does not depend on order
    assert sets["msc"]["sha256"] == hashlib.sha256(b"SET\tdesc\tG1\n").hexdigest()
    # files shipped with the workflow: recorded by their path inside it
    shipped = prov.input_records(
        str(tmp_path / "c.tsv"), str(tmp_path / "s.tsv"), None,
        {"msc": str(tmp_path / "b.gmt")}, workflow_dir=tmp_path,
    )["gene_sets"]
    assert shipped["msc"]["path"] == "b.gmt"
    elsewhere = prov.input_records(
        str(tmp_path / "c.tsv"), str(tmp_path / "s.tsv"), None,
        {"msc": str(tmp_path / "b.gmt")}, workflow_dir=tmp_path / "workflow",
    )["gene_sets"]
    assert elsewhere["msc"]["path"] == str(tmp_path / "b.gmt")


def test_outputs_hash_tables_and_name_figures(tmp_path):
    (tmp_path / "t.tsv").write_text("a\n1\n")
    (tmp_path / "f.png").write_bytes(b"\x89PNG")
    records = prov.output_records([str(tmp_path / "t.tsv"), str(tmp_path / "f.png")])
    assert records[str(tmp_path / "t.tsv")]["sha256"] == hashlib.sha256(b"a\n1\n").hexdigest()
    assert records[str(tmp_path / "f.png")] == {"path": str(tmp_path / "f.png")}


def test_pinned_packages_and_their_versions(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# pins\n-r other.txt\npandas==2.3.3  # tables\n\nnot-installed-pkg-xyz==1.0\n")
    assert prov.pinned_packages(requirements) == ["pandas", "not-installed-pkg-xyz"]
    versions = prov.tool_versions(["pandas", "not-installed-pkg-xyz"])
    import pandas

    assert versions["pandas"] == pandas.__version__
    assert versions["not-installed-pkg-xyz"] is None
    assert versions["python"].count(".") == 2


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_workflow_version_from_git(tmp_path):
    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    from msc_response import __version__

    # a release tarball or `git archive`: the release, and no commit
    assert prov.workflow_version(tmp_path) == {
        "name": "msc-response", "release": __version__, "git_checkout": False,
        "git_commit": None, "git_dirty": None, "version": __version__,
    }
    git("init", "-q")
    (tmp_path / "Snakefile").write_text("rule all:\n")
    git("add", "Snakefile")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    head = subprocess.run(
        ["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    clean = prov.workflow_version(tmp_path)
    assert clean["git_commit"] == head and clean["git_dirty"] is False
    assert clean["version"] == head[:7] and clean["git_checkout"] is True
    (tmp_path / "untracked.txt").write_text("results are not the workflow")
    assert prov.workflow_version(tmp_path)["git_dirty"] is False
    (tmp_path / "Snakefile").write_text("rule all:\n    input: []\n")
    dirty = prov.workflow_version(tmp_path)
    assert dirty["git_dirty"] is True and dirty["version"] == head[:7] + "-dirty"


def test_record_round_trips_and_differs_only_in_time_stamp(tmp_path):
    (tmp_path / "c.tsv").write_text("x")
    common = dict(
        workflow={"name": "msc-response", "git_commit": None, "git_dirty": None, "version": None},
        config={"design": "~ response", "contrasts": {"a_vs_b": {"variable": "response"}}},
        tools={"python": "3.11.7"},
        inputs=prov.input_records(str(tmp_path / "c.tsv"), str(tmp_path / "c.tsv"), None, {}),
        outputs={},
    )
    first = prov.provenance(**common, created=datetime(2026, 1, 1, tzinfo=timezone.utc))
    second = prov.provenance(**common)
    assert first["created"] == "2026-01-01T00:00:00+00:00"
    assert first != second
    assert prov.without_time_stamp(first) == prov.without_time_stamp(second)
    assert list(first) == ["workflow", "created", "config", "tools", "platform", "inputs", "outputs"]
    prov.write_provenance(first, tmp_path / "provenance.json")
    assert json.loads((tmp_path / "provenance.json").read_text()) == first
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left
