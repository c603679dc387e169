"""BM25 over a full-size MS MARCO collection: the index that orders the official candidates (which carry no scores)
and that ``first_stage: bm25`` retrieves from, on the generated stand-in (bench/msmarco_standin.py) read through
ir_datasets' own loaders.

    python bench/msmarco_standin.py --home DIR          # once: 8.8M passages, dev/small, ...
    python bench/bm25_scale.py --home DIR [--retrieve 300] [--peer-passages 1000000]

Each stage runs in its own process, whose peak resident memory is read from the kernel when it ends:
- ``build``: the index of the 8.8M passages, from an empty cache (crossrank.data.candidates.collection_index);
- ``order``: dev/small's 6,980 x 1,000 official candidates streamed and ordered by BM25, as ``evaluate.py`` reads
  them (``first_stage: auto``);
- ``retrieve``: ``--retrieve`` dev/small queries' top 1,000 from the whole collection (``first_stage: bm25``);
- ``peer`` / ``ours``: bm25s' own indexer (``BM25().index(bm25s.tokenize(texts))``) against crossrank's on the
  first ``--peer-passages`` passages, the same index (the postings are counted the same), each with the texts in
  memory (bm25s' builder takes them as a list and holds every token in Python lists as it works).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

DEV = "msmarco-passage/dev/small"


def stage(name: str, cache: Path, retrieve: int, peer_passages: int) -> dict:
    """One stage, in this process; prints its figures as JSON on the last line."""
    from crossrank.data.bm25 import BM25Index
    from crossrank.data.candidates import FirstStage, RunRows, collection_index
    from crossrank.data.irds import IRDatasetsSource

    source = IRDatasetsSource(DEV)
    how = FirstStage(cache_dir=cache)
    start = time.perf_counter()
    if name == "build":
        index = collection_index(source, how)
        seconds = time.perf_counter() - start
        size = sum(f.stat().st_size for f in index.folder.iterdir())
        return {"seconds": round(seconds, 1), "passages": len(index),
                "postings": int(index.retriever.scores["indptr"][-1]), "vocabulary": len(index.retriever.vocab_dict),
                "index_gb": round(size / 2**30, 2),
                "passages_per_second": round(len(index) / seconds)}
    if name == "order":
        rows = RunRows(source, None, how)
        n = sum(1 for _ in rows)
        seconds = time.perf_counter() - start
        return {"seconds": round(seconds, 1), "pairs": n, "queries": len(source.queries()),
                "pairs_per_second": round(n / seconds), "first_stage": rows.name}
    if name == "retrieve":
        index = collection_index(source, how)
        queries = dict(list(source.queries().items())[:retrieve])
        start = time.perf_counter()
        rows = index.search(queries, 1000)
        seconds = time.perf_counter() - start
        return {"seconds": round(seconds, 1), "queries": len(queries), "rows": len(rows),
                "queries_per_second": round(len(queries) / seconds, 2)}
    texts = []
    for pid, text in source.iter_passages():
        texts.append((pid, text))
        if len(texts) == peer_passages:
            break
    start = time.perf_counter()
    if name == "peer":
        import bm25s

        retriever = bm25s.BM25(k1=0.9, b=0.4)
        retriever.index(bm25s.tokenize([t for _, t in texts], stopwords="en", show_progress=False), show_progress=False)
        postings = int(retriever.scores["indptr"][-1])
    else:
        with tempfile.TemporaryDirectory() as folder:
            postings = int(BM25Index.build(texts, Path(folder)).retriever.scores["indptr"][-1])
    return {"seconds": round(time.perf_counter() - start, 1), "passages": len(texts), "postings": postings}


def run_stage(name: str, args: argparse.Namespace, cache: Path) -> dict:
    """``name`` in a child process; its figures and its peak resident memory (the kernel's count, at its end)."""
    env = {**os.environ, "IR_DATASETS_HOME": args.home}
    proc = subprocess.Popen([sys.executable, __file__, "--stage", name, "--home", args.home, "--cache", str(cache),
                             "--retrieve", str(args.retrieve), "--peer-passages", str(args.peer_passages)],
                            env=env, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    if status:
        raise SystemExit(f"stage {name} failed ({status})")
    figures = json.loads(out.strip().splitlines()[-1]) | {"peak_rss_gb": round(usage.ru_maxrss / 2**20, 2)}
    print(f"{name:<9} {json.dumps(figures)}", flush=True)
    return figures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", required=True, help="IR_DATASETS_HOME holding the stand-in (bench/msmarco_standin.py)")
    ap.add_argument("--retrieve", type=int, default=300)
    ap.add_argument("--peer-passages", type=int, default=1_000_000)
    ap.add_argument("--stage", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--cache", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.stage:
        print(json.dumps(stage(args.stage, Path(args.cache), args.retrieve, args.peer_passages)))
        return 0
    from common import save_results

    with tempfile.TemporaryDirectory(prefix="bm25-scale-") as cache:
        figures = {name: run_stage(name, args, Path(cache)) for name in ("build", "order", "retrieve")}
    with tempfile.TemporaryDirectory(prefix="bm25-peer-") as cache:
        for name in ("ours", "peer"):
            figures[name] = run_stage(name, args, Path(cache))
    ours, peer = figures["ours"], figures["peer"]
    figures["vs_peer"] = {"time": round(peer["seconds"] / ours["seconds"], 2),
                          "peak_memory": round(peer["peak_rss_gb"] / ours["peak_rss_gb"], 2),
                          "same_postings": ours["postings"] == peer["postings"]}
    print(f"index of {figures['build']['passages']:,} passages: {figures['build']['seconds']:.0f} s, peak "
          f"{figures['build']['peak_rss_gb']:.1f} GB; ordering {figures['order']['pairs_per_second']:,} pairs/s; "
          f"retrieval {figures['retrieve']['queries_per_second']} queries/s; vs bm25s' indexer on "
          f"{peer['passages']:,} passages: {figures['vs_peer']['time']}x faster, {figures['vs_peer']['peak_memory']}x "
          "less memory")
    save_results("bm25_scale", figures, note="generated MS MARCO stand-in (bench/msmarco_standin.py) read through "
                                             "ir_datasets' msmarco-passage loaders; peak RSS per stage process")
    return 0


if __name__ == "__main__":
    sys.exit(main())
