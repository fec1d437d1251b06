"""How a run's results were made: `results/provenance.json`.

One record per run: the workflow's version (git commit when the workflow is a git
checkout), the configuration as used, the versions of the Python packages the
workflow pins, the platform, and the sha256 of every input (counts, sample sheet,
annotation, gene sets) and of every result file (so a table can be traced to the
record: its sha256 is listed there). Everything but the `created` time stamp depends
only on the inputs, the code and the software, so two runs that should agree write
the same record apart from that line.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from msc_response.common.tables import write_atomically

WORKFLOW_NAME = "msc-response"
# Figures are drawn from the tables listed with their checksums; their bytes depend
# on font and renderer details that are not part of the science.
NOT_HASHED = (".png", ".svg", ".pdf", ".html")


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_record(path: str | Path) -> dict:
    """{"path", "sha256", "bytes"} of one file, its path as given."""
    return {"path": str(path), "sha256": sha256_of(path), "bytes": Path(path).stat().st_size}


def _git(directory: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            # safe.directory: a checkout owned by another user (CI containers) is fine
            # to read.
            ["git", "-c", f"safe.directory={directory}", "-C", str(directory), *args],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def workflow_version(directory: str | Path) -> dict:
    """Name, release, and (in a git checkout) commit of the workflow in `directory`.

    `version` is `git describe` in a git checkout, else the release
    (`msc_response.__version__`): a release tarball or `git archive` has no git
    history, and says so (`git_checkout` false)."""
    from msc_response import __version__

    directory = Path(directory).resolve()
    commit = _git(directory, "rev-parse", "HEAD")
    changes = _git(directory, "status", "--porcelain", "--untracked-files=no")
    described = _git(directory, "describe", "--tags", "--always", "--dirty") if commit else None
    return {
        "name": WORKFLOW_NAME,
        "release": __version__,
        "git_checkout": commit is not None,
        "git_commit": commit,
        # Tracked files edited since that commit: the commit alone does not say it all.
        "git_dirty": None if commit is None or changes is None else bool(changes),
        "version": described or __version__,
    }


def pinned_packages(requirements: str | Path) -> list[str]:
    """Package names pinned in a requirements file (`name==version` lines)."""
    names = []
    for line in Path(requirements).read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            names.append(line.split("==")[0].strip())
    return names


def tool_versions(packages: list[str]) -> dict:
    """Installed version of each package (None when not installed here), and Python's."""
    versions = {"python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def platform_record() -> dict:
    return {
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
        "python_implementation": platform.python_implementation(),
        "python_version": platform.python_version(),
    }


def input_records(
    counts: str,
    samples: str,
    annotation: str | None,
    gene_sets: dict[str, str],
    workflow_dir: str | Path | None = None,
    count_files: dict[str, str] | None = None,
) -> dict:
    """Checksums of the run's inputs; `gene_sets` maps a collection name to its GMT.

    A gene-set file shipped with the workflow is recorded by its path inside the
    workflow (`resources/gene_sets/...`), so the record does not depend on where the
    workflow was installed. `count_files` (sample -> path) replaces `counts` when each
    sample has its own count file."""

    def shown(path: str) -> str:
        if workflow_dir is None:
            return path
        try:
            return str(Path(path).resolve().relative_to(Path(workflow_dir).resolve()))
        except ValueError:
            return path

    records = {
        "counts": file_record(counts) if counts else None,
        "samples": file_record(samples),
        "annotation": file_record(annotation) if annotation else None,
        "gene_sets": {
            name: {**file_record(path), "path": shown(path)}
            for name, path in sorted(gene_sets.items())
        },
    }
    if count_files:
        records["count_files"] = {
            sample: file_record(path) for sample, path in count_files.items()
        }
    return records


def output_records(paths: list[str]) -> dict:
    """Checksums of the result files (figures only by name: see NOT_HASHED)."""
    records = {}
    for path in sorted(paths):
        if str(path).endswith(NOT_HASHED):
            records[str(path)] = {"path": str(path)}
        else:
            records[str(path)] = file_record(path)
    return records


def provenance(
    *,
    workflow: dict,
    config: dict,
    tools: dict,
    inputs: dict,
    outputs: dict,
    created: datetime | None = None,
) -> dict:
    """The record, keys in the documented order."""
    created = created or datetime.now(timezone.utc)
    return {
        "workflow": workflow,
        "created": created.isoformat(timespec="seconds"),
        "config": config,
        "tools": tools,
        "platform": platform_record(),
        "inputs": inputs,
        "outputs": outputs,
    }


def write_provenance(record: dict, path: str | Path) -> None:
    text = json.dumps(record, indent=2, sort_keys=False, default=str) + "\n"
    write_atomically(path, text.encode())


def without_time_stamp(record: dict) -> dict:
    """The record minus `created`: what two runs on the same inputs must share."""
    return {key: value for key, value in record.items() if key != "created"}
