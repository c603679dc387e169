"""Every experiment composes; bce_baseline carries the published recipe under self-explaining keys."""

from __future__ import annotations

import pytest
from helpers import CONF, compose_cfg
from omegaconf import OmegaConf

EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_composes(name: str, tmp_path) -> None:
    overrides = [f"+experiment={name}"]
    if name == "local_cpu":
        overrides += ["data.path=/x", "eval.path=/y"]
    cfg = compose_cfg("train", overrides, tmp_path)
    assert cfg.model._target_.endswith("CrossEncoderScorer.from_pretrained")
    assert cfg.trainer._target_ == "lightning.Trainer"
    OmegaConf.to_yaml(cfg)  # everything interpolates without the hydra resolver missing


def test_bce_baseline_recipe(tmp_path) -> None:
    cfg = compose_cfg("train", ["+experiment=bce_baseline"], tmp_path)
    assert cfg.model.name_or_path == "cross-encoder/ms-marco-MiniLM-L6-v2"
    assert cfg.model.num_labels == 1 and cfg.model.max_length == 512
    assert cfg.data.kind == "hf" and cfg.data.hf.path == "samaya-ai/msmarco-w-instructions"  # the card's own rows
    assert cfg.data.hf.rows == 20_000 and dict(cfg.data.hf.filter) == {"has_instruction": False}
    assert cfg.data.pairs.positives_per_query == 1 and cfg.data.pairs.negatives_per_query is None
    assert cfg.trainer.precision == "32-true"  # the card: fp16 False, bf16 False
    irds = compose_cfg("train", ["+experiment=bce_baseline", "data=msmarco"], tmp_path).data
    assert irds.kind == "ir_datasets" and irds.dataset_id.startswith("msmarco-passage/train")
    p = irds.pairs
    assert p.num_queries * (p.positives_per_query + p.negatives_per_query) == 310_558
    guide = (CONF.parent / "docs" / "training.md").read_text()  # the numbers the guide quotes are the config's
    pairs = p.num_queries * (p.positives_per_query + p.negatives_per_query)
    assert f"{pairs:,} = {p.positives_per_query + p.negatives_per_query} x {p.num_queries:,}" in guide
    assert f"{p.num_queries:,} queries of `msmarco-passage/train/judged`" in guide
    assert 0.03 <= p.positives_per_query / (p.positives_per_query + p.negatives_per_query) < 0.035
    assert cfg.optimizer._target_ == "torch.optim.AdamW"
    assert (cfg.optimizer.lr, list(cfg.optimizer.betas), cfg.optimizer.eps, cfg.optimizer.weight_decay) == (
        5e-5, [0.9, 0.999], 1e-8, 0.0)
    assert cfg.data.batch_size == 16 and cfg.trainer.max_epochs == 3
    assert cfg.scheduler._target_ == "crossrank.training.optim.schedule" and cfg.scheduler.name == "linear"
    assert cfg.scheduler.warmup_steps == 0 and cfg.scheduler.warmup_ratio == 0.0
    assert cfg.trainer.gradient_clip_val == 1.0 and cfg.seed == 42 and cfg.data.pairs.seed == 42
    assert cfg.loss._target_ == "crossrank.training.losses.BCELoss" and cfg.loss.pos_weight is None
    assert cfg.eval.dataset_id == "msmarco-passage/dev/small" and cfg.eval.depth is None
    assert set(cfg.extra_eval) == {"trec_dl_2019", "trec_dl_2020"}
    assert cfg.extra_eval.trec_dl_2019.relevance_level == 2


def test_cfg_job_prints_recipe() -> None:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "train.py", "+experiment=bce_baseline", "--cfg", "job"],
                         cwd=CONF.parent, capture_output=True, text=True, check=True).stdout
    for key in ("lr: 5.0e-05", "path: samaya-ai/msmarco-w-instructions", "rows: 20000", "gradient_clip_val: 1.0",
                "pos_weight: null", "max_length: 512", "precision: 32-true"):
        assert key in out


def test_sweep_and_debug_configs_compose(tmp_path) -> None:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", ["+experiment=quickstart", "hparams_search=lr_grid", "debug=fast"],
                      return_hydra_config=True)
    assert cfg.hydra.sweeper.params["optimizer.lr"] == "2e-5,5e-5,1e-4"
    assert cfg.trainer.max_steps == 5


@pytest.mark.parametrize("name", [n for n in EXPERIMENTS if n != "local_cpu_cv"])  # CV evaluates by definition
def test_experiment_with_eval_none_has_no_primary_evaluation(name: str, tmp_path) -> None:
    """Bug found here: local_cpu set eval.interpolate / eval.teacher itself, so with eval=none its eval group
    kept those two keys and train.py stopped ("not an evaluation set"). The fusion lives in eval/local_fused."""
    from crossrank.evaluation.spec import eval_sets

    cfg = compose_cfg("train", [f"+experiment={name}", "data.path=/x", "eval=none"], tmp_path)
    assert len(eval_sets(cfg)) == len(cfg.get("extra_eval") or {})  # only the experiment's extra sets


def test_shared_defaults_have_one_home(tmp_path) -> None:
    """BM25's k1 and b come from BM25Settings (through ${bm25:...}); every model config builds on model_base."""
    from crossrank.data.bm25 import BM25Settings

    train = compose_cfg("train", ["data=local", "data.path=X", "eval=local", "eval.path=X"], tmp_path)
    evaluate = compose_cfg("evaluate", ["model.name_or_path=x", "eval.path=X"], tmp_path)
    for section in (train.data, train.eval, evaluate.eval):
        assert (section.bm25_k1, section.bm25_b) == (BM25Settings.k1, BM25Settings.b)
    for path in sorted((CONF / "model").glob("*.yaml")):
        text = path.read_text()
        assert "/model_base/encoder@_here_" in text and "attn_implementation" not in text, path.name
