"""Picking a few queries' candidates out of a huge run file, fast: MS MARCO's training candidates are 478M
(qid, pid) rows, of which a recipe needs the ~10k queries it samples. The file is streamed in blocks with
pyarrow's CSV reader and filtered in Arrow (millions of rows a second, memory for one block plus what is kept);
only the kept rows become Python objects. Used for local ``run.tsv`` files and for ir_datasets' scoreddocs
files (TREC runs, ``qid pid`` and ``qid pid score`` lines alike)."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

#: (qid, pid, score) columns of a whitespace-separated run line with this many columns
LAYOUTS = {6: (0, 2, 4), 3: (0, 1, 2), 2: (0, 1, None)}


def layout(path: Path) -> tuple[str, int] | None:
    """(delimiter, column count) from the first line, or None when the file is not simple to parse in Arrow
    (runs of several spaces, an unknown column count)."""
    with path.open("rb") as f:
        first = f.readline().decode("utf-8", errors="replace").rstrip("\r\n")
    delimiter = "\t" if "\t" in first else " "
    parts = first.split(delimiter)
    if len(parts) not in LAYOUTS or any(p == "" for p in parts):
        return None
    return delimiter, len(parts)


def pick(path: Path, qids: Collection[str], depth: int | None, negate_score: bool = False,
         block_size: int = 64 << 20) -> Mapping[str, list[tuple[str, float]]] | None:
    """The candidates of ``qids`` in ``path``, in trec_eval's order (score desc, pid desc), cut at ``depth``;
    None when the file cannot be read this way (the caller then streams it line by line)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    shape = layout(path)
    if shape is None:
        return None
    delimiter, ncols = shape
    q_col, p_col, s_col = LAYOUTS[ncols]
    names = [f"c{i}" for i in range(ncols)]
    wanted = pa.array(sorted(set(qids)), type=pa.string())
    keep = [names[q_col], names[p_col]] + ([names[s_col]] if s_col is not None else [])
    reader = pcsv.open_csv(
        str(path), read_options=pcsv.ReadOptions(column_names=names, block_size=block_size),
        parse_options=pcsv.ParseOptions(delimiter=delimiter, quote_char=False),
        convert_options=pcsv.ConvertOptions(include_columns=keep,
                                            column_types={names[q_col]: pa.string(), names[p_col]: pa.string()}))
    parts = []
    try:
        for batch in reader:
            mask = pc.is_in(batch.column(names[q_col]), value_set=wanted)
            if pc.any(mask).as_py():
                parts.append(pa.Table.from_batches([batch]).filter(mask))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None  # a malformed line: the line-by-line reader names it
    if not parts:
        return {}
    table = pa.concat_tables(parts)
    parts.clear()
    qid, pid = table.column(names[q_col]), table.column(names[p_col])
    if s_col is None:
        score = pa.array(np.zeros(len(table)))
    else:
        try:
            score = pc.cast(table.column(names[s_col]), pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None  # a score that is not a number: the line-by-line reader names the line
        if negate_score:
            score = pc.negate(score)
    table = pa.table({"qid": qid, "pid": pid, "score": score})
    table = table.sort_by([("qid", "ascending"), ("score", "descending"), ("pid", "descending")])
    return ArrowCandidates(table, depth)


def pick_all(path: Path) -> Any:
    """Every row of a run file as an Arrow table ``(qid, pid, score)`` in file order; None when the file cannot be
    read this way or lists a pair twice (the line-by-line reader then names the line)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    shape = layout(path)
    if shape is None or LAYOUTS[shape[1]][2] is None:
        return None
    delimiter, ncols = shape
    q_col, p_col, score_col = LAYOUTS[ncols]
    s_col = int(score_col or 0)  # a layout with a score column (checked above)
    names = [f"c{i}" for i in range(ncols)]
    try:
        table = pcsv.read_csv(str(path), read_options=pcsv.ReadOptions(column_names=names),
                              parse_options=pcsv.ParseOptions(delimiter=delimiter, quote_char=False),
                              convert_options=pcsv.ConvertOptions(
                                  include_columns=[names[q_col], names[p_col], names[s_col]],
                                  column_types={names[q_col]: pa.string(), names[p_col]: pa.string(),
                                                names[s_col]: pa.float64()}))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    table = pa.table({"qid": table.column(names[q_col]), "pid": table.column(names[p_col]),
                      "score": table.column(names[s_col])})
    if table.num_rows == 0 or pc.any(pc.is_null(table.column("score"))).as_py() or \
            table.group_by(["qid", "pid"]).aggregate([]).num_rows != table.num_rows:
        return None
    return table


class ArrowCandidates(Mapping[str, list[tuple[str, float]]]):
    """Candidates per query kept in one sorted Arrow table (a few bytes a row instead of a Python tuple); a
    query's list is made when it is asked for, cut at ``depth``."""

    def __init__(self, table, depth: int | None) -> None:
        import pyarrow.compute as pc

        self.table = table
        self.depth = depth
        codes = pc.dictionary_encode(table.column("qid")).combine_chunks()
        starts = np.flatnonzero(np.diff(codes.indices.to_numpy(zero_copy_only=False), prepend=-1)).tolist()
        ends = [*starts[1:], len(table)]
        names = table.column("qid").take(starts).to_pylist() if starts else []
        self.spans = dict(zip(names, zip(starts, ends)))

    def __getitem__(self, qid: str) -> list[tuple[str, float]]:
        start, end = self.spans[qid]
        if self.depth is not None:
            end = min(end, start + self.depth)
        rows = self.table.slice(start, end - start)
        return list(zip(rows.column("pid").to_pylist(), rows.column("score").to_pylist()))

    def __iter__(self) -> Iterator[str]:
        return iter(self.spans)

    def __len__(self) -> int:
        return len(self.spans)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self.items()) == dict(other.items())


def as_arrow(candidates: Mapping[str, list[tuple[str, float]]]) -> ArrowCandidates:
    """Candidates as one Arrow table (each query's list kept in its order): the form the pair builder takes."""
    import pyarrow as pa

    if isinstance(candidates, ArrowCandidates):
        return candidates
    qids = [q for q, items in candidates.items() for _ in items]
    pids = [p for items in candidates.values() for p, _ in items]
    scores = [float(s) for items in candidates.values() for _, s in items]
    return ArrowCandidates(pa.table({"qid": pa.array(qids, pa.string()), "pid": pa.array(pids, pa.string()),
                                     "score": pa.array(scores, pa.float64())}), None)
