"""The model card of a training run: the run's config in the vocabulary of sentence-transformers' cards (so a reader
can set crossrank's recipe beside theirs), the training data's statistics, the loss and the training log."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from crossrank.evaluation.stage import TOP_LEVEL
from crossrank.models.card import render
from crossrank.models.hub import origin_note
from crossrank.models.scorer import CrossEncoderScorer
from crossrank.training.module import CrossEncoderModule

#: Hugging Face TrainingArguments defaults, so the card can list what a recipe changed.
HF_DEFAULTS = {"learning_rate": 5e-5, "weight_decay": 0.0, "adam_beta1": 0.9, "adam_beta2": 0.999,
               "adam_epsilon": 1e-8, "per_device_train_batch_size": 8, "per_device_eval_batch_size": 8,
               "num_train_epochs": 3, "max_steps": -1, "max_grad_norm": 1.0, "lr_scheduler_type": "linear",
               "warmup_steps": 0, "warmup_ratio": 0.0, "seed": 42, "gradient_accumulation_steps": 1,
               "precision": "32-true", "optim": "adamw_torch_fused"}

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
        "max_grad_norm": tr.gradient_clip_val, "lr_scheduler_type": sch.get("name", "linear"),
        "warmup_steps": sch.warmup_steps, "warmup_ratio": sch.warmup_ratio,
        "seed": cfg.seed, "gradient_accumulation_steps": tr.get("accumulate_grad_batches", 1),
        "precision": str(tr.get("precision", "32-true")),
        "optim": OPTIM_NAMES.get(opt._target_, opt._target_) + ("_fused" if opt.get("fused") else ""),
        "max_length": cfg.model.max_length,
    }


def training_card(cfg: DictConfig, scorer: CrossEncoderScorer, module: CrossEncoderModule, dataset: dict[str, Any],
                  results: dict[str, Any]) -> str:
    """The exported folder's ``README.md`` for this run (``results``: the evaluation, when there is one yet)."""
    info = module.loss_info
    params = module.loss.citation_params() if hasattr(module.loss, "citation_params") else {}
    return render(scorer.label, dataset, info.card_name if info else str(cfg.loss._target_), params,
                  hyperparameters(cfg), HF_DEFAULTS, module.loss_history, results, scorer.max_length,
                  base_model_note=origin_note(str(cfg.model.name_or_path)), head=scorer.head,
                  rankings=TOP_LEVEL, loss_note=getattr(module.loss, "card_note", lambda: None)())
