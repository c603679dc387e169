"""Reranking throughput: crossrank vs sentence-transformers' CrossEncoder on the same pairs.

    python bench/rerank_throughput.py [--pairs 1000] [--batch-size 64] [--max-length 256] [--model DIR]

Pairs: the first queries' BM25 candidates of ../shared/irdata/trec-dl-2019-passage (skips when absent).
Both libraries load the same folder (default: the packaged all-MiniLM-L6-v2 with a fresh 1-logit head,
exported once) and score the same pairs; the script prints pairs/s of each, their ratio, and the largest
score difference. Run it on an idle machine; it alternates the two peers and keeps the best of 3 rounds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

IRDATA = Path(__file__).resolve().parents[1].parent / "shared" / "irdata" / "trec-dl-2019-passage"


def load_pairs(n: int) -> list[tuple[str, str]]:
    from crossrank.data.sources import LocalSource

    src = LocalSource(str(IRDATA))
    queries, docs = src.queries(), src.collection()
    return [(queries[q], docs[p]) for q, p, _ in list(src.iter_run())[:n]]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--model", default=None)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    if not IRDATA.is_dir():
        print(f"skipped: {IRDATA} is absent (real DL19 pairs are needed)")
        return 0
    from sentence_transformers import CrossEncoder

    from crossrank import Reranker
    from crossrank.export import export_model
    from crossrank.hub import packaged_minilm
    from crossrank.scorer import CrossEncoderScorer

    model = args.model
    if model is None:
        torch.manual_seed(0)
        model = str(export_model(CrossEncoderScorer.from_pretrained(packaged_minilm(), args.max_length),
                                 Path(tempfile.mkdtemp()) / "model"))
    pairs = load_pairs(args.pairs)
    ours = Reranker(model, max_length=args.max_length, device=args.device)
    peer = CrossEncoder(model, max_length=args.max_length, device=args.device)
    best = {"crossrank": float("inf"), "sentence-transformers": float("inf")}
    outputs = {}
    for _ in range(3):
        for name, fn in (("crossrank", lambda: ours.predict(pairs, batch_size=args.batch_size)),
                         ("sentence-transformers", lambda: peer.predict(pairs, batch_size=args.batch_size,
                                                                        show_progress_bar=False))):
            start = time.perf_counter()
            outputs[name] = np.asarray(fn())
            best[name] = min(best[name], time.perf_counter() - start)
    rate = {k: len(pairs) / v for k, v in best.items()}
    print(f"device={args.device} pairs={len(pairs)} batch={args.batch_size} max_length={args.max_length} "
          f"threads={torch.get_num_threads()}")
    for k, v in rate.items():
        print(f"{k:>22}: {v:8.1f} pairs/s")
    print(f"ratio crossrank / sentence-transformers: {rate['crossrank'] / rate['sentence-transformers']:.2f}")
    print(f"max |score difference|: {np.abs(outputs['crossrank'] - outputs['sentence-transformers']).max():.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
