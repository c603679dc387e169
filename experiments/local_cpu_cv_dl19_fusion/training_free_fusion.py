"""The training-free baseline of this record under the same folds: BM25 fused with the bi-encoder teacher alone,
the teacher's weight tuned (0 to 1 by 0.05) on the other folds' queries, which need no training and so all tune.

    python experiments/local_cpu_cv_dl19_fusion/training_free_fusion.py [DL19_DIR] [RECORD_DIR]

Reads a CV record's run.teacher.trec files (default: this record's; the teacher's scores of every held-out
query's BM25 top 100) and DL19's run.tsv and qrels (default ../shared/irdata/trec-dl-2019-passage).
"""

from __future__ import annotations

import sys
from pathlib import Path

from crossrank.data.sources import load_source
from crossrank.data.trec import read_run
from crossrank.evaluation.fusion import GRID, interpolate
from crossrank.evaluation.metrics import evaluate_run
from crossrank.training.cv import assign_folds

HERE = Path(__file__).resolve().parent


def main() -> int:
    data = Path(sys.argv[1] if len(sys.argv) > 1 else HERE.parents[1] / ".." / "shared" / "irdata"
                / "trec-dl-2019-passage").resolve()
    record = Path(sys.argv[2]).resolve() if len(sys.argv) > 2 else HERE
    source = load_source(kind="local", path=str(data))
    qrels = source.qrels()
    teacher: dict[str, dict[str, float]] = {}
    for k in range(5):
        for qid, pid, score in read_run(record / f"fold{k}" / "eval" / f"fold{k}" / "run.teacher.trec"):
            teacher.setdefault(qid, {})[pid] = score
    first: dict[str, dict[str, float]] = {}
    for qid, pid, score in source.iter_run():
        if pid in teacher.get(qid, {}):
            first.setdefault(qid, {})[pid] = score
    folds = assign_folds([q for q, judged in qrels.items() if judged], 5, 42)  # the record's folds (seed 42)
    pooled: dict[str, float] = {}
    for k, held_out in enumerate(folds):
        tune = [q for fold in folds if fold is not held_out for q in fold]

        def ndcg(qids: list[str], w: float) -> dict[str, float]:
            run = interpolate({q: teacher[q] for q in qids}, {q: first[q] for q in qids}, w)
            return evaluate_run({q: qrels[q] for q in qids}, run, ["ndcg@10"], "fusion")[1]["ndcg@10"]

        table = {w: sum(ndcg(tune, w).values()) / len(tune) for w in GRID}
        w = max(table, key=lambda a: (table[a], a))
        values = ndcg(held_out, w)
        pooled.update(values)
        print(f"fold {k}: teacher weight {w} (tuned on {len(tune)} queries), held-out nDCG@10 "
              f"{sum(values.values()) / len(values):.4f}")
    print(f"pooled nDCG@10 over {len(pooled)} held-out queries: {sum(pooled.values()) / len(pooled):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
