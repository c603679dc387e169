"""What the sources that hold their run in memory share (a hub dataset's rows, NanoBEIR's stored rankings)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


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
