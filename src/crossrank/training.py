"""The training run: config -> datamodule -> module -> Trainer -> evaluation -> export."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf

from crossrank.checkpoints import prune
from crossrank.data.datamodule import PairDataModule
from crossrank.evaluation.spec import eval_sets
from crossrank.evaluation.stage import evaluate_set
from crossrank.export import export_model
from crossrank.hub import origin_note
from crossrank.model_card import render
from crossrank.module import CrossEncoderModule
from crossrank.scorer import CrossEncoderScorer
from crossrank.tracking import log_evaluation

log = logging.getLogger(__name__)

#: Hugging Face TrainingArguments defaults, so the card can list what a recipe changed.
HF_DEFAULTS = {"learning_rate": 5e-5, "weight_decay": 0.0, "adam_beta1": 0.9, "adam_beta2": 0.999,
               "adam_epsilon": 1e-8, "per_device_train_batch_size": 8, "per_device_eval_batch_size": 8,
               "num_train_epochs": 3, "max_steps": -1, "max_grad_norm": 1.0, "lr_scheduler_type": "linear",
               "warmup_steps": 0, "warmup_ratio": 0.0, "seed": 42, "gradient_accumulation_steps": 1,
               "precision": "32-true", "optim": "adamw_torch"}


#: Optimizer targets in the names Hugging Face's ``optim`` argument uses.
OPTIM_NAMES = {"torch.optim.AdamW": "adamw_torch", "torch.optim.Adam": "adam", "torch.optim.SGD": "sgd"}


def hyperparameters(cfg: DictConfig) -> dict[str, Any]:
    """The recipe in the vocabulary of sentence-transformers' model cards."""
    opt, sch, tr = cfg.optimizer, cfg.scheduler, cfg.trainer
    return {
        "learning_rate": opt.lr, "weight_decay": opt.weight_decay, "adam_beta1": opt.betas[0],
        "adam_beta2": opt.betas[1], "adam_epsilon": opt.eps,
        "per_device_train_batch_size": cfg.data.batch_size, "per_device_eval_batch_size": cfg.data.eval_batch_size,
        "num_train_epochs": tr.max_epochs, "max_steps": tr.get("max_steps", -1),
        "max_grad_norm": tr.gradient_clip_val, "lr_scheduler_type": sch._target_.rsplit(".", 1)[-1].replace(
            "_schedule", ""), "warmup_steps": sch.warmup_steps, "warmup_ratio": sch.warmup_ratio,
        "seed": cfg.seed, "gradient_accumulation_steps": tr.get("accumulate_grad_batches", 1),
        "precision": str(tr.get("precision", "32-true")), "optim": OPTIM_NAMES.get(opt._target_, opt._target_),
        "max_length": cfg.model.max_length,
    }


def run_evaluation(scorer: CrossEncoderScorer, cfg: DictConfig, out: Path, loggers: list[Any],
                   model_id: str, step: int | None = None) -> dict[str, Any]:
    """Evaluate on every configured set; returns ``{set name: metrics.json content}``."""
    results: dict[str, Any] = {}
    for spec in eval_sets(cfg):
        result = evaluate_set(scorer, spec, out, model_id=model_id, progress=cfg.get("progress", True))
        if result is not None:
            results[spec.name] = result
            log_evaluation(loggers, spec.name, result, str(out / "eval" / spec.name / "per_query.tsv"), step)
    return results


def train(cfg: DictConfig) -> dict[str, Any]:
    """Fit, evaluate and export as ``cfg`` says; returns the evaluation results.

    The data is read and checked before the model is loaded, so bad input fails in seconds.
    """
    out = Path(cfg.paths.output_dir)
    L.seed_everything(cfg.seed, workers=True)
    datamodule: PairDataModule = hydra.utils.instantiate(cfg.data)
    datamodule.build()  # reads and validates the data before the model is loaded
    eval_sets(cfg)  # fail on a bad eval config before training, not after
    scorer: CrossEncoderScorer = hydra.utils.instantiate(cfg.model)
    datamodule.tokenizer = scorer.tokenizer
    module = CrossEncoderModule(scorer=scorer, loss=hydra.utils.instantiate(cfg.loss),
                                optimizer=hydra.utils.instantiate(cfg.optimizer),
                                scheduler=hydra.utils.instantiate(cfg.scheduler),
                                val_relevance_level=datamodule.spec.min_relevance)
    callbacks = [c for c in (hydra.utils.instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c) if c]
    loggers = [hydra.utils.instantiate(c) for c in (cfg.get("logger") or {}).values() if c]
    extra: dict[str, Any] = {}
    if not datamodule.has_validation():
        extra["limit_val_batches"] = 0  # nothing to validate on: no empty validation loop
    trainer: L.Trainer = hydra.utils.instantiate(cfg.trainer, callbacks=callbacks, logger=loggers, **extra)
    for lg in loggers:
        lg.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))

    ckpt = next((c for c in trainer.checkpoint_callbacks if c.monitor), None)
    if ckpt is not None and ckpt.best_model_path:
        log.info("loading the best checkpoint (%s = %s): %s", ckpt.monitor, ckpt.best_model_score,
                 ckpt.best_model_path)
        state = torch.load(ckpt.best_model_path, map_location="cpu", weights_only=False)["state_dict"]
        module.load_state_dict(state)
    scorer.to("cuda" if torch.cuda.is_available() and cfg.trainer.accelerator != "cpu" else "cpu")

    results = run_evaluation(scorer, cfg, out, loggers, model_id=str(out),
                             step=trainer.global_step) if trainer.is_global_zero else {}
    if cfg.get("export", True) and trainer.is_global_zero:
        card = render(scorer.label, datamodule.describe(), "BinaryCrossEntropyLoss"
                      if "BCELoss" in cfg.loss._target_ else cfg.loss._target_, module.loss.citation_params()
                      if hasattr(module.loss, "citation_params") else {}, hyperparameters(cfg), HF_DEFAULTS,
                      module.loss_history, results, scorer.max_length,
                      base_model_note=origin_note(str(cfg.model.name_or_path)))
        path = export_model(scorer, out / "model", card)
        print(f"\nexported the model to {path}")
    if not cfg.get("keep_checkpoints", True) and trainer.is_global_zero:
        freed = prune(out / "checkpoints")
        if freed:
            log.info("removed the training checkpoints (%.0f MB; keep_checkpoints=false)", freed / 2**20)
    return results
