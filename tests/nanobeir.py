"""A local stand-in for ir_datasets' ``nano-beir/<set>``: the three parquet files it downloads from the Hugging
Face datasets ``zeta-alpha-ai/Nano<Set>`` (same columns: ``_id``/``text``; ``query-id``/``corpus-id``), written
where ir_datasets looks for them, so the real ``nano-beir`` loader reads them offline."""

from __future__ import annotations

import os
import random
from pathlib import Path

TOPICS = ["solar panels", "coffee beans", "river otters", "jazz piano", "tax returns", "mountain bikes",
          "glacier melt", "chess openings", "sourdough bread", "volcanic soil"]


def write_nanobeir_set(name: str, home: str | Path | None = None, seed: int = 0) -> Path:
    """Write ``nano-beir/<name>`` (10 queries, 50 passages) under ``home`` (default ``$IR_DATASETS_HOME``).

    Each query has two judged passages: one that shares its words (BM25 finds it) and one that shares none
    (BM25 never ranks it: a positive only ``rerank_positives`` brings in); the rest are distractors.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = Path(home or os.environ["IR_DATASETS_HOME"]) / "nano-beir" / name
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"{name}-{seed}")
    docs, queries, qrels = [], [], []
    for i, topic in enumerate(TOPICS):
        qid = f"{name}-q{i}"
        queries.append({"_id": qid, "text": f"how do {topic} work"})
        docs.append({"_id": f"{name}-d{i}-hit", "text": f"{topic} explained: {topic} work because of {name} physics"})
        docs.append({"_id": f"{name}-d{i}-far", "text": f"an unlisted essay number {i} on a related matter"})
        qrels += [{"query-id": qid, "corpus-id": f"{name}-d{i}-hit", "score": 1},
                  {"query-id": qid, "corpus-id": f"{name}-d{i}-far", "score": 1}]
        for j in range(3):
            other = TOPICS[rng.randrange(len(TOPICS))]
            docs.append({"_id": f"{name}-d{i}-{j}", "text": f"a note {j} on {other} prices and how {topic} sell"})
    pq.write_table(pa.Table.from_pylist(docs), root / "corpus.parquet")
    pq.write_table(pa.Table.from_pylist(queries), root / "queries.parquet")
    pq.write_table(pa.Table.from_pylist(qrels), root / "qrels.parquet")
    return root


def write_st_nanobeir(root: Path, names: list[str], depth: int = 30, seed: int = 0) -> Path:
    """The same sets in sentence-transformers' NanoBEIR format, the layout of ``sentence-transformers/NanoBEIR-en``:
    a README declaring the subsets ``corpus``, ``queries``, ``qrels`` and ``bm25`` with one split per set
    (``Nano<Set>``) in ``<subset>/<Split>-00000-of-00001.parquet``. The stored ranking (``bm25``) lists each query's
    word-sharing passage first, then the set's other passages in a seeded order, never its second positive (a
    positive only ``rerank_positives`` brings in)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from crossrank.data.nanobeir import SPLITS

    configs = []
    for subset in ("corpus", "queries", "qrels", "bm25"):
        files = "\n".join(f"  - split: {SPLITS[n]}\n    path: {subset}/{SPLITS[n]}-*" for n in names)
        configs.append(f"- config_name: {subset}\n  data_files:\n{files}")
    root.mkdir(parents=True, exist_ok=True)
    (root / "README.md").write_text("---\nconfigs:\n" + "\n".join(configs) + "\n---\n# NanoBEIR stand-in (tests)\n")
    for name in names:
        rng = random.Random(f"{name}-st-{seed}")
        split = SPLITS[name]
        docs, queries, qrels, bm25 = [], [], [], []
        ids = [f"{name}-d{i}-{j}" for i in range(len(TOPICS)) for j in range(3)]
        for i, topic in enumerate(TOPICS):
            qid = f"{name}-q{i}"
            queries.append({"_id": qid, "text": f"how do {topic} work"})
            docs.append({"_id": f"{name}-d{i}-hit", "text": f"{topic} explained: {topic} work because of {name}"})
            docs.append({"_id": f"{name}-d{i}-far", "text": f"an unlisted essay number {i} on a related matter"})
            qrels += [{"query-id": qid, "corpus-id": f"{name}-d{i}-{kind}"} for kind in ("hit", "far")]
            for j in range(3):
                other = TOPICS[(i + j) % len(TOPICS)]
                docs.append({"_id": f"{name}-d{i}-{j}", "text": f"a note {j} on {other} prices"})
            others = rng.sample(ids, len(ids))
            bm25.append({"query-id": qid, "corpus-ids": [f"{name}-d{i}-hit", *others][:depth]})
        for subset, rows in (("corpus", docs), ("queries", queries), ("qrels", qrels), ("bm25", bm25)):
            (root / subset).mkdir(exist_ok=True)
            pq.write_table(pa.Table.from_pylist(rows), root / subset / f"{split}-00000-of-00001.parquet")
    return root
