"""How the packaged all-MiniLM-L6-v2 ranks DL19's BM25 top 100 before any training, by head (nDCG@10):
the bi-encoder's cosine (the teacher), the segment-cosine head on a joint encoding (model.head=segment_cosine) and
a fresh [CLS] classifier (model.head=classifier, seed 42).

    python experiments/local_cpu_cv_dl19_segcos/zero_shot_heads.py [DL19_DIR]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

from crossrank.data.sources import load_source
from crossrank.evaluation.metrics import evaluate_run
from crossrank.models.hub import packaged_minilm
from crossrank.models.scorer import CrossEncoderScorer
from crossrank.models.teachers import load_teacher

HERE = Path(__file__).resolve().parent


def main() -> int:
    data = Path(sys.argv[1] if len(sys.argv) > 1 else HERE.parents[1] / ".." / "shared" / "irdata"
                / "trec-dl-2019-passage").resolve()
    source = load_source(kind="local", path=str(data))
    qrels, queries = source.qrels(), source.queries()
    pairs = [(q, p) for q, p, _ in source.iter_run() if qrels.get(q)]
    texts = source.passages({p for _, p in pairs})
    qs, ps = [queries[q] for q, _ in pairs], [texts[p] for _, p in pairs]
    torch.manual_seed(42)
    scorers = {head: CrossEncoderScorer.from_pretrained(str(packaged_minilm()), max_length=128, head=head).score
               for head in ("segment_cosine", "classifier")}
    for name, score in (("bi-encoder cosine", load_teacher("bi-encoder")[0]), *scorers.items()):
        start = time.perf_counter()
        values = [float(v) for v in score(qs, ps)]
        run: dict[str, dict[str, float]] = {}
        for (qid, pid), value in zip(pairs, values):
            run.setdefault(qid, {})[pid] = value
        ndcg = evaluate_run(qrels, run, ["ndcg@10"], name)[0]["ndcg@10"]
        print(f"{name}: nDCG@10 {ndcg:.4f} over {len(run)} queries, {len(pairs)} pairs, "
              f"{time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
