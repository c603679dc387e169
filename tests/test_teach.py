"""Teacher scores (crossrank teach) and training with grouped and distillation losses, end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import compose_cfg

from crossrank.cli.main import main as crossrank
from crossrank.errors import ConfigError, DataError
from crossrank.training.run import train


def overrides(data: Path, *extra: str) -> list[str]:
    return ["model=tiny", "data=local", f"data.path={data}", "eval=none", "export=false",
            "data.pairs.min_relevance=2", "data.pairs.negatives_per_query=3", "data.batch_size=8",
            "trainer.max_epochs=2", "trainer.log_every_n_steps=1", "progress=false", "logger=csv", *extra]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    from conftest import write_irdata

    return write_irdata(tmp_path_factory.mktemp("teach") / "data", with_run=True)


def test_teach_with_the_bi_encoder_and_distil(data: Path, tmp_path: Path, capsys) -> None:
    import pandas as pd

    run = tmp_path / "teacher.run"
    assert crossrank(["teach", "--data", str(data), "--teacher", "bi-encoder", "--out", str(run)]) == 0
    assert "teacher scores" in capsys.readouterr().out
    rows = [line.split() for line in run.read_text().splitlines()]
    pairs = {(r[0], r[2]): float(r[4]) for r in rows}
    assert ("q0", "p0_0") in pairs and ("q0", "p1_0") in pairs  # a judged passage and a run candidate
    assert all(-1.0 <= s <= 1.0 for s in pairs.values())  # cosines
    # the bi-encoder prefers the on-topic passage of each query
    assert pairs[("q0", "p0_0")] > pairs[("q0", "p0_1")]
    for loss in ("margin_mse", "kl_div"):
        out = tmp_path / loss
        train(compose_cfg("train", overrides(data, f"loss={loss}", "data.group_size=4",
                                             f"data.teacher_run={run}"), out))
        losses = pd.read_csv(out / "csv" / "metrics.csv")["train/loss_step"].dropna()
        assert len(losses) == 6 and (losses >= 0).all()  # 6 groups of 4, 2 a batch, 2 epochs


@pytest.mark.parametrize("loss", ["ranknet", "listnet", "lambdaloss", "lce", "listmle", "plistmle"])
def test_grouped_losses_train(loss: str, data: Path, tmp_path: Path) -> None:
    import pandas as pd

    train(compose_cfg("train", overrides(data, f"loss={loss}", "data.group_size=4"), tmp_path))
    frame = pd.read_csv(tmp_path / "csv" / "metrics.csv")
    losses = frame["train/loss_step"].dropna()
    assert len(losses) == 2 * 6 // 2  # 6 groups of 4, 2 a batch, 2 epochs
    assert losses.notna().all() and (losses >= 0).all()


def test_grouped_loss_errors_name_the_key(data: Path, tmp_path: Path) -> None:
    """train.py's preflight (before any model loads) names the key; the module says the same if reached."""
    from crossrank.cli.preflight import check_train

    def check(*extra: str) -> None:
        check_train(compose_cfg("train", overrides(data, *extra), tmp_path / "x"))

    with pytest.raises(ConfigError, match=r"^loss: RankNetLoss compares pairs within query groups; set data.group_"):
        check("loss=ranknet")
    with pytest.raises(ConfigError, match=r"^loss: MarginMSELoss distils teacher scores; set data.teacher_run"):
        check("loss=margin_mse", "data.group_size=4")
    with pytest.raises(ConfigError, match=r"^data.group_size: 3 must be at least 2 and divide data.batch_size \(8\)"):
        check("loss=ranknet", "data.group_size=3")
    with pytest.raises(ConfigError, match=r"^data.teacher_run: .*nope.run does not exist"):
        check("loss=kl_div", "data.group_size=4", f"data.teacher_run={tmp_path / 'nope.run'}")
    with pytest.raises(ConfigError, match=r"^loss: LCELoss compares pairs within query groups; set data.group_size"):
        check("loss=lce")
    with pytest.raises(ConfigError, match=r"^data.length_grouped: does not apply to query groups"):
        check("loss=lce", "data.group_size=4", "data.length_grouped=true")
    with pytest.raises(ConfigError, match=r"^loss: ListNetLoss compares pairs within query groups"):
        train(compose_cfg("train", overrides(data, "loss=listnet"), tmp_path / "a"))


