"""Published teacher scores through ir_datasets: a stand-in of Hofstätter et al.'s triples file (same columns) over
a stand-in base dataset is registered as ``<base>/kd-docpairs``; its judgments are the triples' positives, its run
the teacher's scores, and the distillation recipe trains on it with both losses; offline, one error line says
where to put the file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import compose_cfg
from kd_standin import write_triples
from nanobeir import write_nanobeir_set

from crossrank.data.irds import IRDatasetsSource
from crossrank.data.kd import HOFSTATTER_ENSEMBLE, folder
from crossrank.errors import DataError

ROOT = Path(__file__).resolve().parents[2]
BASE = "nano-beir/msmarco"


def test_triples_become_judgments_and_a_teacher_run() -> None:
    scores = write_triples(BASE)
    source = IRDatasetsSource(f"{BASE}/kd-docpairs")
    assert source.qrels() == {f"msmarco-q{i}": {f"msmarco-d{i}-hit": 1} for i in range(10)}
    run = {(q, p): s for q, p, s in source.iter_run()}
    assert run == pytest.approx(scores)
    assert source.queries()["msmarco-q0"] == "how do solar panels work"  # the base's queries and passages
    assert "solar panels" in source.passages(["msmarco-d0-hit"])["msmarco-d0-hit"]
    lines = (folder(BASE) / "teacher.run").read_text().splitlines()
    assert lines[0].split() == ["msmarco-q0", "Q0", "msmarco-d0-hit", "1", "8.5", "teacher"]
    # the triples replaced by a new file: the judgments and the run are made again from it
    path = folder(BASE) / HOFSTATTER_ENSEMBLE.file
    path.write_text(path.read_text().replace("msmarco-d1-hit", "msmarco-d1-far"))
    again = IRDatasetsSource(f"{BASE}/kd-docpairs")
    assert again.qrels()["msmarco-q1"] == {"msmarco-d1-far": 1}


def test_converted_teacher_files_are_made_again_when_the_conversion_changes(monkeypatch) -> None:
    """A run written by an older crossrank is not read as the current conversion's."""
    from crossrank.data import kd

    write_triples(BASE)
    IRDatasetsSource(f"{BASE}/kd-docpairs").qrels()
    run = folder(BASE) / "teacher.run"
    run.write_text("a run an older conversion wrote\n")
    IRDatasetsSource(f"{BASE}/kd-docpairs").qrels()
    assert run.read_text() == "a run an older conversion wrote\n"  # same conversion, same triples: kept
    key = IRDatasetsSource(f"{BASE}/kd-docpairs").cache_key()
    monkeypatch.setattr(kd, "CONVERSION", kd.CONVERSION + " (changed)")
    assert IRDatasetsSource(f"{BASE}/kd-docpairs").cache_key() != key  # pairs built from the old run: not reused
    IRDatasetsSource(f"{BASE}/kd-docpairs").qrels()
    assert run.read_text().splitlines()[0].split()[:3] == ["msmarco-q0", "Q0", "msmarco-d0-hit"]


def test_a_malformed_triple_names_its_line(tmp_path: Path) -> None:
    from crossrank.data.kd_triples import teacher_tables

    path = tmp_path / "t.tsv"
    path.write_text("1.0\t0.5\tq\tp\tn\n1.0\tnan\tq\tp\tn2\n")
    with pytest.raises(DataError, match=r"t.tsv:2: score 'nan' is not a finite number"):
        teacher_tables(path)
    path.write_text("1.0\t0.5\tq\tp\tn\n1.0\t0.5\tq\tp\n")
    with pytest.raises(DataError, match=r"t.tsv:2: expected 5 tab-separated columns"):
        teacher_tables(path)
    good = "".join(f"{i % 7}.5\t-{i % 5}.25\t{i // 80}\t{i // 80 + 1000}\t{i + 5000}\n" for i in range(300_000))
    path.write_text(good + "1.0\t0.5\t7\t8\n" + good)  # MS MARCO's integer ids, the bad line deep in the file
    with pytest.raises(DataError, match=r"t.tsv:300001: expected 5 tab-separated columns .*, found 4$"):
        teacher_tables(path)
    path.write_text(good + "1.0\tinf\t7\t8\t9\n")
    with pytest.raises(DataError, match=r"t.tsv:300001: score 'inf' is not a finite number"):
        teacher_tables(path)
    path.write_text("")
    with pytest.raises(DataError, match=r"t.tsv: the file is empty"):
        teacher_tables(path)


