"""Gene-set files (GMT): the project's one reader.

GMT: one set per line, tab-separated: name, description, then gene symbols.
"""

from __future__ import annotations

import gzip
from pathlib import Path

from .errors import InputError


def read_gmt(path: str | Path) -> dict[str, tuple[str, list[str]]]:
    """Read a GMT file (optionally gzipped) into {name: (description, [symbols])}.

    Sets keep the file's order, genes their order within a set (repeats dropped).
    Blank lines are skipped. A line without a name or without genes, or a name used
    twice, is an InputError naming the file and the line.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Gene-set file '{path}' does not exist. Check the path in your config.")
    opener = gzip.open if path.suffix == ".gz" else open
    sets: dict[str, tuple[str, list[str]]] = {}
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                line = line.rstrip("\r\n")
                if not line.strip():
                    continue
                fields = [field.strip() for field in line.split("\t")]
                name = fields[0]
                genes = list(dict.fromkeys(g for g in fields[2:] if g))
                if not name or len(fields) < 3 or not genes:
                    raise InputError(
                        f"Gene-set file '{path}', line {number}: a GMT line needs a set "
                        f"name, a description and at least one gene, separated by tabs "
                        f"(found {len(fields)} field(s))."
                    )
                if name in sets:
                    raise InputError(
                        f"Gene-set file '{path}', line {number}: set '{name}' is defined "
                        f"twice. Rename or remove one."
                    )
                sets[name] = (fields[1], genes)
    except UnicodeDecodeError as err:
        raise InputError(f"Gene-set file '{path}' is not UTF-8 text ({err}).") from None
    except (OSError, EOFError) as err:
        raise InputError(f"Gene-set file '{path}' cannot be read ({err}).") from None
    if not sets:
        raise InputError(f"Gene-set file '{path}' has no gene sets.")
    return sets
