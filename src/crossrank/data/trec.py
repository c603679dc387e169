"""TREC files, one reader and one writer each: qrels (``qid 0 pid relevance``) and runs (``qid Q0 pid rank score
tag``), in trec_eval's conventions (a query's candidates ordered by score, ties by passage id, both descending)."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Iterator, Mapping
from pathlib import Path

from crossrank.data.lines import read_lines
from crossrank.errors import DataError

Qrels = dict[str, dict[str, int]]
RunRow = tuple[str, str, float]  # (qid, pid, score)
Candidates = dict[str, list[tuple[str, float]]]


def order_key(item: tuple[str, float]) -> tuple[float, str]:
    """trec_eval's order: score descending, ties by passage id descending (so sort ascending on this)."""
    pid, score = item
    return (score, pid)


def group_run(rows: Iterable[RunRow], qids: Collection[str] | None = None,
              depth: int | None = None) -> Candidates:
    """Group run rows by query (optionally only ``qids``), order them as trec_eval does, cut at ``depth``."""
    out: Candidates = {}
    for qid, pid, score in rows:
        if qids is None or qid in qids:
            out.setdefault(qid, []).append((pid, score))
    for items in out.values():
        items.sort(key=order_key, reverse=True)
        if depth is not None:
            del items[depth:]
    return out


def read_qrels(path: Path, known_qids: Mapping[str, str] | None = None) -> Qrels:
    """Read TREC qrels (``qid 0 pid relevance``, tab or space separated)."""
    qrels: Qrels = {}
    for n, line in read_lines(path):
        parts = line.split()
        if len(parts) != 4:
            raise DataError(f"{path}:{n}: expected 4 columns (qid, 0, pid, relevance), found {len(parts)}")
        qid, _, pid, rel = parts
        relevance = int(number(int, rel, f"{path}:{n}: relevance {rel!r} is not an integer"))
        if known_qids is not None and qid not in known_qids:
            raise DataError(f"{path}:{n}: qid {qid!r} is not in queries.tsv")
        qrels.setdefault(qid, {})[pid] = relevance
    if not qrels:
        raise DataError(f"{path}: no rows")
    return qrels


def number(kind: type[int] | type[float], text: str, error: str) -> int | float:
    """``text`` as an ``int`` or ``float``; ``error`` (naming the file and line) when it is not one."""
    try:
        return kind(text)
    except ValueError:
        raise DataError(error) from None


def read_run(
    path: Path,
    known_qids: Mapping[str, str] | None = None,
    known_pids: Mapping[str, str] | None = None,
) -> Iterator[RunRow]:
    """Stream a TREC run (``qid Q0 pid rank score tag``), checking ids against queries and passages."""
    rows = 0
    current: str | None = None
    seen: set[str] = set()
    for n, line in read_lines(path):
        parts = line.split()
        if len(parts) != 6:
            raise DataError(f"{path}:{n}: expected 6 columns (qid Q0 pid rank score tag), found {len(parts)}")
        qid, _, pid, _, score, _ = parts
        if qid != current:
            current, seen = qid, set()
        if pid in seen:
            raise DataError(f"{path}:{n}: pid {pid!r} is listed twice for qid {qid!r}")
        seen.add(pid)
        value = number(float, score, f"{path}:{n}: score {score!r} is not a number")
        if not math.isfinite(value):
            raise DataError(f"{path}:{n}: score {score!r} is not a finite number")
        if known_qids is not None and qid not in known_qids:
            raise DataError(f"{path}:{n}: qid {qid!r} is not in the queries")
        if known_pids is not None and pid not in known_pids:
            raise DataError(f"{path}:{n}: pid {pid!r} is not in the collection")
        rows += 1
        yield qid, pid, value
    if rows == 0:
        raise DataError(f"{path}: the run is empty")


def trec_lines(run: Mapping[str, Mapping[str, float]], tag: str, exact: bool = False) -> Iterator[str]:
    """TREC run lines, each query in trec_eval's order (score desc, pid desc); scores with 6 decimals, or with
    ``exact`` every digit (a cache read back must rank as the run it keeps)."""
    for qid in run:
        ordered = sorted(run[qid].items(), key=order_key, reverse=True)
        for rank, (pid, score) in enumerate(ordered, 1):
            shown = repr(score) if exact else f"{score:.6f}"
            yield f"{qid} Q0 {pid} {rank} {shown} {tag}\n"
