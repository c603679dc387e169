"""``crossrank mine`` at scale: hard negatives of many queries over a generated 1M-passage collection, the teacher
scoring every (query, candidate) pair with each passage fetched and encoded once. Peak memory should stay flat as
the number of pairs grows (a few bytes a pair; never an embedding a pair).

    python bench/mine_scale.py [--passages 1000000] [--queries 5000 20000] [--depth 100]

A local folder in the irdata format (bench/msmarco_standin.py's vocabulary and lengths): the collection, the queries
with one judged positive each and a run of ``--depth`` random candidates a query. The teacher is a bi-encoder of the
all-MiniLM-L6 shape but 2 layers and 32 wide (random weights, built offline): the figures are the pipeline's
(fetching, batching, scoring, selecting), not a large model's speed. Each size runs ``crossrank mine`` in its own
process; its peak resident memory is the kernel's.
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

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def write_folder(root: Path, passages: int, queries: int, depth: int, seed: int = 0) -> None:
    from msmarco_standin import vocabulary, write_collection, write_queries

    rng = np.random.default_rng(seed)
    words, cdf = vocabulary()
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "collection.tsv").is_file():
        write_collection(root / "collection.tsv", passages, rng, words, cdf)
    qids = np.arange(queries)
    write_queries(root / "queries.tsv", qids, rng, words)
    positives = rng.integers(0, passages, queries)
    (root / "qrels.tsv").write_text("".join(f"{q}\t0\t{p}\t1\n" for q, p in zip(qids.tolist(), positives.tolist())))
    with (root / "run.tsv").open("w") as f:
        for q in qids.tolist():
            cands = rng.choice(passages, depth, replace=False)
            f.write("".join(f"{q}\tQ0\t{p}\t{r + 1}\t{depth - r}\tgen\n" for r, p in enumerate(cands.tolist())))


def tiny_bi_encoder(folder: Path) -> Path:
    """A 2-layer, 32-wide BERT with the MiniLM tokenizer and mean pooling, as a sentence-transformers folder."""
    if (folder / "modules.json").is_file():
        return folder
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import AutoTokenizer, BertConfig, BertModel

    from crossrank.models.hub import packaged_minilm

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(packaged_minilm())
    bert = folder / "bert"
    BertModel(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64)).save_pretrained(bert)
    tokenizer.save_pretrained(bert)
    word = models.Transformer(str(bert), max_seq_length=128)
    SentenceTransformer(modules=[word, models.Pooling(32, "mean")]).save(str(folder))
    return folder


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--passages", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, nargs="+", default=[5_000, 20_000])
    ap.add_argument("--depth", type=int, default=100)
    ap.add_argument("--work", default=None, help="where the folders go (default: a temporary folder)")
    args = ap.parse_args()
    from common import save_results

    work = Path(args.work or tempfile.mkdtemp(prefix="mine-scale-"))
    teacher = tiny_bi_encoder(work / "teacher")
    figures = {}
    for n in args.queries:
        folder = work / f"q{n}"
        if not (folder / "run.tsv").is_file():
            if (work / "collection.tsv").is_file():
                folder.mkdir(parents=True, exist_ok=True)
                os.link(work / "collection.tsv", folder / "collection.tsv")
            write_folder(folder, args.passages, n, args.depth)
            if not (work / "collection.tsv").is_file():
                os.link(folder / "collection.tsv", work / "collection.tsv")
        env = {**os.environ, "CROSSRANK_CACHE": str(work / "cache"), "HF_HUB_OFFLINE": "1"}
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "crossrank", "mine", "--data", str(folder), "--teacher",
                                 f"bi-encoder:{teacher}", "--out", str(folder / "mined.run"), "--depth",
                                 str(args.depth), "--num-negatives", "30"], env=env, stdout=subprocess.PIPE, text=True)
        out = proc.stdout.read() if proc.stdout else ""
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        if status:
            raise SystemExit(f"crossrank mine failed on {n} queries ({status})")
        summary = json.loads(out.strip().splitlines()[-1])
        pairs = n * (args.depth + 1)
        figures[str(n)] = {"queries": n, "pairs": pairs, "seconds": round(seconds, 1),
                           "pairs_per_second": round(pairs / seconds), "peak_rss_gb": round(usage.ru_maxrss / 2**20, 2),
                           "negatives": summary["negatives"]}
        print(f"{n:>7} queries {figures[str(n)]}", flush=True)
    sizes = [figures[str(n)] for n in args.queries]
    grown = sizes[-1]["peak_rss_gb"] - sizes[0]["peak_rss_gb"]
    more = max(1e-9, (sizes[-1]["pairs"] - sizes[0]["pairs"]) / 1e6)
    figures["memory_growth_gb_per_million_pairs"] = round(grown / more, 3)
    figures["passages"] = args.passages
    save_results("mine_scale", figures, note="crossrank mine over a generated 1M-passage folder, a tiny bi-encoder "
                                             "teacher (the pipeline's speed, not a model's); peak RSS per run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
