"""Teacher scores for distillation, written as a TREC run.

    python -m crossrank.teach --data DIR --teacher bi-encoder --out teacher.run [--depth 100]
    python -m crossrank.teach --data DIR --teacher OUT/model --out teacher.run     # any crossrank reranker
    python -m crossrank.teach --data DIR --teacher run:FILE --out teacher.run      # an existing run's scores

Scores every query's first-stage candidates (top ``--depth``: the folder's run, else BM25) and its judged
passages, which training pairs may hold though the first stage missed them. Train on them with
``data.teacher_run=teacher.run`` and ``loss=margin_mse`` or ``loss=kl_div`` (``data.group_size`` set).
``bi-encoder`` is the packaged all-MiniLM-L6-v2 (or ``bi-encoder:PATH``, any sentence-transformers model)
scoring by cosine similarity.
"""

from __future__ import annotations

import argparse
import functools
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from crossrank.errors import ConfigError, CrossrankError

Pairs = list[tuple[str, str]]
log = logging.getLogger(__name__)


def teacher_pairs(source, depth: int | None = 100) -> Pairs:
    """(qid, pid) pairs to score: each query's top ``depth`` candidates, then its judged passages with text."""
    from crossrank.data.candidates import first_stage

    qrels = source.qrels()
    candidates = first_stage(source, None, depth)
    wanted = [(qid, pid) for qid in sorted(set(candidates) | set(qrels))
              for pid in [p for p, _ in candidates.get(qid, [])] + sorted(qrels.get(qid, {}))]
    texts = source.passages({pid for _, pid in wanted})
    return list(dict.fromkeys(pair for pair in wanted if pair[1] in texts))


def bi_encoder(path: str | None = None, batch_size: int = 64) -> Callable[[Sequence[str], Sequence[str]], list]:
    """A scorer of (query, passage) texts by the cosine of their sentence embeddings. Each distinct text is
    encoded once (SciFact's 300 test claims x 100 candidates are 30,000 pairs but about 5,000 passages), with a
    progress bar when there are many."""
    from sentence_transformers import SentenceTransformer

    from crossrank.hub import packaged_minilm

    model = SentenceTransformer(path or packaged_minilm(), device="cpu")

    def encode(texts: Sequence[str], what: str) -> tuple[Any, dict[str, int]]:
        unique = sorted(set(texts))
        if len(unique) > 1000:
            log.info("bi-encoder: encoding %d distinct %s", len(unique), what)
        vectors = model.encode(unique, batch_size=batch_size, normalize_embeddings=True, convert_to_tensor=True,
                               show_progress_bar=len(unique) > 1000)
        return vectors, {text: i for i, text in enumerate(unique)}

    def score(queries: Sequence[str], passages: Sequence[str]) -> list[float]:
        q_emb, q_index = encode(queries, "queries")
        p_emb, p_index = encode(passages, "passages")
        rows = q_emb[[q_index[q] for q in queries]]
        return (rows * p_emb[[p_index[p] for p in passages]]).sum(-1).tolist()

    return score


def cross_encoder(path: str) -> Callable[[Sequence[str], Sequence[str]], list]:
    """A scorer by a trained cross-encoder folder or Hub id (its raw logits)."""
    from crossrank.reranker import Reranker

    reranker = Reranker(path)
    return lambda queries, passages: reranker.predict(list(zip(queries, passages))).tolist()


def load_teacher(teacher: str, what: str = "--teacher") -> tuple[Callable[[Sequence[str], Sequence[str]], list], str]:
    """A scorer of texts and its tag: ``bi-encoder[:PATH]`` (sentence-embedding cosine; the packaged
    all-MiniLM-L6-v2 without PATH) or a cross-encoder folder or Hub id. Loaded once per process: train.py
    scores the validation pairs and then the evaluation set's with the same teacher."""
    if not teacher:
        raise ConfigError(f"{what}: empty (bi-encoder[:PATH] or a cross-encoder folder)")
    return _load_teacher(teacher)


@functools.lru_cache(maxsize=4)
def _load_teacher(teacher: str) -> tuple[Callable[[Sequence[str], Sequence[str]], list], str]:
    if teacher == "bi-encoder" or teacher.startswith("bi-encoder:"):
        return bi_encoder(teacher.partition(":")[2] or None), "bi-encoder"
    return cross_encoder(teacher), Path(teacher).name or "teacher"


def score_pairs(fn: Callable[[Sequence[str], Sequence[str]], list], pairs: Sequence[tuple[str, str]],
                queries: dict[str, str], texts: dict[str, str]) -> dict[str, dict[str, float]]:
    """``{qid: {pid: teacher score}}`` for (qid, pid) pairs whose texts are in ``queries`` and ``texts``."""
    scores = fn([queries[q] for q, _ in pairs], [texts[p] for _, p in pairs]) if pairs else []
    run: dict[str, dict[str, float]] = {}
    for (qid, pid), score in zip(pairs, scores):
        run.setdefault(qid, {})[pid] = float(score)
    return run


def teach(data: str, teacher: str, out: str, depth: int | None = 100) -> int:
    """Write the teacher's scores of ``data``'s pairs to ``out`` (a TREC run); the number of pairs scored."""
    from crossrank.data.sources import load_source, read_trec_run
    from crossrank.evaluation.stage import trec_lines
    from crossrank.files import write_text

    source = load_source(kind="local", path=data)
    pairs = teacher_pairs(source, depth)
    if teacher.startswith("run:"):
        given = Path(teacher[4:])
        if not given.is_file():
            raise ConfigError(f"--teacher: {given} does not exist")
        known = {(q, p): s for q, p, s in read_trec_run(given)}
        scores = [known.get(pair) for pair in pairs]
        kept = [(pair, s) for pair, s in zip(pairs, scores) if s is not None]
        if not kept:
            raise ConfigError(f"--teacher: {given} scores none of {data}'s pairs")
        run: dict[str, dict[str, float]] = {}
        for (qid, pid), score in kept:
            run.setdefault(qid, {})[pid] = float(score)
        tag = given.stem
    else:
        fn, tag = load_teacher(teacher)
        run = score_pairs(fn, pairs, source.queries(), source.passages({pid for _, pid in pairs}))
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    write_text(out, "".join(trec_lines(run, f"teach-{tag}")))
    return sum(len(v) for v in run.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crossrank.teach", description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a local folder in the irdata format")
    parser.add_argument("--teacher", required=True,
                        help="bi-encoder[:PATH], a cross-encoder folder or Hub id, or run:FILE")
    parser.add_argument("--out", required=True, help="the TREC run to write")
    parser.add_argument("--depth", type=int, default=100, help="first-stage candidates per query (default 100)")
    args = parser.parse_args(argv)
    try:
        n = teach(args.data, args.teacher, args.out, args.depth)
    except CrossrankError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {n} teacher scores to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
