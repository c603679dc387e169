"""DDP training (2 CPU processes, gloo): every rank gets a disjoint share of every epoch's pairs, none is
skipped; validation is computed over all ranks' candidates; only rank 0 evaluates, exports and records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_two_ranks_share_each_epoch_exactly(tmp_path: Path) -> None:
    pairs_dir = tmp_path / "pairs"
    pairs_dir.mkdir()
    out = tmp_path / "out"
    args = ["+experiment=quickstart", "model=tiny", "logger=csv", "progress=false", "trainer.max_epochs=2"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "train.py", *args, "trainer.devices=2", "trainer.strategy=ddp",
                           "+callbacks.rec._target_=hooks.RecordPairs", f"+callbacks.rec.dir={pairs_dir}",
                           f"hydra.run.dir={out}"], cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]

    seen = {}
    for rank in (0, 1):
        rows = [line.split() for line in (pairs_dir / f"pairs-rank{rank}.txt").read_text().splitlines()]
        seen[rank] = Counter((epoch, q, p) for epoch, q, p in rows)
    assert sum(seen[0].values()) == sum(seen[1].values())  # the same number of steps on both ranks
    assert not set(seen[0]) & set(seen[1])  # disjoint
    assert max((seen[0] + seen[1]).values()) == 1  # no pair twice, in any epoch
    both = seen[0] + seen[1]
    per_epoch = Counter(epoch for epoch, _, _ in both)
    assert per_epoch == {"0": 1440, "1": 1440}  # all 1,440 training pairs in each epoch

    # validation gathered every rank's candidates: the first stage scores exactly as in one process
    metrics = pd.read_csv(out / "csv" / "metrics.csv")
    assert metrics["val/first_stage/ndcg@10"].dropna().round(6).unique().tolist() == [0.026785]
    # rank 0 alone evaluated, exported and recorded
    assert len(list(out.glob("eval/*/metrics.json"))) == 1 and (out / "model" / "config.json").is_file()
    assert json.loads((out / "run.json").read_text())["status"] == "finished"
    assert proc.stdout.count("exported the model") == 1 and proc.stdout.count("synthetic-test (72 queries") == 1
