"""Reranking throughput: crossrank (every backend) vs sentence-transformers' CrossEncoder.predict.

    python bench/rerank_throughput.py [--pairs 1000] [--rounds 2] [--device cpu|cuda] [--model DIR]

One process, the same 1-logit model folder (the packaged MiniLM with a fresh head unless --model) and the same
pairs: the first --pairs of DL19's BM25 top-100 from ../shared/irdata, or a generated set with MS MARCO's
lengths when that is absent. Each contender runs once untimed (warm-up), then the contenders take turns for
--rounds rounds (machine drift hits all of them) and the best round counts. The peer runs at its default batch
size (32) and at its best of 16/32/64/128 (chosen on a warm-up pass). Prints pairs/s, ratios to the peer, the
largest score difference from the peer, real and padded tokens per pair, and achieved GFLOP/s against the
machine's matrix-multiply rate.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import dl19_rerank_pairs, generated_pairs, matmul_gflops, model_folder, save_results  # noqa: E402

warnings.filterwarnings("ignore")


def flops(config, batches: list[int], width: list[int]) -> float:
    """Matrix-multiply FLOPs a BERT encoder executes on padded batches (linear layers + attention)."""
    h, layers, inter = config.hidden_size, config.num_hidden_layers, config.intermediate_size
    per_token = 2 * layers * (4 * h * h + 2 * h * inter)
    return float(sum(b * t * per_token + 4 * layers * b * t * t * h for b, t in zip(batches, width)))


def padding(tokenizer, pairs, max_length: int, batch_size: int) -> tuple[float, float, list[int], list[int]]:
    """Real tokens per pair, padded tokens per pair when sorted by token length, and the batch shapes."""
    from crossrank.data.collate import length_sorted, tokenize_packed

    lengths = tokenize_packed(tokenizer, [q for q, _ in pairs], [p for _, p in pairs], max_length).lengths.tolist()
    batches = length_sorted(lengths, batch_size)
    sizes = [len(b) for b in batches]
    widths = [max(lengths[i] for i in b) for b in batches]
    return float(np.mean(lengths)), sum(s * w for s, w in zip(sizes, widths)) / len(pairs), sizes, widths


def tokenizing_alone(scorer, pairs) -> None:
    """How fast crossrank's tokenizer workers alone turn the pairs into packed arrays (on a GPU the ceiling of
    scoring, unless the model is slower)."""
    from crossrank.data.tokenizer_pool import default_workers, shared_pool

    workers = max(1, default_workers("cuda", len(pairs)))
    pool = shared_pool(scorer.tokenizer, scorer.max_length, workers)
    qs, ps = [q for q, _ in pairs], [p for _, p in pairs]
    pool.tokenize(qs, ps)  # workers started and warm
    start = time.perf_counter()
    pool.tokenize(qs, ps)
    print(f"tokenizing alone: {len(pairs) / (time.perf_counter() - start):.0f} pairs/s in {workers} worker "
          "processes", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batch-size", type=int, nargs="+", default=[None],
                    help="crossrank's batch sizes to try (default: its own, 16 on a CPU in fp32, 32 in bf16, 256 on "
                         "a GPU)")
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--model", default=None)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--backends", nargs="+", default=None, help="default: all that run on the device")
    args = ap.parse_args()
    from sentence_transformers import CrossEncoder

    from crossrank import Reranker
    from crossrank.models.reranker import BACKENDS

    pairs = dl19_rerank_pairs(args.pairs)
    source = "DL19 BM25 top-100 pairs" if pairs else "generated MS MARCO-shaped pairs"
    pairs = pairs or [(q, p) for q, p, _ in generated_pairs(args.pairs)]
    model = model_folder(args.model, args.max_length)
    backends = args.backends or [b for b in BACKENDS if args.device == "cpu" or b in ("torch", "torch-bf16")]
    ours = {b: Reranker(model, device=args.device, backend=b) for b in backends}
    peer = CrossEncoder(model, device=args.device)

    def run_peer(batch_size: int):
        return lambda: peer.predict(pairs, batch_size=batch_size, show_progress_bar=False)

    contenders = {}
    for b, r in ours.items():
        for bs in args.batch_size:
            name = f"crossrank {b}" + (f" bs={bs}" if len(args.batch_size) > 1 else "")
            contenders[name] = lambda r=r, bs=bs: r.predict(pairs, batch_size=bs)
    probe = pairs[: min(len(pairs), 300 if args.device == "cpu" else 4096)]
    trial = {}
    for bs in (16, 32, 64, 128) + ((256, 512) if args.device == "cuda" else ()):
        start = time.perf_counter()
        peer.predict(probe, batch_size=bs, show_progress_bar=False)
        trial[bs] = time.perf_counter() - start
    best_bs = min(trial, key=trial.get)
    contenders["sentence-transformers bs=32 (default)"] = run_peer(32)
    contenders[f"sentence-transformers bs={best_bs} (best)"] = run_peer(best_bs)
    for name, fn in contenders.items():  # warm-up, untimed
        start = time.perf_counter()
        fn()
        print(f"  warm-up {name}: {time.perf_counter() - start:.1f} s", flush=True)
    if args.device == "cuda":
        tokenizing_alone(next(iter(ours.values())).scorer, pairs)
    best = dict.fromkeys(contenders, float("inf"))
    scores = {}
    for round_ in range(args.rounds):
        for name, fn in contenders.items():
            if args.device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            scores[name] = np.asarray(fn(), dtype=np.float32)
            if args.device == "cuda":
                torch.cuda.synchronize()
            seconds = time.perf_counter() - start
            best[name] = min(best[name], seconds)
            # as it goes: a run cut short still says something
            print(f"  round {round_ + 1} {name}: {len(pairs) / seconds:.1f} pairs/s", flush=True)
    rate = {k: len(pairs) / v for k, v in best.items()}
    default = rate["sentence-transformers bs=32 (default)"]
    best_peer = rate[f"sentence-transformers bs={best_bs} (best)"]
    reference = scores["sentence-transformers bs=32 (default)"]
    scorer = next(iter(ours.values())).scorer

    batch = args.batch_size[0] or scorer.default_batch_size()
    real, padded, sizes, widths = padding(scorer.tokenizer, pairs, scorer.max_length, batch)
    work = flops(scorer.model.config, sizes, widths)
    peak32 = matmul_gflops(torch.float32, device=args.device)
    peak16 = matmul_gflops(torch.bfloat16, device=args.device)
    print(f"device={args.device} pairs={len(pairs)} ({source}) max_length={scorer.max_length} "
          f"crossrank batch={args.batch_size[0] or 'default'} threads={torch.get_num_threads()} rounds={args.rounds}")
    print(f"tokens per pair: {real:.1f} real, {padded:.1f} padded in crossrank's length-sorted batches of {batch} "
          "(GFLOP/s below count the padded work of those batches)")
    print(f"machine: {peak32:.0f} GFLOP/s fp32, {peak16:.0f} GFLOP/s bf16 (2048-square matmul)")
    for name, r in rate.items():
        line = (f"{name:>38}: {r:9.1f} pairs/s  x{r / default:5.2f} vs peer default  x{r / best_peer:5.2f} vs "
                f"peer best  max|diff| {np.abs(scores[name] - reference).max():.2e}")
        if name.startswith("crossrank"):
            line += f"  {work / best[name] / 1e9:6.0f} GFLOP/s"
        print(line)
    fastest = max((k for k in rate if k.startswith("crossrank")), key=rate.get)
    plain = max((k for k in rate if k.startswith("crossrank torch") and "bf16" not in k), key=rate.get)
    print(f"rerank throughput ratio vs sentence-transformers (default batch): crossrank torch "
          f"{rate[plain] / default:.2f}x, fastest ({fastest.split()[-1]}) {rate[fastest] / default:.2f}x")
    save_results(f"rerank_throughput-{args.device}", {
        "pairs": len(pairs), "source": source, "max_length": scorer.max_length, "rounds": args.rounds,
        "threads": torch.get_num_threads(), "crossrank_batch_size": batch, "peer_best_batch_size": best_bs,
        "tokens_per_pair": {"real": round(real, 1), "padded": round(padded, 1)},
        "pairs_per_second": {k: round(v, 1) for k, v in rate.items()},
        "ratio_vs_peer_default": {k: round(v / default, 3) for k, v in rate.items() if k.startswith("crossrank")},
        "ratio_vs_peer_best": {k: round(v / best_peer, 3) for k, v in rate.items() if k.startswith("crossrank")},
        "max_abs_score_difference_vs_peer": {k: float(np.abs(scores[k] - reference).max()) for k in rate},
        "gflops_per_second": {k: round(work / best[k] / 1e9, 1) for k in rate if k.startswith("crossrank")},
        "machine_matmul_gflops": {"fp32": round(peak32, 1), "bf16": round(peak16, 1)}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