def test_teacher_run_must_cover_the_training_pairs(data: Path, tmp_path: Path) -> None:
    partial = tmp_path / "partial.run"
    partial.write_text("q0 Q0 p0_0 1 0.9 t\n")
    with pytest.raises(DataError, match=r"partial.run: no teacher score for training pair qid 'q"):
        train(compose_cfg("train", overrides(data, "loss=margin_mse", "data.group_size=4",
                                             f"data.teacher_run={partial}"), tmp_path / "out"))
    # run:FILE keeps only the pairs the given run scores
    out = tmp_path / "copied.run"
    assert crossrank(["teach", "--data", str(data), "--teacher", f"run:{partial}", "--out", str(out)]) == 0
    assert out.read_text().split() == ["q0", "Q0", "p0_0", "1", "0.900000", "teach-partial"]


def test_teacher_on_an_ir_datasets_set_scores_the_reranked_pairs(tiny_model_dir: Path, data: Path,
                                                                 tmp_path: Path) -> None:
    """eval.teacher works on any source (here a locally registered ir_datasets set, as trec_dl_2019 is read),
    fetching only the passages it scores, and gives the same teacher run as the same folder read locally."""
    import ir_datasets.indices
    from data.test_sources import register_local_ir_dataset

    from crossrank.evaluation.spec import EvalSet
    from crossrank.evaluation.stage import evaluate_set
    from crossrank.models.scorer import CrossEncoderScorer

    scorer = CrossEncoderScorer.from_pretrained(str(tiny_model_dir), num_labels=None)
    dataset_id = register_local_ir_dataset("crossrank-test/teacher-eval", data)
    asked: list[int] = []
    real_get_many = ir_datasets.indices.PickleLz4FullStore.get_many

    def counting(self, doc_ids, *args, **kwargs):
        asked.append(len(set(doc_ids)))
        return real_get_many(self, doc_ids, *args, **kwargs)

    ir_datasets.indices.PickleLz4FullStore.get_many = counting
    common = {"depth": 3, "relevance_level": 2, "teacher": "bi-encoder", "teacher_weight": 0.5, "interpolate": 0.2}
    try:
        ird = evaluate_set(scorer, EvalSet(name="ird", kind="ir_datasets", dataset_id=dataset_id, **common),
                           tmp_path, progress=False)
    finally:
        ir_datasets.indices.PickleLz4FullStore.get_many = real_get_many
    assert asked and max(asked) <= 18  # the docs store is asked for the candidates' passages, never all 24
    local = evaluate_set(scorer, EvalSet(name="loc", path=str(data), **common), tmp_path, progress=False)
    assert ird["others"]["teacher"] == pytest.approx(local["others"]["teacher"])
    teacher_lines = (tmp_path / "eval" / "ird" / "run.teacher.trec").read_text().splitlines()
    assert len(teacher_lines) == ird["n_pairs"] == 18


def test_bi_encoder_encodes_each_distinct_text_once(monkeypatch) -> None:
    from sentence_transformers import SentenceTransformer

    from crossrank.models.teachers import BiEncoder

    encoded: list[int] = []
    real = SentenceTransformer.encode

    def counting(self, sentences, *args, **kwargs):
        encoded.append(len(sentences))
        return real(self, sentences, *args, **kwargs)

    monkeypatch.setattr(SentenceTransformer, "encode", counting)
    score = BiEncoder()
    queries = ["solar power", "solar power", "coffee", "coffee"] * 5
    passages = ["panels turn light into power", "beans are roasted"] * 10
    scores = score(queries, passages)
    assert encoded == [2, 2]  # 2 distinct queries, 2 distinct passages: not 20 of each
    assert scores[0] > scores[1] and scores[3] > scores[2]  # each query prefers its own passage


def test_many_pairs_are_scored_with_each_passage_fetched_once() -> None:
    """crossrank mine and teach at scale: passages a batch at a time, each fetched and encoded once, one score a
    pair (equal to scoring the pairs' texts directly); a passage without a text scores NaN."""
    import numpy as np

    from crossrank.models.teachers import BiEncoder, score_many

    teacher = BiEncoder()
    texts = {f"p{i}": f"passage {i} about {'solar panels' if i % 2 else 'coffee beans'}" for i in range(10)}
    queries = ["solar power", "coffee"]
    rng = np.random.default_rng(0)
    pair_query, pair_passage = rng.integers(0, 2, 60), rng.integers(0, 11, 60)  # p10 has no text
    ids = [f"p{i}" for i in range(11)]
    asked: list[list[str]] = []

    def fetch(batch):
        asked.append(list(batch))
        return {p: texts[p] for p in batch if p in texts}

    got = score_many(teacher, queries, pair_query, ids, pair_passage, fetch, batch=4)
    assert sorted(p for batch in asked for p in batch) == sorted(ids) and all(len(b) <= 4 for b in asked)
    known = pair_passage < 10
    direct = teacher([queries[q] for q in pair_query[known]], [texts[f"p{p}"] for p in pair_passage[known]])
    assert np.allclose(got[known], direct, atol=1e-6) and np.isnan(got[~known]).all()
