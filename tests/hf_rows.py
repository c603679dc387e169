"""A local stand-in of the Hugging Face dataset ``samaya-ai/msmarco-w-instructions`` in the hub's own layout: a
README with its ``dataset_info`` and ``data/train-0000N-of-0000M.parquet`` shards with its columns (``query_id,
query, positive_passages, negative_passages, only_instruction, only_query, has_instruction, new_negatives``; the
passages as lists of structs), so ``datasets`` reads it as it reads the downloaded files."""

from __future__ import annotations

import random
from pathlib import Path

TOPICS = ["solar panels", "coffee beans", "river otters", "jazz piano", "tax returns", "mountain bikes",
          "glacier melt", "chess openings", "sourdough bread", "volcanic soil"]

README = """---
dataset_info:
  features:
  - name: query_id
    dtype: string
  - name: query
    dtype: string
  - name: positive_passages
    list:
    - name: docid
      dtype: string
    - name: explanation
      dtype: string
    - name: followir_score
      dtype: float64
    - name: joint_id
      dtype: string
    - name: text
      dtype: string
    - name: title
      dtype: string
  - name: negative_passages
    list:
    - name: docid
      dtype: string
    - name: text
      dtype: string
    - name: title
      dtype: string
  - name: only_instruction
    dtype: string
  - name: only_query
    dtype: string
  - name: has_instruction
    dtype: bool
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*
---
# A stand-in of samaya-ai/msmarco-w-instructions for tests (generated)
"""


def write_seed_rows(root: Path, n_rows: int = 60, shards: int = 2, seed: int = 0) -> list[dict]:
    """Write the stand-in under ``root``; returns its rows in order. Each query has a plain row and a row with an
    instruction (same ``query_id``), in no pattern; a row has 1 positive and 28-30 negatives."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(seed)
    order = [(k, instructed) for k in range(-(-n_rows // 2)) for instructed in (False, True)]
    rng.shuffle(order)  # each query once plain, once with an instruction, in no pattern
    rows = []
    for i, (k, instructed) in enumerate(order[:n_rows]):
        topic = TOPICS[k % len(TOPICS)]
        query = f"how do {topic} work in case {k}"
        instruction = "Relevant passages explain the mechanism in detail." if instructed else ""
        pos = [{"docid": str(10_000 + i), "explanation": None, "followir_score": None, "joint_id": None,
                "text": f"{topic} work like this, case {k}: a full explanation", "title": "-"}]
        negs = [{"docid": str(20_000 + 50 * i + j), "text": f"a note {j} on {TOPICS[(k + j) % len(TOPICS)]} prices",
                 "title": "-"} for j in range(28 + i % 3)]
        rows.append({"query_id": str(500 + k), "query": f"{query} {instruction}".strip(),
                     "positive_passages": pos, "negative_passages": negs, "only_instruction": instruction,
                     "only_query": query, "has_instruction": instructed})
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "README.md").write_text(README)
    per = -(-n_rows // shards)
    for k in range(shards):
        part = rows[k * per: (k + 1) * per]
        pq.write_table(pa.Table.from_pylist(part), root / "data" / f"train-{k:05d}-of-{shards:05d}.parquet")
    return rows
