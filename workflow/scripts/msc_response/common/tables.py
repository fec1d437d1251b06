"""Writing result tables and files so that reruns give the same bytes and a killed
job leaves nothing half-written under a real name.

- `write_table`/`write_tables`: TSV (gzipped by name) with one float format
  (`FLOAT_FORMAT`, 8 significant digits, via `float_text`), `NA` for missing values,
  a gzip header without name or time stamp.
- `atomic_path`/`write_atomically`: write under a temporary name in the same folder,
  then rename; the temporary file is removed on any failure.

Every stage writes through here; a disk-full, quota, permission or read-only error
while writing becomes a `MachineError` naming the file, which `common.scripting`
prints without a traceback.
"""

from __future__ import annotations

import os
import re
import secrets
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from msc_response.common import float_text
from msc_response.common.errors import MachineError, machine_error

FLOAT_FORMAT = "%.8g"  # every float in every table: 8 significant digits
NA_REP = "NA"
# zlib level 1: ~5x faster than level 9 and ~8% larger files on count tables. The gzip
# header zlib writes has no file name and a zero time stamp, so reruns are identical.
GZIP_LEVEL = 1
_ROWS_PER_CHUNK = 4096
_NEEDS_QUOTING = re.compile(r'[\t\n\r"]')


def write_table(frame: pd.DataFrame, path: str | Path, index: bool = False) -> None:
    """Write a TSV (gzipped if the name ends in .gz) with a fixed float format
    (`FLOAT_FORMAT`, missing values as `NA`), so reruns give byte-identical files.

    The text is what `DataFrame.to_csv(sep="\t", float_format="%.8g", na_rep="NA")`
    writes, made row by row with one %-format per row (several times faster than
    pandas' per-value formatting), the trailing float columns of a large table by
    `float_text` (numba, ~7x faster again); compression runs in a second thread while
    the next rows are formatted. The file appears complete or not at
    all: it is written under a temporary name next to its destination and renamed,
    so an interrupted job never leaves a truncated table that looks finished.
    """
    chunks = (chunk.encode() for chunk in table_text(frame, index=index))
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        if str(path).endswith(".gz"):
            _write_gzip(chunks, handle)
        else:
            for chunk in chunks:
                handle.write(chunk)


def write_tables(tables: list[tuple[pd.DataFrame, str | Path]], processes: int = 1) -> None:
    """`write_table` for several (frame, path) pairs, spread over `processes` processes:
    this one and forked children, which see the frames without copying them
    (formatting holds the GIL, so threads would not help). Same bytes as writing them
    one after the other."""
    import multiprocessing

    groups = [tables[i::processes] for i in range(max(1, min(processes, len(tables))))]
    context = multiprocessing.get_context("fork")
    messages = context.SimpleQueue()
    children = [
        context.Process(target=_write_group, args=(group, messages)) for group in groups[1:]
    ]
    for child in children:
        child.start()
    try:
        _write_group(groups[0])
    finally:
        for child in children:
            child.join()
    failed = [child.exitcode for child in children if child.exitcode != 0]
    if failed:
        # a child that met a full disk (or the like) said so on the queue
        if not messages.empty():
            raise MachineError(messages.get())
        raise RuntimeError(f"writing tables failed in a child process (exit codes {failed})")


def _write_group(tables, messages=None) -> None:
    try:
        for frame, path in tables:
            write_table(frame, path)
    except MachineError as err:
        if messages is None:
            raise
        messages.put(str(err))
        os._exit(1)  # the parent reports it; no traceback from the child


def table_text(frame: pd.DataFrame, index: bool = False):
    """The TSV text of `frame` in chunks of rows (see `write_table`)."""
    if index:
        if frame.index.nlevels != 1:
            yield _pandas_text(frame, index=True)
            return
        name = frame.index.name
        frame = frame.reset_index(names="__index__")
        frame.columns = ["" if name is None else str(name), *map(str, frame.columns[1:])]
    header = [str(c) for c in frame.columns]
    # wide float columns at the end (a gene x sample matrix): float_text writes them
    block = _float_block(frame) if frame.shape[1] > 1 else None
    n_lead = frame.shape[1] - (0 if block is None else block.shape[1])
    columns = [_column_values(frame.iloc[:, i]) for i in range(n_lead)]
    if (
        (block is None and len(columns) < 2)  # the csv module quotes an empty lone field
        or any(c is None for c in columns)
        or any(_NEEDS_QUOTING.search(h) for h in header)
        or not isinstance(frame.columns, pd.Index)
        or frame.columns.nlevels != 1
    ):
        yield _pandas_text(frame, index=False)
        return
    yield "\t".join(header) + "\n"
    row_format = "\t".join(fmt for fmt, _ in columns) + ("\n" if block is None else "")
    for start in range(0, len(frame), _ROWS_PER_CHUNK):
        stop = start + _ROWS_PER_CHUNK
        rows = zip(*[_chunk_list(values, start, stop) for _, values in columns])
        if block is None:
            yield "".join([row_format % row for row in rows])
            continue
        tails = float_text.format_block(block[start:stop], NA_REP)
        if columns:
            yield "".join([row_format % row + tail for row, tail in zip(rows, tails)])
        else:  # each tail starts with the tab that would follow a first column
            yield "".join([tail[1:] for tail in tails])


