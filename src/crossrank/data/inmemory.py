"""What the sources read from the Hugging Face hub (or a local copy in its layout) share: their run held in memory
(a hub dataset's rows, NanoBEIR's stored rankings), a local folder told from a hub id, failed reads as one line."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path

from crossrank.errors import DataError, first_line


class InMemoryRun:
    """What a source whose run is held in memory (a hub dataset's rows, a stored ranking) answers alike: no run file
    for the fast reader, scores as they are, every id it lists known."""

    def run_file_path(self) -> Path | None:
        return None

    @property
    def negate_score(self) -> bool:
        return False

    def known_ids(self, candidates: Mapping[str, list[tuple[str, float]]]) -> bool:
        return True


def local_folder(path: str) -> Path | None:
    """``path`` as a local folder, or None when it names a hub dataset."""
    folder = Path(path).expanduser()
    return folder if folder.is_dir() else None


@contextlib.contextmanager
def hub_errors_as_one_line(key: str, path: str, what: str, offline: str) -> Iterator[None]:
    """A failed download or an unreadable file (when the dataset is opened, or as its rows stream) as one line:
    ``key: cannot load path (what: reason); offline``."""
    import datasets
    import pyarrow

    try:
        yield
    except (ConnectionError, OSError, ValueError, pyarrow.ArrowException, datasets.exceptions.DatasetNotFoundError,
            datasets.exceptions.DatasetGenerationError) as e:
        raise DataError(f"{key}: cannot load {path} ({what}{first_line(e)}); {offline}") from None
