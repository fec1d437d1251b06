"""What every workflow script does around its work: logging and user-facing errors.

The library never touches the `snakemake` object; the thin scripts in
`workflow/scripts/` pass plain values from it to the library through `run`.
"""

from __future__ import annotations

import logging
import sys
import warnings

from .errors import InputError


def configure_logging(log_path: str | None) -> None:
    handlers = [logging.FileHandler(log_path, mode="w")] if log_path else []
    terminal = logging.StreamHandler(sys.stderr)
    terminal.setLevel(logging.WARNING)
    # Library deprecation chatter belongs in the log file, not on the user's terminal.
    terminal.addFilter(lambda record: record.name != "py.warnings")
    handlers.append(terminal)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    logging.captureWarnings(True)  # PyDESeq2 reports convergence problems as warnings
    warnings.simplefilter("default")


def run(main, snakemake) -> None:
    """Call `main(snakemake)` with logging to the rule's log file.

    A user mistake (`InputError`) ends the job with its message alone, no traceback:
    the message goes to the log and to the terminal, where Snakemake's output shows
    it; Snakemake then removes the job's outputs.
    """
    log_path = snakemake.log[0] if len(snakemake.log) else None
    configure_logging(log_path)
    try:
        main(snakemake)
    except InputError as err:
        logging.getLogger("msc_response").error("%s", err)
        sys.exit(1)
    except Exception:
        logging.getLogger("msc_response").exception("unexpected failure (a bug: please report it)")
        raise
