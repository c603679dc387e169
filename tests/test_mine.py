"""Hard-negative mining (crossrank mine): which candidates are kept, by rank, by an absolute or a relative margin
below the weakest positive (right for negative scores too), and a run the pair builder reads."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from helpers import compose_cfg

from crossrank.cli.main import main as crossrank
from crossrank.errors import ConfigError
from crossrank.training.mine import MineSettings, select_negatives

JUDGED = {"pos": 1, "weak": 0}
SCORES = {"pos": 5.0, "a": 6.0, "b": 4.9, "c": 4.0, "d": 3.0, "e": 1.0, "weak": 2.0}


def pick(scores: dict[str, float] = SCORES, **settings) -> tuple[list[str], int]:
    kept, dropped = select_negatives(scores, JUDGED, MineSettings(**settings), random.Random(0))
    return [p for p, _ in kept], dropped


def test_negatives_by_rank_and_absolute_margin() -> None:
    # ranked by the teacher among non-positives: a 6.0, b 4.9, c 4.0, d 3.0, weak 2.0 (judged 0), e 1.0
    assert pick() == (["b", "c", "d", "weak", "e"], 1)  # margin 0: a, above the positive, is a likely false negative
    assert pick(margin=0.5) == (["c", "d", "weak", "e"], 2)
    assert pick(margin=None, relative_margin=None) == (["a", "b", "c", "d", "weak", "e"], 0)  # no margin: no limit
    assert pick(ranks=(2, 4)) == (["b", "c", "d"], 0)
    assert pick(num_negatives=2) == (["b", "c"], 1)
    random_pick = pick(num_negatives=3, sampling="random")[0]
    assert len(random_pick) == 3 and set(random_pick) <= {"b", "c", "d", "weak", "e"}
    assert pick(level=0) == ([], 0)  # every candidate is judged >= 0: all positives, no negatives


def test_relative_margin_holds_for_negative_scores() -> None:
    """Logits can be negative: a share of the positive's magnitude is subtracted. Multiplying by 1 - m (as
    sentence-transformers did, its issue #3819) would put the limit above a negative positive: -1.8 for -2.0."""
    scores = {"pos": -2.0, "above": -1.9, "close": -2.1, "far": -2.5}
    assert pick(scores, margin=None, relative_margin=0.1) == (["far"], 2)
    positive = {"pos": 2.0, "above": 2.1, "close": 1.9, "far": 1.5}
    assert pick(positive, margin=None, relative_margin=0.1) == (["far"], 2)


def test_bad_settings_are_one_line() -> None:
    with pytest.raises(ConfigError, match="give one of the two"):
        MineSettings(margin=0.1, relative_margin=0.1)
    with pytest.raises(ConfigError, match="--ranks: 5:2"):
        MineSettings(ranks=(5, 2))
    with pytest.raises(ConfigError, match="--sampling: 'best'"):
        MineSettings(sampling="best")
    with pytest.raises(ConfigError, match="--num-negatives: -1 must be at least 1"):
        MineSettings(num_negatives=-1)


def test_mined_run_gives_the_training_negatives(irdata_dir: Path, tmp_path: Path, capsys) -> None:
    from crossrank.data.datamodule import PairDataModule
    from crossrank.data.trec import read_run
    from crossrank.training.run import train

    out = tmp_path / "mined.run"
    assert crossrank(["mine", "--data", str(irdata_dir), "--teacher", "bi-encoder", "--out", str(out),
                      "--level", "2", "--ranks", "1:6", "--num-negatives", "3"]) == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    mined: dict[str, set[str]] = {}
    for qid, pid, score in read_run(out):
        mined.setdefault(qid, set()).add(pid)
        assert -1.0 <= score <= 1.0  # the bi-encoder's cosines
    assert summary["negatives"] == sum(len(v) for v in mined.values()) and all(len(v) <= 3 for v in mined.values())
    pairs = {"min_relevance": 2, "negatives_per_query": None, "val_queries": 1}
    data = PairDataModule(pairs=pairs, kind="local", path=str(irdata_dir), negatives="mined", mined_run=str(out))
    data.build()
    train_set = data.train_dataset
    assert train_set is not None
    negatives = [(q, p) for q, p, label in zip(train_set["qid"], train_set["pid"], train_set["label"]) if label == 0]
    assert negatives and all(p in mined[q] for q, p in negatives)
    assert {q: {p for qq, p in negatives if qq == q} for q, _ in negatives} == {q: mined[q] for q, _ in negatives}
    # validation still reranks the first stage
    first = PairDataModule(pairs=pairs, kind="local", path=str(irdata_dir))
    first.build()
    assert data.val_dataset is not None and first.val_dataset is not None
    assert data.val_dataset["pid"] == first.val_dataset["pid"]
    train(compose_cfg("train", ["model=tiny", "data=local", f"data.path={irdata_dir}", "data.negatives=mined",
                                f"data.mined_run={out}", "data.pairs.min_relevance=2", "trainer.max_steps=2",
                                "eval=none", "export=false", "logger=csv", "progress=false"], tmp_path / "run"))
    assert (tmp_path / "run" / "csv" / "metrics.csv").is_file()


def test_mined_negatives_without_a_run_is_one_line(irdata_dir: Path, tmp_path: Path) -> None:
    from crossrank.cli.preflight import check_train

    with pytest.raises(ConfigError, match=r"^data.negatives: mined needs data.mined_run"):
        check_train(compose_cfg("train", ["model=tiny", "data=local", f"data.path={irdata_dir}",
                                          "data.negatives=mined", "eval=none"], tmp_path))
    with pytest.raises(ConfigError, match=r"^data.mined_run: .*nope.run does not exist"):
        check_train(compose_cfg("train", ["model=tiny", "data=local", f"data.path={irdata_dir}",
                                          "data.negatives=mined", f"data.mined_run={tmp_path}/nope.run",
                                          "eval=none"], tmp_path))


@pytest.mark.parametrize("teacher", ["no-such-model", "run:no-such.run"])
@pytest.mark.parametrize("command", ["mine", "teach"])
def test_a_bad_teacher_fails_before_the_first_stage_is_built(command: str, teacher: str, tmp_path: Path,
                                                            monkeypatch, capsys) -> None:
    from conftest import write_irdata

    data = write_irdata(tmp_path / "data", with_run=False)  # no run: the first stage would be a new BM25 index
    monkeypatch.setenv("CROSSRANK_CACHE", str(tmp_path / "cache"))
    teacher = teacher.replace("no-such", str(tmp_path / "no-such"))
    assert crossrank([command, "--data", str(data), "--teacher", teacher, "--out", str(tmp_path / "out.run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no-such" in err[0] and str(tmp_path) in err[0], err
    assert not (tmp_path / "cache" / "bm25").exists() and not (tmp_path / "out.run").exists()