def _float_block(frame: pd.DataFrame) -> np.ndarray | None:
    """The trailing float64 columns of `frame` as one array, when they hold enough
    values for float_text's kernel to pay off and numba is installed; else None."""
    trailing = 0
    for dtype in reversed(list(frame.dtypes)):
        if dtype != np.float64:
            break
        trailing += 1
    if trailing * len(frame) < float_text.MIN_CELLS or not float_text.available():
        return None
    return frame.iloc[:, frame.shape[1] - trailing :].to_numpy(dtype=np.float64)


def _pandas_text(frame: pd.DataFrame, index: bool) -> str:
    return frame.to_csv(sep="\t", index=index, float_format=FLOAT_FORMAT, na_rep=NA_REP)


def _chunk_list(values, start: int, stop: int) -> list:
    if isinstance(values, np.ndarray):
        return values[start:stop].tolist()
    return values[start:stop]


def _column_values(series: pd.Series):
    """(%-format, values) writing `series` as pandas' to_csv would, or None where
    this fast path does not apply (pandas then writes the whole table)."""
    dtype = series.dtype
    if isinstance(dtype, np.dtype):
        values = series.to_numpy()
        if dtype.kind in "iu":
            return "%d", values
        if dtype.kind == "b":
            return "%s", values
        if dtype == np.float64:
            missing = np.isnan(values)
            if not missing.any():
                return FLOAT_FORMAT, values
            return "%s", [
                NA_REP if gap else FLOAT_FORMAT % value
                for value, gap in zip(values.tolist(), missing.tolist())
            ]
        if dtype.kind != "O":
            return None
    elif not isinstance(dtype, pd.CategoricalDtype):
        return None
    # text: str values only (pandas writes others in its own ways)
    text = []
    for value in series.tolist():
        if isinstance(value, str):
            if _NEEDS_QUOTING.search(value):
                return None
            text.append(value)
        elif value is None or (isinstance(value, float) and value != value):
            text.append(NA_REP)
        else:
            return None
    return "%s", text


def _write_gzip(chunks, handle) -> None:
    """Compress `chunks` (bytes) into `handle` as gzip in a second thread: zlib
    releases the GIL, so compression overlaps the formatting of the next rows."""
    import queue
    import threading
    import zlib

    pending: queue.Queue = queue.Queue(maxsize=4)
    failure: list[BaseException] = []

    def compress() -> None:
        compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
        try:
            while (data := pending.get()) is not None:
                if not failure:
                    handle.write(compressor.compress(data))
            if not failure:
                handle.write(compressor.flush())
        except BaseException as err:  # reported in the calling thread
            failure.append(err)
            while pending.get() is not None:  # let the producer finish
                pass

    worker = threading.Thread(target=compress, name="gzip-writer")
    worker.start()
    try:
        for chunk in chunks:
            if failure:
                break
            pending.put(chunk)
    finally:
        pending.put(None)
        worker.join()
    if failure:
        raise failure[0]


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path next to `path`; on success rename it to `path`, on
    failure remove it. Readers never see a half-written file under the real name.

    The temporary file is created with mode 0666 minus the process umask, as any
    new file (so 0644 under umask 022): a group can read the results.
    """
    path = Path(path)
    try:
        temporary = _create_temporary(path)
    except OSError as err:
        raise machine_error(err, path) or err from None
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException as err:
        temporary.unlink(missing_ok=True)
        # a full disk or a missing permission is the machine's problem, not a bug
        raise machine_error(err, path) or err from None


def _create_temporary(path: Path) -> Path:
    # tempfile.mkstemp would create it with mode 0600 whatever the umask.
    for _ in range(100):
        name = path.parent / f".{path.name}.{secrets.token_hex(4)}.part{path.suffix}"
        try:
            os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return name
    raise FileExistsError(f"no free temporary name next to {path}")


def writable_problem(folder: str | Path) -> MachineError | None:
    """Whether the workflow can write in `folder` (or, if it does not exist yet, in
    its nearest existing parent, where it would be created): None if so, else the
    `MachineError` to show. Probes with a temporary file, removed at once, so a
    permission or read-only problem stops the run before any job starts."""
    place = Path(folder)
    while not place.exists() and place != place.parent:
        place = place.parent
    try:
        _create_temporary(place / "write-probe").unlink()
    except OSError as err:
        return machine_error(err, place, folder=True)
    return None


def write_atomically(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` via a temporary file in the same directory and a rename."""
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)