def test_teacher_scores_are_averaged_alike_for_integer_and_text_ids(tmp_path: Path) -> None:
    """MS MARCO's integer ids take the numpy path, other ids Arrow's grouping: the same pairs, the same means (a
    pair on several lines, or a positive on some lines and a negative on others, gets one mean over all of them)."""
    import random

    from crossrank.data.kd_triples import teacher_tables

    rng = random.Random(0)
    rows = [(round(rng.uniform(-9, 9), 4), round(rng.uniform(-9, 9), 4), rng.randrange(40), rng.randrange(90),
             rng.randrange(90)) for _ in range(5000)]
    expected: dict[tuple[str, str], list[float]] = {}
    for a, b, q, p, n in rows:
        expected.setdefault((str(q), str(p)), []).append(a)
        expected.setdefault((str(q), str(n)), []).append(b)
    for prefix in ("", "d"):
        path = tmp_path / f"t{prefix}.tsv"
        path.write_text("".join(f"{a}\t{b}\t{prefix}{q}\t{prefix}{p}\t{prefix}{n}\n" for a, b, q, p, n in rows))
        run, qrels = teacher_tables(path)
        got = {(str(r["qid"]).removeprefix(prefix), str(r["pid"]).removeprefix(prefix)): r["score"]
               for r in run.to_pylist()}
        assert got == pytest.approx({k: sum(v) / len(v) for k, v in expected.items()})
        assert {(str(r["qid"]).removeprefix(prefix), str(r["pid"]).removeprefix(prefix)) for r in qrels.to_pylist()} \
            == {(str(q), str(p)) for _, _, q, p, _ in rows}


@pytest.mark.parametrize("loss", ["margin_mse", "mse"])
def test_distill_baseline_trains_on_the_teacher_scores(loss: str, tmp_path: Path) -> None:
    import pandas as pd

    from crossrank.training.run import train

    scores = write_triples(BASE)
    cfg = compose_cfg("train", ["+experiment=distill_baseline", "model=tiny", f"data.dataset_id={BASE}/kd-docpairs",
                                f"loss={loss}", "data.batch_size=8", "data.pairs.val_queries=2", "trainer=cpu",
                                "trainer.precision=32-true", "trainer.max_epochs=2", "trainer.val_check_interval=null",
                                "trainer.log_every_n_steps=1", "eval=none", "extra_eval=[]", "logger=csv",
                                "progress=false", "scheduler.warmup_steps=0"], tmp_path)
    train(cfg)
    losses = pd.read_csv(tmp_path / "csv" / "metrics.csv")["train/loss_step"].dropna()
    assert len(losses) > 0 and (losses >= 0).all()
    from crossrank.data.datamodule import PairDataModule

    data = PairDataModule(pairs=dict(cfg.data.pairs), kind="ir_datasets", dataset_id=f"{BASE}/kd-docpairs",
                          teacher_run="source", group_size=cfg.data.group_size, batch_size=8, val_depth=10)
    data.setup()
    train_set = data.train_dataset
    assert train_set is not None and len(set(train_set["qid"])) == 8  # 10 queries, 2 held out for validation
    assert train_set["teacher"] == pytest.approx([scores[(q, p)] for q, p in zip(train_set["qid"], train_set["pid"])])
    assert sorted(set(train_set["label"])) == [0.0, 1.0]
    # every negative the teacher scored, not the validation depth's 10 (q0 is a training query with seed 42)
    assert train_set["qid"].count("msmarco-q0") == 1 + 30


def test_offline_teacher_scores_fail_in_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_nanobeir_set("nq", home=home)
    env = {**os.environ, "IR_DATASETS_HOME": str(home), "HTTPS_PROXY": "http://127.0.0.1:9",
           "HTTP_PROXY": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"}
    proc = subprocess.run([sys.executable, "train.py", "+experiment=distill_baseline", "model=tiny",
                           "data.dataset_id=nano-beir/nq/kd-docpairs", "trainer=cpu", "eval=none", "extra_eval=[]",
                           f"hydra.run.dir={tmp_path / 'out'}"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "nano-beir/nq/kd-docpairs" in errors[0], proc.stderr[-2000:]
    url = f"https://zenodo.org/record/4068216/files/{HOFSTATTER_ENSEMBLE.file}"
    assert f"put {HOFSTATTER_ENSEMBLE.file} (from {url}) in {home}/nano-beir/nq/kd-docpairs/" in errors[0]
