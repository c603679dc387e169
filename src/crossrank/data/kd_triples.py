"""Reading Hofstätter et al.'s teacher triples file (``pos_score neg_score qid pos_pid neg_pid``, tab-separated, tens
of millions of lines) into two Arrow tables: every distinct scored (query, passage) with its mean teacher score, and
the positives. Numbers are parsed in bulk by pyarrow; a file that does not parse is read again to name its first
bad line (:func:`first_problem`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from crossrank.errors import DataError


def teacher_tables(path: Path) -> tuple[Any, Any]:
    """(run: qid, pid, score; qrels: qid, pid) from a triples file, parsed once in Arrow; a pair scored on several
    lines gets the mean of its scores. MS MARCO's ids are integers: the file is read a block at a time into int64
    ids and float64 scores (about 40 bytes a line), and the pairs are keyed by one int64 each and averaged in numpy
    (grouping 80M string pairs in Arrow took over 9 GB). A malformed line is an error naming it: the parse reports
    it, and the file is read again as text only then, to find its line."""
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty")
    read = _read_numbers(path)
    if read is None:
        return _string_tables(path)
    qid, pos, neg, pos_scores, neg_scores = read
    del read
    if not len(qid):
        raise DataError(f"{path}: the file is empty")
    pos_keys = qid << 32 | pos
    del pos
    neg_keys = qid << 32 | neg
    del qid, neg
    return _mean_scores(pos_keys, pos_scores, neg_keys, neg_scores)


NAMES = ["pos_score", "neg_score", "qid", "pos", "neg"]


def _read_numbers(path: Path) -> tuple[np.ndarray, ...] | None:
    """(qid, pos, neg, pos_score, neg_score) as arrays, block by block (never every id as text at once); None when
    an id is not a plain integer below 2^31 (no sign, no leading zero: written back as it was read). A malformed
    line raises the error that names it."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    wrong: list[Any] = []

    def invalid(row: Any) -> str:
        wrong.append(row)
        return "skip"

    types = {"pos_score": pa.float64(), "neg_score": pa.float64(), **{n: pa.string() for n in NAMES[2:]}}
    parts: dict[str, list[np.ndarray]] = {n: [] for n in NAMES}
    try:
        reader = pcsv.open_csv(path, read_options=pcsv.ReadOptions(column_names=NAMES, block_size=64 << 20),
                               parse_options=pcsv.ParseOptions(delimiter="\t", quote_char=False,
                                                               invalid_row_handler=invalid, ignore_empty_lines=False),
                               convert_options=pcsv.ConvertOptions(column_types=types))
        for batch in reader:
            if wrong or not all(_finite(batch.column(c)) for c in NAMES[:2]):
                raise DataError(first_problem(path))
            for name in NAMES[2:]:
                ids = _integers(batch.column(name))
                if ids is None:
                    return None
                parts[name].append(ids)
            for name in NAMES[:2]:
                parts[name].append(batch.column(name).to_numpy())
    except (pa.ArrowInvalid, ValueError, UnicodeDecodeError):
        raise DataError(first_problem(path)) from None
    if wrong:
        raise DataError(first_problem(path))
    out = []
    for name in ("qid", "pos", "neg", *NAMES[:2]):  # one column doubled at a time
        out.append(np.concatenate(parts.pop(name)) if parts[name] else np.zeros(0, dtype=np.int64))
    return tuple(out)


def _finite(column: Any) -> bool:
    import pyarrow.compute as pc

    return not column.null_count and bool(pc.all(pc.is_finite(column)).as_py() if len(column) else True)


def _integers(text: Any) -> np.ndarray | None:
    """A column of ids as int64 when each is a plain integer below 2^31, else None."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        values = pc.cast(text, pa.int64()).to_numpy()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    digits = np.ones(len(values), dtype=np.int32)
    for power in range(1, 11):
        digits += values >= 10**power
    if values.min(initial=0) < 0 or values.max(initial=0) >= 2**31 or \
            not np.array_equal(pc.utf8_length(text).to_numpy(), digits):
        return None
    return values


def _string_tables(path: Path) -> tuple[Any, Any]:
    """The run and qrels of a file whose ids are not plain integers, grouped as strings in Arrow."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    wrong: list[Any] = []

    def invalid(row: Any) -> str:
        wrong.append(row)
        return "skip"

    types = {"pos_score": pa.float64(), "neg_score": pa.float64(), **{n: pa.string() for n in NAMES[2:]}}
    try:
        table = pcsv.read_csv(path, read_options=pcsv.ReadOptions(column_names=NAMES),
                              parse_options=pcsv.ParseOptions(delimiter="\t", quote_char=False,
                                                              invalid_row_handler=invalid, ignore_empty_lines=False),
                              convert_options=pcsv.ConvertOptions(column_types=types))
    except (pa.ArrowInvalid, ValueError, UnicodeDecodeError):
        raise DataError(first_problem(path)) from None
    if wrong or not all(_finite(table.column(c)) for c in NAMES[:2]):
        raise DataError(first_problem(path))
    pairs = pa.concat_tables([
        pa.table({"qid": table["qid"], "pid": table["pos"], "score": table["pos_score"]}),
        pa.table({"qid": table["qid"], "pid": table["neg"], "score": table["neg_score"]})])
    run = pairs.group_by(["qid", "pid"]).aggregate([("score", "mean")]).rename_columns(["qid", "pid", "score"])
    qrels = pa.table({"qid": table["qid"], "pid": table["pos"]}).group_by(["qid", "pid"]).aggregate([])
    return run, qrels


