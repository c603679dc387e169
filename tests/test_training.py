"""End to end on CPU through the real Lightning Trainer: tiny model, local data, CSV + offline W&B,
validation, checkpoint resume, evaluation files, export and model card."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from helpers import compose_cfg

from crossrank.training.run import train


def tiny_overrides(train_dir: Path, eval_dir: Path | None, *extra: str) -> list[str]:
    evaluation = ["eval=none"]
    if eval_dir:
        evaluation = ["eval=local", f"eval.path={eval_dir}", "eval.relevance_level=2"]
    return ["model=tiny", "data=local", f"data.path={train_dir}", *evaluation, "data.pairs.min_relevance=2",
            "data.pairs.negatives_per_query=3", "data.batch_size=4", "trainer.max_epochs=2",
            "trainer.log_every_n_steps=1", "progress=false", *extra]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, dict]:
    from conftest import write_irdata

    root = tmp_path_factory.mktemp("train")
    data = write_irdata(root / "data", with_run=True)
    out = root / "out"
    cfg = compose_cfg("train", tiny_overrides(data, data, "data.pairs.val_queries=2",
                                              "callbacks.model_checkpoint.monitor=val/ndcg@10"), out)
    return out, train(cfg)


def test_outputs_of_a_run(trained: tuple[Path, dict]) -> None:
    out, results = trained
    assert (out / "checkpoints" / "last.ckpt").is_file()
    assert len(list((out / "checkpoints").glob("best-*.ckpt"))) == 1  # a metric is monitored
    metrics = pd.read_csv(out / "csv" / "metrics.csv")
    assert metrics["train/loss_step"].notna().sum() >= 4
    assert metrics["val/ndcg@10"].notna().sum() == 2  # validated after each of the 2 epochs
    # the fixture's run ranks the judged-relevant passage 2nd: first-stage validation MRR@10 is 1/2
    assert metrics["val/first_stage/mrr@10"].dropna().tolist() == [0.5, 0.5]
    # the history: learning rate, gradient norm and throughput beside the loss
    for column in ("train/lr", "train/grad_norm", "train/samples_per_sec", "train/tokens_per_sec"):
        assert metrics[column].notna().sum() >= 4, column
    assert metrics["train/lr"].dropna().iloc[0] == pytest.approx(5e-5)
    assert (out / "curves.png").stat().st_size > 10_000
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "finished" and info["wall_seconds"] > 0 and info["machine"]["cpus"]
    assert info["wandb"]["mode"] == "offline" and info["wandb"]["dir"].startswith(str(out / "wandb"))
    assert list((out / "wandb").glob("offline-run-*"))
    result = json.loads((out / "eval" / "data" / "metrics.json").read_text())
    assert result == json.loads(json.dumps(results["data"]))
    assert set(result["reranked"]) == {"mrr@10-l2", "ndcg@10", "recall@100-l2", "map-l2"}
    assert result["n_queries"] == 6 and result["n_pairs"] == 30
    for name in ("run.trec", "per_query.tsv", "report.md"):
        assert (out / "eval" / "data" / name).stat().st_size > 0


def test_export_and_card(trained: tuple[Path, dict]) -> None:
    out, _ = trained
    model = out / "model"
    assert {"model.safetensors", "config.json", "tokenizer.json", "README.md"} <= {p.name for p in model.iterdir()}
    card = (model / "README.md").read_text()
    for text in ("Size: 16 training samples", "BinaryCrossEntropyLoss", '"pos_weight": null',
                 "`learning_rate`: 5e-05", "| Epoch | Step | Training Loss |", "Framework Versions",
                 "## Evaluation", "transformers:"):
        assert text in card, text
    non_default = card.split("#### Non-Default Hyperparameters")[1].split("#### All Hyperparameters")[0]
    assert "`per_device_train_batch_size`: 4" in non_default and "`optim`" not in non_default
    assert json.loads((model / "config.json").read_text())["sentence_transformers"]["activation_fn"].endswith(
        "Identity")
    from huggingface_hub import ModelCard

    results = ModelCard.load(model / "README.md").data.eval_results  # the Hub's evaluation table
    assert {(r.dataset_name, r.metric_type) for r in results} >= {("data", "ndcg_at_10"), ("data", "mrr_at_10")}


def test_reports_name_the_exported_model_and_its_digest(trained: tuple[Path, dict]) -> None:
    """metrics.json and report.md name the folder that loads the scored model again (OUT/model, not the run
    folder), with the digest of the weights that folder holds."""
    from crossrank import Reranker
    from crossrank.models.digest import weights_digest

    out, results = trained
    result = results["data"]
    assert result["model"] == str(out / "model")
    assert result["model_digest"] == weights_digest(Reranker(str(out / "model"), device="cpu").scorer.model)
    assert f"Model `{out / 'model'}`, weights digest `{result['model_digest']}`" in (
        out / "eval" / "data" / "report.md").read_text()


def test_resume_from_last_checkpoint(trained: tuple[Path, dict], tmp_path: Path) -> None:
    from conftest import write_irdata

    out, _ = trained
    data = write_irdata(tmp_path / "data")
    cfg = compose_cfg("train", tiny_overrides(data, None, "trainer.max_epochs=3", "export=false",
                                              "data.pairs.val_queries=2",
                                              f"ckpt_path={out / 'checkpoints' / 'last.ckpt'}"), tmp_path / "o")
    train(cfg)
    metrics = pd.read_csv(tmp_path / "o" / "csv" / "metrics.csv")
    # 16 pairs / batch 4 = 4 steps per epoch: the resumed run trains only epoch 3 (steps 8-11)
    steps = metrics.dropna(subset=["train/loss_step"])["step"]
    assert steps.min() >= 8 and steps.max() == 11
    assert metrics["epoch"].dropna().min() == 2


def test_training_positives_follow_the_declared_level(tmp_path: Path) -> None:
    """A folder's dataset.yaml sets data.pairs.min_relevance when the config leaves it null."""
    import hydra
    from conftest import write_irdata

    data = write_irdata(tmp_path / "data")
    with (data / "qrels.tsv").open("a") as f:  # a grade-1 passage per query: a positive only at level 1
        f.writelines(f"q{i}\t0\tp{i}_2\t1\n" for i in range(6))

    def positives(name: str) -> tuple[int, int]:
        cfg = compose_cfg("train", ["model=tiny", "data=local", f"data.path={data}", "eval=none",
                                    "data.pairs.positives_per_query=null", f"data.cache_dir={tmp_path / name}"],
                          tmp_path / "o")
        assert cfg.data.pairs.min_relevance is None
        dm = hydra.utils.instantiate(cfg.data)
        dm.build()
        return dm.spec.min_relevance, dm.describe()["positives"]

    assert positives("a") == (1, 12)
    (data / "dataset.yaml").write_text("relevance_level: 2\n")
    assert positives("b") == (2, 6)


def test_checkpoints_without_monitor_and_pruning(tmp_path: Path) -> None:
    """no best-*.ckpt unless a metric is monitored; keep_checkpoints=false removes the training
    state after a successful run, keeping the exported model."""
    from conftest import write_irdata

    data = write_irdata(tmp_path / "data")
    train(compose_cfg("train", tiny_overrides(data, None, "trainer.max_epochs=1", "export=false"), tmp_path / "a"))
    assert [p.name for p in (tmp_path / "a" / "checkpoints").iterdir()] == ["last.ckpt"]
    train(compose_cfg("train", tiny_overrides(data, None, "trainer.max_epochs=1", "keep_checkpoints=false"),
                      tmp_path / "b"))
    assert not (tmp_path / "b" / "checkpoints").exists() and (tmp_path / "b" / "model" / "config.json").is_file()
