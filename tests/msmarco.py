"""A small stand-in of MS MARCO passage in ir_datasets' own cache layout, so that its real ``msmarco-passage/*``
loaders read it with no download: the collection, the train / dev-small / TREC DL 2019 / 2020 queries and
judgments, and the official candidate files as ir_datasets keeps them (``qid<TAB>pid``, no score, random order).

Each query is about one topic; its positive shares the query's words, some negatives share a few, and the rest
are about other topics. The positives' pids come last in trec_eval's order of tied scores (pids compared as strings,
descending), so that a ranking by pid and a ranking by BM25 are far apart."""

from __future__ import annotations

import gzip
import os
import random
import shutil
from pathlib import Path

TOPICS = ["solar panels", "coffee beans", "river otters", "jazz piano", "tax returns", "mountain bikes",
          "glacier melt", "chess openings", "sourdough bread", "volcanic soil", "honey bees", "paper kites",
          "violin strings", "desert lizards", "rice terraces", "copper wire", "tide pools", "maple syrup",
          "wool sweaters", "radio towers", "salt marshes", "ice hockey", "cave paintings", "tea ceremonies"]
FILLER = ["the", "report", "covers", "many", "details", "about", "local", "markets", "history", "people",
          "seasons", "prices", "and", "weather", "in", "town"]

#: (folder, queries file, qrels file, run file, queries, graded) of each set, as ir_datasets caches them.
SETS = {
    "train": ("train", "train/queries.tsv", "train/qrels", "train/ms.run", 24, False),
    "dev/small": ("dev/small", "dev/small/queries.tsv", "dev/small/qrels", "dev/ms.run", 8, False),
    "trec-dl-2019": ("trec-dl-2019", "trec-dl-2019/queries.tsv", "trec-dl-2019/qrels", "trec-dl-2019/ms.run", 6,
                     True),
    "trec-dl-2020": ("trec-dl-2020", "trec-dl-2020/queries.tsv.gz", "trec-dl-2020/qrels", "trec-dl-2020/ms.run", 6,
                     True),
}
CANDIDATES = 20  # candidates per query in the official-style runs
UNJUDGED_TRAIN = 4  # training queries without a judgment (msmarco-passage/train/judged leaves them out)


def write_msmarco(home: str | Path | None = None, seed: int = 0) -> Path:
    """Write ``msmarco-passage/`` under ``home`` (default ``$IR_DATASETS_HOME``); returns that folder."""
    root = Path(home or os.environ["IR_DATASETS_HOME"]) / "msmarco-passage"
    shutil.rmtree(root, ignore_errors=True)
    rng = random.Random(seed)
    n_queries = sum(s[4] for s in SETS.values()) + UNJUDGED_TRAIN
    # per query: 1 positive (pids 100000..), 6 word-sharing negatives (2000..), the rest from a shared pool (300..)
    positives = {i: 100_000 + i for i in range(n_queries)}
    near = {i: [2000 + 6 * i + j for j in range(6)] for i in range(n_queries)}
    texts: dict[int, str] = {}
    topic_of = {i: TOPICS[i % len(TOPICS)] for i in range(n_queries)}
    aspect = {i: f"aspect{i}" for i in range(n_queries)}
    for i in range(n_queries):
        t = topic_of[i]
        texts[positives[i]] = f"{t} {aspect[i]} explained: how {t} {aspect[i]} works, " + _filler(rng, 12)
        for j, pid in enumerate(near[i]):
            texts[pid] = f"{t} " + _filler(rng, 20 + 3 * j) + f" {t.split()[0]}"
    pool = list(range(300, 300 + 120))
    for pid in pool:
        other = TOPICS[rng.randrange(len(TOPICS))]
        texts[pid] = f"{other} " + _filler(rng, 15)
    root.mkdir(parents=True, exist_ok=True)
    (root / "irds_version.txt").write_text("v2")
    (root / "collection.tsv").write_text("".join(f"{pid}\t{texts[pid]}\n" for pid in sorted(texts)))
    qid = 0
    for name, (_, qfile, qrels_file, run_file, count, graded) in SETS.items():
        extra = UNJUDGED_TRAIN if name == "train" else 0
        ids = list(range(qid, qid + count + extra))
        qid += count + extra
        qtexts = "".join(f"{_qid(i)}\tcompare {topic_of[i]} {aspect[i]}\n" for i in ids)
        _write(root / qfile, qtexts)
        judged = ids[:count]
        qrels = []
        for i in judged:
            qrels.append(f"{_qid(i)} 0 {positives[i]} {3 if graded else 1}")
            if graded:  # graded sets judge more: a 1 (related) and a 0
                qrels += [f"{_qid(i)} 0 {near[i][0]} 1", f"{_qid(i)} 0 {pool[i % len(pool)]} 0"]
        _write(root / qrels_file, "".join(line + "\n" for line in qrels))
        run = []
        for i in ids:
            cands = [positives[i], *near[i], *rng.sample(pool, CANDIDATES - 7)]
            rng.shuffle(cands)  # the official files are in no order
            run += [f"{_qid(i)}\t{pid}" for pid in cands]
        with (root / run_file).open("a", encoding="utf-8") as f:  # dev/ms.run is shared by dev's subsets
            f.write("".join(line + "\n" for line in run))
    return root


def _qid(i: int) -> str:
    return str(5000 + i)


def _filler(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(FILLER) for _ in range(n))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)


def write_teacher_triples(home: str | Path | None = None, seed: int = 0) -> dict[tuple[str, str], float]:
    """Hofstätter et al.'s teacher file (``pos_score neg_score qid pos_pid neg_pid``) over the stand-in's training
    queries, where ir_datasets keeps the download of ``msmarco-passage/train/kd-docpairs``; returns each scored
    pair's teacher score. Run :func:`write_msmarco` first."""
    from crossrank.data.kd import HOFSTATTER_ENSEMBLE, folder

    root = Path(home or os.environ["IR_DATASETS_HOME"]) / "msmarco-passage"
    rng = random.Random(seed)
    qrels = [line.split() for line in (root / "train" / "qrels").read_text().splitlines()]
    run: dict[str, list[str]] = {}
    for line in (root / "train" / "ms.run").read_text().splitlines():
        qid, pid = line.split("\t")
        run.setdefault(qid, []).append(pid)
    lines, scores = [], {}
    for qid, _, pos, _ in qrels:
        for neg in [p for p in run[qid] if p != pos][:8]:
            s_pos, s_neg = round(rng.uniform(5, 12), 4), round(rng.uniform(-8, 4), 4)
            lines.append(f"{s_pos}\t{s_neg}\t{qid}\t{pos}\t{neg}\n")
            scores[(qid, pos)], scores[(qid, neg)] = s_pos, s_neg  # one positive score per query, as below
    by_pos: dict[tuple[str, str], list[float]] = {}
    for line in lines:
        s_pos, _, qid, pos, _ = line.split("\t")
        by_pos.setdefault((qid, pos), []).append(float(s_pos))
    scores.update({pair: sum(v) / len(v) for pair, v in by_pos.items()})  # a pair scored twice: the mean
    path = folder("msmarco-passage/train") / HOFSTATTER_ENSEMBLE.file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines))
    return scores
