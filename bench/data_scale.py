"""The data pipeline at MS MARCO's size, on generated data: wall time and peak memory of each stage.

    python bench/data_scale.py [--passages 1000000] [--queries 50000] [--stream-rows 50000000] [--keep DIR]

Writes a local folder shaped like MS MARCO passage training: 1M passages (lengths like MS MARCO's: about 56
words), 50k training queries with one judged positive each, a 100-deep run for 10k of them (1M evaluation
candidates), and a 50M-row ``qid pid`` candidate file shaped like ``msmarco-passage/train``'s official
candidates (478M rows). Then, as ``+experiment=bce_baseline`` does: picks 10,018 queries x (1 positive + 30
negatives from their top 1,000 candidates) = 310,558 pairs and caches them as Arrow; builds them again from the
cache; and streams the 1M evaluation candidates with their texts, shard by shard, as the evaluation stage does.
Targets: peak RSS <= 3 GB; candidate picking >= 2M rows/s; the cached build >= 20x faster than the first.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import WORDS, save_results  # noqa: E402


def rss_gb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**30


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


STAGES: dict[str, dict] = {}  # what report() printed, for the results file


def report(stage: str, start: float, extra: str = "") -> float:
    seconds = time.perf_counter() - start
    print(f"{stage:<44} {seconds:8.1f} s   RSS {rss_gb():5.2f} GB   peak {peak_gb():5.2f} GB   {extra}", flush=True)
    STAGES[stage] = {"seconds": round(seconds, 1), "peak_rss_gb": round(peak_gb(), 2), "note": extra}
    return seconds


def write_dataset(root: Path, passages: int, queries: int, stream_rows: int, eval_queries: int = 10_000,
                  depth: int = 100, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    words = np.array(WORDS)
    root.mkdir(parents=True, exist_ok=True)
    with (root / "collection.tsv").open("w") as f:
        for start in range(0, passages, 100_000):
            n = min(100_000, passages - start)
            lengths = np.clip(rng.gamma(5.0, 11.0, n).astype(int), 10, 300)
            ids = rng.integers(0, len(words), int(lengths.sum()))
            text = words[ids]
            cuts = np.cumsum(lengths)[:-1]
            f.write("".join(f"p{start + i}\t{' '.join(chunk)}\n" for i, chunk in enumerate(np.split(text, cuts))))
    qlen = np.clip(rng.gamma(4.0, 1.5, queries).astype(int), 2, 30)
    with (root / "queries.tsv").open("w") as f:
        f.write("".join(f"q{i}\t{' '.join(words[rng.integers(0, len(words), n)])}\n" for i, n in enumerate(qlen)))
    positives = rng.integers(0, passages, queries)
    with (root / "qrels.tsv").open("w") as f:
        f.write("".join(f"q{i}\t0\tp{p}\t1\n" for i, p in enumerate(positives)))
    per_query = max(1, stream_rows // queries)
    with (root / "train_candidates.tsv").open("w") as f:  # qid pid, like ir_datasets' msmarco-passage/train
        for start in range(0, queries, 2000):
            block = range(start, min(start + 2000, queries))
            qs = np.repeat(np.array(block), per_query)
            ps = np.concatenate([rng.choice(passages, per_query, replace=False) for _ in block])
            f.write("".join(f"q{q} p{p}\n" for q, p in zip(qs.tolist(), ps.tolist())))
    with (root / "run.tsv").open("w") as f:  # the evaluation run: 100 candidates for 10k queries
        for q in range(eval_queries):
            ps = rng.choice(passages, depth, replace=False)
            f.write("".join(f"q{q}\tQ0\tp{p}\t{r + 1}\t{100.0 - r}\tgen\n" for r, p in enumerate(ps.tolist())))


def build_pairs(root: Path, cache: Path, stream_rows: int):
    from crossrank.data.datamodule import PairDataModule

    dm = PairDataModule(pairs={"num_queries": 10018, "positives_per_query": 1, "negatives_per_query": 30,
                               "min_relevance": 1, "candidate_depth": 1000, "val_queries": 0, "seed": 42},
                        kind="local", path=str(root), run_path="train_candidates.tsv", cache_dir=str(cache))
    start = time.perf_counter()
    dm.build()
    return dm, time.perf_counter() - start


def main() -> int:
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--passages", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=50_000)
    ap.add_argument("--stream-rows", type=int, default=50_000_000)
    ap.add_argument("--keep", default=None, help="write (or reuse) the generated data here")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    root = Path(args.keep) if args.keep else tmp / "msmarco-like"
    start = time.perf_counter()
    if not (root / "train_candidates.tsv").is_file():
        write_dataset(root, args.passages, args.queries, args.stream_rows)
    rows = sum(1 for _ in (root / "train_candidates.tsv").open("rb"))
    report("generated data (or reused it)", start, f"{rows:,} candidate rows, "
           f"{(root / 'train_candidates.tsv').stat().st_size / 2**30:.2f} GB file")

    from crossrank.data.local import LocalSource
    from crossrank.data.runfile import pick

    source = LocalSource(str(root), run_file="train_candidates.tsv")
    start = time.perf_counter()
    source.queries(), source.qrels()
    report("read queries, judgments, collection", start, f"{len(source.collection()):,} passages")
    wanted = sorted(source.qrels())[:10018]
    start = time.perf_counter()
    picked = pick(root / "train_candidates.tsv", wanted, 1000)
    seconds = report("candidate picking (10,018 queries' top 1,000)", start,
                     f"{rows / (time.perf_counter() - start) / 1e6:.1f}M rows/s over {rows:,} rows")
    del picked

    start = time.perf_counter()
    dm, first = build_pairs(root, tmp / "cache", rows)
    report("pair set built and cached (bce_baseline shape)", start,
           f"{len(dm.train_dataset):,} pairs, {int(sum(dm.train_dataset['label'])):,} positive")
    del dm
    start = time.perf_counter()
    dm, second = build_pairs(root, tmp / "cache", rows)
    report("pair set again, from the Arrow cache", start, f"{first / second:.0f}x faster than the first build")

    from crossrank.data.candidates import FirstStage, RunRows

    start = time.perf_counter()
    evaluation = LocalSource(str(root))
    n, shard = 0, []
    for row in RunRows(evaluation, 100, FirstStage()):
        shard.append(row)
        if len(shard) == 50_000:
            texts = evaluation.passages({p for _, p, _ in shard})
            n += len(shard)
            shard = []
    n += len(shard)
    report("1M evaluation candidates streamed with texts", start,
           f"{n:,} candidates, {n / (time.perf_counter() - start):,.0f}/s")
    print(f"peak RSS {peak_gb():.2f} GB (target <= 3); candidate picking {rows / seconds / 1e6:.1f}M rows/s "
          f"(target >= 2); cached build {first / second:.0f}x faster (target >= 20)")
    save_results("data_scale", {"stages": STAGES, "peak_rss_gb": round(peak_gb(), 2),
                                "picking_million_rows_per_second": round(rows / seconds / 1e6, 2),
                                "cached_build_speedup": round(first / second, 1),
                                "targets": {"peak_rss_gb": 3, "picking_million_rows_per_second": 2,
                                            "cached_build_speedup": 20}})
    del texts
    return 0


if __name__ == "__main__":
    sys.exit(main())
