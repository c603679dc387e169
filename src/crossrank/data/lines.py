"""Reading text files line by line, every problem named as ``file:line: what is wrong``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from crossrank.errors import DataError


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield (line number, line without newline), failing clearly on non-UTF-8 or empty files."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    n = 0
    with path.open("rb") as f:
        for n, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataError(f"{path}:{n}: not valid UTF-8 ({e.reason} at byte {e.start})") from None
            line = line.rstrip("\r\n")
            if line.strip():
                yield n, line
    if n == 0:
        raise DataError(f"{path}: file is empty")
