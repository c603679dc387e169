"""What the benchmarks share: the same pairs for both peers (TREC DL 2019 from ../shared/irdata, or a
generated set with MS MARCO's lengths), one model folder, the machine's matrix-multiply rate, and the results file
each benchmark writes (:func:`save_results`)."""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

import torch

IRDATA = Path(__file__).resolve().parents[1].parent / "shared" / "irdata" / "trec-dl-2019-passage"
WORDS = ["the", "of", "and", "to", "in", "is", "for", "that", "on", "was", "with", "as", "by", "are", "at", "from",
         "this", "be", "an", "which", "or", "can", "it", "has", "water", "energy", "cells", "city", "price", "river",
         "heart", "system", "blood", "years", "states", "used", "time", "body", "known", "during", "temperature",
         "average", "cost", "between", "number", "most", "common", "people", "called"]


def generated_pairs(n: int, seed: int = 0) -> list[tuple[str, str, float]]:
    """Pairs shaped like MS MARCO passage ranking: queries of about 6 words (gamma), passages of about 56
    words (gamma, long tail), about 3% positive; the words are filler (speed does not depend on them)."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        q = max(2, int(rng.gammavariate(4.0, 1.5)))
        p = max(10, min(300, int(rng.gammavariate(5.0, 11.0))))
        pairs.append((" ".join(rng.choice(WORDS) for _ in range(q)), " ".join(rng.choice(WORDS) for _ in range(p)),
                      1.0 if rng.random() < 0.032 else 0.0))
    return pairs


def dl19_rerank_pairs(n: int | None = None) -> list[tuple[str, str]] | None:
    """DL19's BM25 top-100 pairs in run order (None when ../shared/irdata is absent)."""
    if not IRDATA.is_dir():
        return None
    from crossrank.data.local import LocalSource

    src = LocalSource(str(IRDATA))
    queries, docs = src.queries(), src.collection()
    rows = list(src.iter_run())
    return [(queries[q], docs[p]) for q, p, _ in rows[:n]]


def dl19_train_pairs() -> list[tuple[str, str, float]] | None:
    """DL19's judged pairs with text, label 1 for grade >= 2 (None when absent)."""
    if not IRDATA.is_dir():
        return None
    from crossrank.data.local import LocalSource

    src = LocalSource(str(IRDATA))
    queries, docs = src.queries(), src.collection()
    return [(queries[q], docs[p], float(r >= 2)) for q, judged in sorted(src.qrels().items())
            for p, r in sorted(judged.items()) if p in docs]


def model_folder(name_or_path: str | None, max_length: int) -> str:
    """A 1-logit model folder both peers load: the given one, or the packaged MiniLM with a fresh head. Where
    the package is missing (a GPU machine), ``$CROSSRANK_BENCH_MINILM`` holds MiniLM-L6's config and
    tokenizer, and the same architecture is built with random weights (speed does not depend on them)."""
    if name_or_path:
        return name_or_path
    import os

    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    from crossrank.models.export import export_model
    from crossrank.models.scorer import CrossEncoderScorer

    torch.manual_seed(0)
    config_dir = os.environ.get("CROSSRANK_BENCH_MINILM")
    if config_dir:
        config = AutoConfig.from_pretrained(config_dir, num_labels=1)
        scorer = CrossEncoderScorer(AutoModelForSequenceClassification.from_config(config),
                                    AutoTokenizer.from_pretrained(config_dir), max_length=max_length)
    else:
        from crossrank.models.hub import packaged_minilm

        scorer = CrossEncoderScorer.from_pretrained(packaged_minilm(), max_length=max_length)
    return str(export_model(scorer, Path(tempfile.mkdtemp()) / "model"))


def matmul_gflops(dtype: torch.dtype = torch.float32, n: int = 2048, device: str = "cpu") -> float:
    """The machine's rate for an n x n x n matrix product (best of 5), for FLOP-rate context."""
    a = torch.randn(n, n, dtype=dtype, device=device)
    b = torch.randn(n, n, dtype=dtype, device=device)
    a @ b
    best = float("inf")
    for _ in range(5):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        a @ b
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


RESULTS = Path(__file__).resolve().parent / "results"


def save_results(name: str, figures: dict, note: str = "") -> Path:
    """``bench/results/<name>-<date>.json``: what a benchmark measured, with the command that ran it, the commit,
    the machine and the library versions (every figure a document quotes comes from such a file). A second run
    the same day gets ``-2``, ``-3``... so a repeat never overwrites the first."""
    import platform
    import shlex
    from datetime import datetime, timezone
    from importlib.metadata import PackageNotFoundError, version

    from crossrank.files import write_json
    from crossrank.tracking.run_info import git_state, machine

    versions = {}
    for package in ("crossrank", "torch", "transformers", "sentence-transformers", "lightning", "onnxruntime"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            continue
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    payload = {"benchmark": name, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "command": shlex.join(["python", *sys.argv]), "git": git_state(), "machine": {**machine(), "cpu": cpu},
               "versions": versions, "figures": figures, "note": note}
    RESULTS.mkdir(exist_ok=True)
    day = datetime.now().strftime("%Y-%m-%d")
    path, n = RESULTS / f"{name}-{day}.json", 1
    while path.exists():
        n += 1
        path = RESULTS / f"{name}-{day}-{n}.json"
    write_json(path, payload)
    print(f"results in {path.relative_to(RESULTS.parent.parent)}")
    return path
