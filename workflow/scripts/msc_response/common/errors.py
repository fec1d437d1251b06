"""The exceptions a user is meant to read, and the wording helpers their messages
share (lists cut short, "did you mean").

- `InputError`: a mistake in the user's files or config.
- `MachineError`: the machine would not let a job write its output (disk or quota
  full, no permission, read-only file system); `machine_error` recognises such an
  `OSError` and words it.

Scripts catch both and print the message without a traceback (see
`common.scripting`); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
import errno
import os
import re
from pathlib import Path


class InputError(Exception):
    """A problem with the user's files or configuration, with a message that says
    which file, which row or column, and what to do."""


class MachineError(Exception):
    """The operating system refused to write a file for a reason of the machine, not
    of the workflow or its inputs; the message names the file, the cause and the fix."""


# errno -> (what happened, what to do); {folder} is the folder of the file
_MACHINE_CAUSES = {
    errno.ENOSPC: (
        "the disk is full",
        "Free space on the disk that holds '{folder}' (`df -h {folder}` shows what is "
        "left), then rerun the same command",
    ),
    errno.EDQUOT: (
        "your disk quota is used up",
        "Free space within your quota (`quota -s` or ask your administrators), then rerun "
        "the same command",
    ),
    errno.EACCES: (
        "permission denied",
        "Make '{folder}' writable for you (`ls -ld {folder}` shows its owner and mode; "
        "`chmod u+w` or ask its owner), or run the workflow from a folder you can write "
        "to, then rerun",
    ),
    errno.EPERM: (
        "operation not permitted",
        "Make '{folder}' writable for you, or run the workflow from a folder you can "
        "write to, then rerun",
    ),
    errno.EROFS: (
        "the file system is read-only",
        "Run the workflow from a copy in a writable folder (or pass "
        "`--directory <writable folder>` to snakemake), then rerun",
    ),
}
# h5py reports the operating system's error inside its message ("errno = 28")
_H5_ERRNO = re.compile(r"errno = (\d+)")


def os_error_number(err: BaseException) -> int | None:
    """The errno of an OSError, also when h5py only names it in its message."""
    if not isinstance(err, OSError):
        return None
    if err.errno is not None:
        return err.errno
    found = _H5_ERRNO.search(str(err))
    return int(found.group(1)) if found else None


def machine_error(
    err: BaseException, path: str | os.PathLike | None = None, *, folder: bool = False
) -> MachineError | None:
    """A `MachineError` for `err` if it is a disk-full, quota, permission or read-only
    error (else None), naming `path` (or the file the error names); with `folder`,
    `path` is a folder the workflow could not write in (a check before any job)."""
    number = os_error_number(err)
    if number not in _MACHINE_CAUSES:
        return None
    target = path if path is not None else getattr(err, "filename", None)
    cause, fix = _MACHINE_CAUSES[number]
    if folder:
        return MachineError(
            f"Cannot write in folder '{target}': {cause} ({os.strerror(number)}). "
            + fix.format(folder=target)
            + "."
        )
    if target is None:
        where, parent = "a file", "the results folder"
    else:
        where, parent = f"'{target}'", str(Path(target).parent)
    return MachineError(
        f"Could not write {where}: {cause} ({os.strerror(number)}). "
        + fix.format(folder=parent)
        + ": jobs that finished are kept, and no partial file was left under the name of "
        "an output."
    )


MAX_LISTED = 5


def listing(items) -> str:
    """'a', 'b', 'c', 'd', 'e' and 3 more: the items quoted, at most `MAX_LISTED`."""
    items = [str(i) for i in items]
    shown = ", ".join(f"'{i}'" for i in items[:MAX_LISTED])
    more = len(items) - MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def closest(word, candidates) -> str | None:
    """The candidate `word` was probably meant to be: equal ignoring case, spaces,
    '-', '_' and '.', else the closest by spelling."""

    def squash(text):
        return re.sub(r"[\s_.-]+", "", str(text)).lower()

    candidates = [str(c) for c in candidates]
    for candidate in candidates:
        if squash(candidate) == squash(word):
            return candidate
    close = difflib.get_close_matches(str(word), candidates, n=1, cutoff=0.75)
    return close[0] if close else None


def did_you_mean(word, candidates) -> str:
    match = closest(word, candidates)
    return f" (did you mean '{match}'?)" if match is not None else ""
