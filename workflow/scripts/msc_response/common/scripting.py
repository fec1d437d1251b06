"""What every workflow script does around its work: logging, and errors of the input
and of the machine told to the user without a traceback.

The library never touches the `snakemake` object; the thin scripts in
`workflow/scripts/` pass plain values from it to the library through `run`.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings

from msc_response.common.errors import InputError, MachineError, machine_error


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

    A user mistake (`InputError`) and a machine that will not take the outputs (a full
    disk or quota, no write permission, a read-only file system: `MachineError`, or
    such an `OSError` raised outside the library's writers) end the job with their
    message alone, no traceback: it goes to the log and to the terminal, where
    Snakemake's output shows it; Snakemake then removes the job's outputs.
    """
    log_path = snakemake.log[0] if len(snakemake.log) else None
    log = logging.getLogger("msc_response")
    try:
        configure_logging(log_path)
    except OSError as err:
        problem = machine_error(err, log_path)
        if problem is None:
            raise
        configure_logging(None)  # the terminal still gets the message
        log.error("%s", problem)
        sys.exit(1)
    # A job's fixed cost (interpreter, Snakemake's preamble, the script's imports),
    # for benchmarks/bench_workflow.py.
    log.info("CPU before the work (interpreter and imports): %.2f s", time.process_time())
    try:
        main(snakemake)
        log.info("CPU of the whole job: %.2f s", time.process_time())
    except (InputError, MachineError) as err:
        log.error("%s", err)
        sys.exit(1)
    except OSError as err:
        problem = machine_error(err)
        if problem is None:
            log.exception("unexpected failure (a bug: please report it)")
            raise
        log.error("%s", problem)
        sys.exit(1)
    except Exception:
        log.exception("unexpected failure (a bug: please report it)")
        raise
