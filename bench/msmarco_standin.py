"""A generated MS MARCO passage stand-in at full size, written in ir_datasets' cache layout so that its real
``msmarco-passage/*`` loaders read it with no download (as tests/msmarco.py does at a small size):

    python bench/msmarco_standin.py --home DIR [--passages 8841823] [--train-queries 502939] [--triples 39780811]

- ``msmarco-passage/collection.tsv`` (and ``irds_version.txt``): passages of MS MARCO's lengths (about 56 words,
  gamma-distributed), words drawn from a Zipf law over a 1M-word vocabulary whose most frequent words are English
  stopwords, so that posting lists and BM25's statistics have natural text's shape;
- ``dev/small/queries.tsv``, ``dev/small/qrels`` and ``dev/ms.run``: 6,980 queries of about 6 words, one judged
  passage each, 1,000 candidates each as the official file has them (``qid<TAB>pid``, no score, random order);
- ``train/queries.tsv``, ``train/qrels``: the judged training queries;
- ``train/kd-docpairs/bert_cat_ensemble_msmarcopassage_train_scores_ids.tsv``: Hofstätter et al.'s teacher file
  (``pos_score<TAB>neg_score<TAB>qid<TAB>pos_pid<TAB>neg_pid``), about 79 triples per training query.

The words carry no meaning: speed and memory do not depend on it. Each part is written once (skipped when present).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

PASSAGES = 8_841_823
DEV_QUERIES = 6_980
TRAIN_QUERIES = 502_939
TRIPLES = 39_780_811
VOCABULARY = 1_000_000


def vocabulary(size: int = VOCABULARY) -> tuple[np.ndarray, np.ndarray]:
    """(words, cumulative probabilities): English stopwords first, then made-up words, Zipf-distributed (s=1.07)."""
    from bm25s.stopwords import STOPWORDS_EN

    stop = list(dict.fromkeys(STOPWORDS_EN))
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    made = []
    for i in range(size - len(stop)):
        word, n = [], i + 26 * 26
        while n:
            n, r = divmod(n, 26)
            word.append(letters[r])
        made.append("".join(word))
    words = np.array(stop + made, dtype=object)
    weights = 1.0 / np.arange(1, size + 1) ** 1.07
    return words, np.cumsum(weights) / weights.sum()


def draw(rng: np.random.Generator, cdf: np.ndarray, n: int) -> np.ndarray:
    return np.minimum(np.searchsorted(cdf, rng.random(n)), len(cdf) - 1)


def write_collection(path: Path, n: int, rng: np.random.Generator, words: np.ndarray, cdf: np.ndarray) -> None:
    with path.open("w", encoding="utf-8") as f:
        for start in range(0, n, 100_000):
            count = min(100_000, n - start)
            lengths = np.clip(rng.gamma(5.0, 11.0, count).astype(int), 10, 300)
            text = words[draw(rng, cdf, int(lengths.sum()))]
            cuts = np.cumsum(lengths)[:-1]
            f.write("".join(f"{start + i}\t{' '.join(chunk)}\n" for i, chunk in enumerate(np.split(text, cuts))))


def write_queries(path: Path, qids: np.ndarray, rng: np.random.Generator, words: np.ndarray) -> None:
    """Queries of about 6 words from the middle of the vocabulary (ranks 200 to 200,000)."""
    lengths = np.clip(rng.gamma(4.0, 1.5, len(qids)).astype(int), 2, 30)
    ids = (200 * (1000 ** rng.random(int(lengths.sum())))).astype(np.int64)  # log-uniform over the ranks
    cuts = np.cumsum(lengths)[:-1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{q}\t{' '.join(words[c])}\n" for q, c in zip(qids.tolist(), np.split(ids, cuts))))


def write_standin(home: Path, passages: int = PASSAGES, dev_queries: int = DEV_QUERIES,
                  train_queries: int = TRAIN_QUERIES, triples: int = TRIPLES, seed: int = 0) -> Path:
    root = home / "msmarco-passage"
    root.mkdir(parents=True, exist_ok=True)
    (root / "irds_version.txt").write_text("v2")
    rng = np.random.default_rng(seed)
    words, cdf = vocabulary()
    step("collection", root / "collection.tsv", lambda p: write_collection(p, passages, rng, words, cdf))
    dev = np.arange(dev_queries) * 7 + 1_000_000
    step("dev/small queries", root / "dev" / "small" / "queries.tsv", lambda p: write_queries(p, dev, rng, words))
    step("dev/small qrels", root / "dev" / "small" / "qrels", lambda p: p.write_text(
        "".join(f"{q}\t0\t{d}\t1\n" for q, d in zip(dev.tolist(), rng.integers(0, passages, len(dev)).tolist()))))
    step("dev candidates", root / "dev" / "ms.run", lambda p: write_candidates(p, dev, passages, rng, 1000))
    train = np.arange(train_queries) * 3 + 2_000_000
    step("train queries", root / "train" / "queries.tsv", lambda p: write_queries(p, train, rng, words))
    positives = rng.integers(0, passages, len(train))
    step("train qrels", root / "train" / "qrels", lambda p: p.write_text(
        "".join(f"{q}\t0\t{d}\t1\n" for q, d in zip(train.tolist(), positives.tolist()))))
    kd = root / "train" / "kd-docpairs" / "bert_cat_ensemble_msmarcopassage_train_scores_ids.tsv"
    step("teacher triples", kd, lambda p: write_triples(p, train, positives, passages, triples, rng))
    return root


def write_candidates(path: Path, qids: np.ndarray, passages: int, rng: np.random.Generator, depth: int) -> None:
    with path.open("w") as f:
        for start in range(0, len(qids), 1000):
            block = qids[start: start + 1000]
            ps = rng.integers(0, passages, (len(block), depth))
            f.write("".join(f"{q}\t{p}\n" for q, row in zip(block.tolist(), ps.tolist()) for p in row))


def write_triples(path: Path, qids: np.ndarray, positives: np.ndarray, passages: int, n: int,
                  rng: np.random.Generator) -> None:
    """About ``n`` triples: each training query's positive against ~n/queries sampled negatives, scores like the
    ensemble's (positives around 8, negatives around -3, logits with a spread of a few units)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    per = rng.multinomial(n, np.full(len(qids), 1 / len(qids)))  # exactly n, about n / queries each
    with path.open("w") as f:
        for start in range(0, len(qids), 20_000):
            q, pos, k = qids[start: start + 20_000], positives[start: start + 20_000], per[start: start + 20_000]
            total = int(k.sum())
            qq, pp = np.repeat(q, k), np.repeat(pos, k)
            neg = rng.integers(0, passages, total)
            s_pos, s_neg = rng.normal(8.0, 2.0, total), rng.normal(-3.0, 3.0, total)
            f.write("".join(f"{a:.6f}\t{b:.6f}\t{c}\t{d}\t{e}\n" for a, b, c, d, e in
                            zip(s_pos.tolist(), s_neg.tolist(), qq.tolist(), pp.tolist(), neg.tolist())))


def step(what: str, path: Path, write) -> None:
    if path.is_file():
        print(f"{what}: {path} is there", flush=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    partial = path.with_name(path.name + ".partial")  # a part cut short is written again next time
    write(partial)
    partial.rename(path)
    print(f"{what}: {path} ({path.stat().st_size / 2**30:.2f} GB) in {time.perf_counter() - start:.0f} s", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", required=True, help="the IR_DATASETS_HOME to write msmarco-passage/ into")
    ap.add_argument("--passages", type=int, default=PASSAGES)
    ap.add_argument("--dev-queries", type=int, default=DEV_QUERIES)
    ap.add_argument("--train-queries", type=int, default=TRAIN_QUERIES)
    ap.add_argument("--triples", type=int, default=TRIPLES)
    args = ap.parse_args()
    write_standin(Path(args.home), args.passages, args.dev_queries, args.train_queries, args.triples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
