"""Errors of the machine (disk or quota full, no permission, read-only file system)
reach the user as a message naming the file, the cause and the fix, without a
traceback, and leave no partial file under an output's name."""

from __future__ import annotations

import errno
import logging
import os
from types import SimpleNamespace

import pandas as pd
import pytest

from msc_response.common import scripting, tables
from msc_response.common.errors import MachineError, machine_error, os_error_number

FRAME = pd.DataFrame({"gene_id": ["g1", "g2"], "log2FoldChange": [0.5, -1.25]})


@pytest.mark.parametrize(
    "number,cause,fix",
    [
        (errno.ENOSPC, "the disk is full", "df -h /data/results"),
        (errno.EDQUOT, "quota", "quota"),
        (errno.EACCES, "permission denied", "ls -ld /data/results"),
        (errno.EROFS, "read-only", "--directory"),
    ],
)
def test_machine_error_names_file_cause_and_fix(number, cause, fix):
    err = OSError(number, os.strerror(number))
    message = str(machine_error(err, "/data/results/de/a.tsv"))
    assert "'/data/results/de/a.tsv'" in message
    assert cause in message and fix in message
    assert "rerun" in message


def test_other_os_errors_are_not_the_machines():
    assert machine_error(FileNotFoundError(errno.ENOENT, "No such file")) is None
    assert machine_error(ValueError("x")) is None


def test_h5py_errno_in_message_is_recognised():
    # h5py raises OSError without errno, naming it in the text
    err = OSError(
        "Unable to synchronously create file (unable to open file: name = 'x.h5ad', "
        "errno = 28, error message = 'No space left on device', flags = 13)"
    )
    assert os_error_number(err) == errno.ENOSPC
    assert "disk is full" in str(machine_error(err, "x.h5ad"))


def test_full_disk_while_writing_a_table(tmp_path, monkeypatch):
    target = tmp_path / "de.tsv"

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(tables.os, "replace", full)
    with pytest.raises(MachineError, match="disk is full") as caught:
        tables.write_table(FRAME, target)
    assert str(target) in str(caught.value)
    assert list(tmp_path.iterdir()) == []  # neither the table nor its temporary file


def test_full_disk_in_a_child_of_write_tables(tmp_path, monkeypatch):
    """write_tables' forked children report the same message, not a bare exit code."""
    real_open = open

    def full_open(path, mode="r", *args, **kwargs):
        if "w" in mode and str(path).endswith(".part.tsv") and "b_" in str(path):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", full_open)
    pairs = [(FRAME, tmp_path / "a_1.tsv"), (FRAME, tmp_path / "b_2.tsv")]
    with pytest.raises(MachineError, match="disk is full") as caught:
        tables.write_tables(pairs, processes=2)
    assert "b_2.tsv" in str(caught.value)
    assert not (tmp_path / "b_2.tsv").exists()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs POSIX fork and users")
def test_no_permission_to_write_a_table(tmp_path):
    """A real EACCES: the write runs in a forked child into a folder without write
    permission, as user nobody when the tests run as root (root may write anywhere)."""
    folder = tmp_path / "results"
    folder.mkdir()
    folder.chmod(0o555)
    tmp_path.chmod(0o755)
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # the child: report what happened through the pipe, then leave
        os.close(read_end)
        try:
            if os.getuid() == 0:
                os.setuid(65534)
            tables.write_table(FRAME, folder / "t.tsv")
            outcome = "written"
        except MachineError as err:
            outcome = str(err)
        except BaseException as err:  # noqa: BLE001 - anything else fails the test
            outcome = f"unexpected {err!r}"
        os.write(write_end, outcome.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        outcome = pipe.read()
    os.waitpid(child, 0)
    folder.chmod(0o755)
    assert "permission denied" in outcome, outcome
    assert str(folder / "t.tsv") in outcome
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize(
    "failure",
    [
        MachineError("Could not write 'results/x.tsv': the disk is full (...)"),
        OSError(errno.ENOSPC, "No space left on device"),
    ],
)
def test_script_runner_prints_the_message_without_traceback(tmp_path, failure, capsys):
    log = tmp_path / "job.log"

    def main(_):
        raise failure

    with pytest.raises(SystemExit) as stopped:
        scripting.run(main, SimpleNamespace(log=[str(log)]))
    assert stopped.value.code == 1
    logging.shutdown()
    text = log.read_text()
    assert "disk is full" in text
    assert "Traceback" not in text and "a bug" not in text
    assert "disk is full" in capsys.readouterr().err


def test_script_runner_keeps_tracebacks_for_bugs(tmp_path):
    log = tmp_path / "job.log"

    def main(_):
        raise OSError(errno.EBADF, "Bad file descriptor")

    with pytest.raises(OSError):
        scripting.run(main, SimpleNamespace(log=[str(log)]))
    assert "a bug" in log.read_text()


def test_writable_problem_probes_the_nearest_existing_folder(tmp_path, monkeypatch):
    assert tables.writable_problem(tmp_path / "results" / "de") is None
    assert not (tmp_path / "results").exists()  # the probe creates no folder
    assert list(tmp_path.iterdir()) == []

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(tables.os, "open", read_only)
    problem = tables.writable_problem(tmp_path / "results")
    assert f"Cannot write in folder '{tmp_path}'" in str(problem)
    assert "read-only" in str(problem)
