"""Memory of the evaluation stage: 1M generated candidate pairs streamed through rerank + metrics with the
tiny model, peak RSS printed every 100k pairs (target: <= 2 GB, flat in the number of pairs).

    python bench/rerank_memory.py [--pairs 1000000] [--shard 100000]

The generated set is written as a local irdata folder: 10,000 queries x 100 candidates drawn from 200,000
passages of about 56 words (MS MARCO's passage lengths).
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import WORDS, save_results  # noqa: E402


def rss_mb() -> float:
    """Resident memory now (MiB)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_dataset(root: Path, n_pairs: int, depth: int = 100, n_passages: int = 200_000, seed: int = 0) -> Path:
    rng = random.Random(seed)
    n_queries = n_pairs // depth
    root.mkdir(parents=True, exist_ok=True)
    with (root / "queries.tsv").open("w") as f:
        for q in range(n_queries):
            f.write(f"q{q}\t{' '.join(rng.choice(WORDS) for _ in range(max(2, int(rng.gammavariate(4, 1.5)))))}\n")
    with (root / "collection.tsv").open("w") as f:
        for p in range(n_passages):
            words = max(10, min(300, int(rng.gammavariate(5.0, 11.0))))
            f.write(f"p{p}\t{' '.join(rng.choice(WORDS) for _ in range(words))}\n")
    with (root / "qrels.tsv").open("w") as f, (root / "run.tsv").open("w") as run:
        for q in range(n_queries):
            pids = rng.sample(range(n_passages), depth)
            f.write(f"q{q}\t0\tp{pids[0]}\t1\n")
            run.writelines(f"q{q}\tQ0\tp{p}\t{r + 1}\t{100.0 - r}\tgen\n" for r, p in enumerate(pids))
    return root


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=1_000_000)
    ap.add_argument("--shard", type=int, default=100_000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    start = time.perf_counter()
    data = write_dataset(tmp / "data", args.pairs)
    print(f"generated {args.pairs:,} candidates in {time.perf_counter() - start:.0f} s; RSS {rss_mb():.0f} MiB")

    from crossrank.evaluation import rerank as rerank_mod
    from crossrank.evaluation.spec import EvalSet
    from crossrank.evaluation.stage import evaluate_set
    from crossrank.models.scorer import CrossEncoderScorer
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from tiny import make_tiny_model  # the test suite's tiny random model

    scorer = CrossEncoderScorer.from_pretrained(str(make_tiny_model(tmp / "tiny")), max_length=128, num_labels=None)
    print(f"model loaded; RSS {rss_mb():.0f} MiB, peak {peak_mb():.0f} MiB")
    real = rerank_mod._score_with_bar
    seen = {"pairs": 0}
    rss_by_pairs: dict[int, float] = {}

    def score_and_report(*a, **kw):  # one shard: report memory after it
        out = real(*a, **kw)
        seen["pairs"] += len(out)
        rss_by_pairs[seen["pairs"]] = round(rss_mb(), 1)
        print(f"{seen['pairs']:>9,} pairs scored: RSS {rss_mb():6.0f} MiB, peak {peak_mb():6.0f} MiB, "
              f"{seen['pairs'] / (time.perf_counter() - start):6.0f} pairs/s", flush=True)
        return out

    rerank_mod._score_with_bar = score_and_report
    start = time.perf_counter()
    result = evaluate_set(scorer, EvalSet(name="gen", path=str(data), depth=None, shard_size=args.shard), tmp / "out",
                          progress=False)
    print(f"metrics computed over {result['n_pairs']:,} pairs: RSS {rss_mb():.0f} MiB, peak {peak_mb():.0f} MiB; "
          f"{time.perf_counter() - start:.0f} s in all")
    print(f"peak RSS of the evaluation stage: {peak_mb() / 1024:.2f} GiB (target <= 2 GiB)")
    save_results("rerank_memory", {"pairs": result["n_pairs"], "shard_size": args.shard,
                                   "rss_mib_after_pairs": rss_by_pairs, "peak_rss_gib": round(peak_mb() / 1024, 3),
                                   "seconds": round(time.perf_counter() - start, 1), "target_peak_gib": 2})
    return 0


if __name__ == "__main__":
    sys.exit(main())
