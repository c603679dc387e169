"""User errors as one line: ``error: <message>`` on stderr, in the run's log file and in a ``FAILED`` file in the run
dir, with exit status 2; Hydra's own composition errors (an unknown key or experiment) folded into the same line."""

from __future__ import annotations

import contextlib
import io
import logging
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from hydra.errors import InstantiationException
from omegaconf.errors import InterpolationResolutionError, MissingMandatoryValue

from crossrank.errors import CrossrankError

#: Written into the run dir when a run fails: the error line; removed when the run is started again.
FAILED = "FAILED"


def fail(message: str, out: Path | None) -> None:
    """Print ``error: message`` on its own line, log it to the run's log file, mark the run dir FAILED."""
    from tqdm import tqdm

    for bar in list(getattr(tqdm, "_instances", [])):
        bar.close()  # so the error never lands on the tail of a progress bar
    sys.stdout.flush()
    print(f"error: {message}", file=sys.stderr, flush=True)
    record = logging.LogRecord("crossrank", logging.ERROR, __file__, 0, f"error: {message}", None, None)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)
    if out is not None and out.is_dir():
        (out / FAILED).write_text(f"error: {message}\n", encoding="utf-8")


def user_error(e: BaseException) -> str | None:
    """The one-line message of an error that is the user's to fix, else None."""
    if isinstance(e, InstantiationException) and isinstance(e.__cause__, CrossrankError):
        e = e.__cause__
    if isinstance(e, CrossrankError):
        return str(e)
    if isinstance(e, MissingMandatoryValue):
        return f"config key {e.full_key} must be set (e.g. {e.full_key}=...)"
    if isinstance(e, InterpolationResolutionError):  # e.g. an environment variable a config reads is not set
        reason = str(e).splitlines()[0]
        reason = re.sub(r"^\w+ raised while resolving interpolation: ", "", reason).strip("\"'")
        return f"config key {e.full_key}: {reason}"
    found = re.search(r"`val_check_interval` \((\d+)\) must be less than or equal to the number of the training "
                      r"batches \((\d+)\)", str(e)) if isinstance(e, ValueError) else None
    if found:
        return (f"trainer.val_check_interval: {found[1]} is more than the {found[2]} training batches of an epoch; "
                "give a fraction of an epoch (1.0: at its end) or at most that many batches")
    return None


_released = False


def release() -> None:
    """The job has started: what :func:`one_line_hydra_errors` held back goes to stderr, and later output
    passes straight through."""
    global _released
    _released = True


def summarize_hydra_error(text: str) -> str:
    """Hydra's multi-line composition error as one line: what, and the hint or the choices it lists."""
    lines = [re.sub(r"^In '[^']*': ", "", line.strip()) for line in text.splitlines()]
    lines = [line for line in lines if line and "HYDRA_FULL_ERROR" not in line
             and not line.startswith(("full_key", "object_type", "Config search path", "provider="))]
    if not lines:
        return "the config could not be composed"
    head = lines[0].rstrip(".")
    if head.startswith("Could not find") and any(line.startswith("Available options") for line in lines):
        start = next(i for i, line in enumerate(lines) if line.startswith("Available options")) + 1
        options = [line for line in lines[start:] if " " not in line]
        return f"{head} (available: {', '.join(options)})"
    details = [line.rstrip(".") for line in lines[1:3]]
    return "; ".join([head, *details]).replace("To append", "to append")


@contextlib.contextmanager
def one_line_hydra_errors() -> Iterator[None]:
    """Around ``hydra.main``: a config that cannot be composed (an unknown key or experiment) is reported as
    one ``error:`` line with exit status 2, like every other user error, instead of Hydra's several lines."""
    real = sys.stderr
    held = io.StringIO()

    class _Gate(io.TextIOBase):
        def write(self, text: str) -> int:
            if _released:
                if held.tell():
                    real.write(held.getvalue())
                    held.seek(0)
                    held.truncate()
                return real.write(text)
            return held.write(text)

        def flush(self) -> None:
            real.flush()

        def isatty(self) -> bool:
            return real.isatty()

        def fileno(self) -> int:
            return real.fileno()

    sys.stderr = _Gate()
    try:
        yield
    except SystemExit as e:
        if not _released and e.code not in (0, None):
            real.write(f"error: {summarize_hydra_error(held.getvalue())}\n")
            held.seek(0)
            held.truncate()
            raise SystemExit(2) from None
        raise
    finally:
        sys.stderr = real
        if not _released and held.getvalue():
            real.write(held.getvalue())
