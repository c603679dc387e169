"""NanoBEIR-sized evaluation on this machine, against sentence-transformers' evaluator on the same candidates.

Thirteen generated sets shaped like NanoBEIR (``--queries`` queries and ``--passages`` passages each; NanoBEIR has
50 and 2-6k, about 60k passages in all) are written in NanoBEIR's parquet format to a temporary
``IR_DATASETS_HOME`` and read by ir_datasets' own ``nano-beir`` loader. Timed: BM25 over every set (bm25s, no
cache), crossrank's ``eval=nanobeir`` stage (BM25, reranking of each set's top ``--depth``, metrics, reports), and
sentence-transformers' ``CrossEncoderRerankingEvaluator`` (what its ``CrossEncoderNanoBEIREvaluator`` runs on each
set) reranking crossrank's candidates with the same model folder (MiniLM-L6 with a fresh head; speed does not
depend on the weights). The peer adds each query's positives (its default; without them it scores only the
queries whose candidates hold a positive), so the two score slightly different pair counts and are compared in
pairs per second. The texts are filler words with MS MARCO's lengths.

    python bench/nanobeir_eval.py --depth 10
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

HOME = tempfile.mkdtemp(prefix="nanobeir-bench-")
os.environ["IR_DATASETS_HOME"] = HOME  # before ir_datasets is imported: it fixes its paths then

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import WORDS, model_folder, save_results  # noqa: E402


def write_set(name: str, queries: int, passages: int, seed: int) -> None:
    """One set in NanoBEIR's files: ``corpus.parquet`` (_id, text), ``queries.parquet``, ``qrels.parquet``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(f"{name}-{seed}")
    root = Path(HOME) / "nano-beir" / name
    root.mkdir(parents=True, exist_ok=True)
    docs = [{"_id": f"d{i}", "text": " ".join(rng.choice(WORDS) for _ in range(max(10, min(300, int(
        rng.gammavariate(5.0, 11.0))))))} for i in range(passages)]
    qs = [{"_id": f"q{i}", "text": " ".join(rng.choice(WORDS) for _ in range(max(2, int(rng.gammavariate(4.0, 1.5)))))}
          for i in range(queries)]
    qrels = [{"query-id": q["_id"], "corpus-id": f"d{rng.randrange(passages)}", "score": 1} for q in qs for _ in
             range(2)]
    pq.write_table(pa.Table.from_pylist(docs), root / "corpus.parquet")
    pq.write_table(pa.Table.from_pylist(qs), root / "queries.parquet")
    pq.write_table(pa.Table.from_pylist(qrels), root / "qrels.parquet")


def peer_seconds(model_dir: str, sets: list[str], depth: int, max_length: int) -> tuple[float, int]:
    """sentence-transformers' reranking evaluator over each set's crossrank candidates: seconds, pairs."""
    import torch
    from sentence_transformers import CrossEncoder
    from sentence_transformers.cross_encoder.evaluation import CrossEncoderRerankingEvaluator

    from crossrank.data.candidates import first_stage
    from crossrank.data.irds import IRDatasetsSource

    model = CrossEncoder(model_dir, max_length=max_length, activation_fn=torch.nn.Identity(), device="cpu")
    evaluators, pairs = [], 0
    for name in sets:
        source = IRDatasetsSource(f"nano-beir/{name}")
        queries, qrels = source.queries(), source.qrels()
        candidates = first_stage(source, None, depth)
        texts = source.passages({p for j in qrels.values() for p in j} | {p for c in candidates.values() for p, _ in c})
        samples = [{"query": queries[q], "positive": [texts[p] for p in qrels[q]],
                    "documents": [texts[p] for p, _ in candidates[q]]} for q in sorted(qrels) if candidates.get(q)]
        # with always_rerank_positives=False it scores only queries whose candidates hold a positive: with the
        # positives added it scores every query, its positives and its candidates (counted here)
        pairs += sum(len(s["positive"]) + sum(d not in s["positive"] for d in s["documents"]) for s in samples)
        evaluators.append(CrossEncoderRerankingEvaluator(samples, always_rerank_positives=True, write_csv=False,
                                                         name=name))
    start = time.perf_counter()
    for evaluator in evaluators:
        evaluator(model)
    return time.perf_counter() - start, pairs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depth", type=int, default=10, help="candidates reranked per query (NanoBEIR's protocol: 100)")
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--passages", type=int, default=4600)
    ap.add_argument("--max-length", type=int, default=512)
    args = ap.parse_args()

    from crossrank.data.candidates import first_stage
    from crossrank.data.irds import IRDatasetsSource
    from crossrank.evaluation.spec import NANOBEIR, EvalSet, suite_members
    from crossrank.evaluation.stage import evaluate_sets
    from crossrank.models.scorer import CrossEncoderScorer

    for name in NANOBEIR:
        write_set(name, args.queries, args.passages, seed=0)
    start = time.perf_counter()
    for name in NANOBEIR:
        first_stage(IRDatasetsSource(f"nano-beir/{name}"), None, 100)
    bm25 = time.perf_counter() - start
    model_dir = model_folder(None, args.max_length)
    scorer = CrossEncoderScorer.from_pretrained(model_dir, num_labels=None, max_length=args.max_length)
    spec = EvalSet(name="nanobeir", kind="nanobeir", sets="all", depth=args.depth, relevance_level=1,
                   dataset_id="nano-beir",
                   metrics=["ndcg@10", "mrr@10", "map"])
    start = time.perf_counter()
    results = evaluate_sets(scorer, suite_members(spec), tempfile.mkdtemp(), progress=False)
    stage = time.perf_counter() - start
    suite = results["nanobeir"]
    peer, peer_pairs = peer_seconds(model_dir, list(NANOBEIR), args.depth, args.max_length)
    figures = {"sets": len(NANOBEIR), "queries": suite["n_queries"], "passages": args.passages * len(NANOBEIR),
               "depth": args.depth, "pairs": suite["n_pairs"], "max_length": args.max_length,
               "bm25_seconds_all_sets": round(bm25, 2), "crossrank_stage_seconds": round(stage, 2),
               "crossrank_rerank_seconds": suite["rerank_seconds"],
               "crossrank_pairs_per_second": suite["pairs_per_second"],
               "peer_seconds": round(peer, 2), "peer_pairs_per_second": round(peer_pairs / peer, 2),
               "peer_pairs": peer_pairs,
               "ratio_rerank_vs_peer": round(suite["pairs_per_second"] / (peer_pairs / peer), 2),
               "ratio_stage_vs_peer": round((suite["n_pairs"] / stage) / (peer_pairs / peer), 2),
               "full_protocol_estimate_seconds": round(suite["rerank_seconds"] * 100 / args.depth + bm25, 1)}
    for key, value in figures.items():
        print(f"{key}: {value}")
    save_results("nanobeir_eval-cpu", figures, note="13 generated NanoBEIR-shaped sets; peer: sentence-transformers' "
                 "CrossEncoderRerankingEvaluator on crossrank's candidates")
    return 0


if __name__ == "__main__":
    sys.exit(main())