def _mean_scores(pos_keys: np.ndarray, pos_scores: np.ndarray, neg_keys: np.ndarray,
                 neg_scores: np.ndarray) -> tuple[Any, Any]:
    """The run (each distinct pair's mean score over its lines) and the qrels (the distinct positives), from pairs
    keyed by ``qid << 32 | pid``. A positive recurs on each of its query's lines and is summed by one sort; the
    negatives, about one line each, are sorted once to find repeats and summed the same way only when there are any;
    a pair that is a positive on some lines and a negative on others gets one mean over all of them."""
    import pyarrow as pa

    def totals(keys: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        order = np.argsort(keys, kind="stable")  # np.unique(return_inverse=True) took 4 GB more for 40M keys
        keys = keys[order]
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        return keys[starts], np.add.reduceat(scores[order], starts), np.diff(np.r_[starts, len(keys)])

    pos_u, pos_sum, pos_n = totals(pos_keys, pos_scores)
    del pos_keys, pos_scores
    ordered = np.sort(neg_keys)
    if bool((ordered[1:] == ordered[:-1]).any()):  # a negative scored on several lines
        del ordered
        neg_u, neg_sum, neg_n = totals(neg_keys, neg_scores)
        ordered = neg_u
    else:
        neg_u, neg_sum, neg_n = neg_keys, neg_scores, np.ones(len(neg_keys), dtype=np.int64)
    del neg_keys, neg_scores
    at = np.minimum(np.searchsorted(ordered, pos_u), len(ordered) - 1)
    both = ordered[at] == pos_u
    del ordered, at
    if both.any():  # positives that are negatives elsewhere: their lines join the negative's entry
        shared = pos_u[both]
        where = np.minimum(np.searchsorted(shared, neg_u), len(shared) - 1)
        hit = shared[where] == neg_u
        neg_sum[hit] += pos_sum[both][where[hit]]
        neg_n[hit] += pos_n[both][where[hit]]
        pos_u, pos_sum, pos_n = pos_u[~both], pos_sum[~both], pos_n[~both]
    keys = np.concatenate([pos_u, neg_u])
    run = pa.table({"qid": (keys >> 32).astype(np.int32), "pid": (keys & 0xFFFFFFFF).astype(np.int32),
                    "score": np.concatenate([pos_sum / pos_n, neg_sum / neg_n])})
    del keys
    positives = np.sort(np.concatenate([pos_u, shared])) if both.any() else pos_u
    return run, pa.table({"qid": (positives >> 32).astype(np.int32),
                          "pid": (positives & 0xFFFFFFFF).astype(np.int32)})


def first_problem(path: Path) -> str:
    """The first malformed line of a triples file, in one more pass that reads it as text: a line that is not five
    tab-separated columns, or a score that is not a finite number."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    wrong: list[Any] = []

    def invalid(row: Any) -> str:
        wrong.append(row)
        return "skip"

    try:
        table = pcsv.read_csv(path, read_options=pcsv.ReadOptions(column_names=NAMES, use_threads=False),
                              parse_options=pcsv.ParseOptions(delimiter="\t", quote_char=False,
                                                              invalid_row_handler=invalid, ignore_empty_lines=False),
                              convert_options=pcsv.ConvertOptions(column_types={n: pa.string() for n in NAMES}))
    except (pa.ArrowInvalid, ValueError, UnicodeDecodeError):
        return f"{path}: cannot be read as teacher-scored triples (tab-separated UTF-8 text)"
    problems = [(int(r.number), columns_found(r.actual_columns)) for r in wrong[:1] if r.number is not None]
    skipped = sorted(int(r.number) for r in wrong if r.number is not None)
    for column in ("pos_score", "neg_score"):
        values = table.column(column)
        finite = pc.fill_null(pc.match_substring_regex(values, NUMBER), False).to_numpy(zero_copy_only=False)
        if not finite.all():
            i = int(np.flatnonzero(~finite)[0])
            value, empty_line = values[i].as_py(), not table.column("neg")[i].as_py()
            problems.append((line_of(i, skipped), columns_found(1) if empty_line
                             else f"score {value!r} is not a finite number"))
    if not problems:
        return f"{path}: cannot be read as teacher-scored triples"
    line, what = min(problems)
    return f"{path}:{line}: {what}"


#: A finite decimal number, as the teacher file writes its scores.
NUMBER = r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$"


def columns_found(n: int) -> str:
    return f"expected 5 tab-separated columns (pos_score neg_score qid pos_pid neg_pid), found {n}"


def line_of(row: int, skipped: list[int]) -> int:
    """The line (from 1) of table row ``row`` (from 0), given the lines the parser skipped (sorted)."""
    line = row + 1
    for s in skipped:
        if s <= line:
            line += 1
        else:
            break
    return line
