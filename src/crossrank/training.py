"""The training run: config -> datamodule -> module -> Trainer -> evaluation -> export."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, cast

import hydra
import lightning as L
import torch
from lightning.pytorch.loggers import CSVLogger
from omegaconf import DictConfig, OmegaConf

from crossrank import run_info
from crossrank.checkpoints import AtomicCheckpointIO, SaveOnInterrupt, load_checkpoint, prune
from crossrank.checkpoints import resolve as resolve_checkpoint
from crossrank.curves import save_curves
from crossrank.data.datamodule import PairDataModule
from crossrank.errors import ConfigError
from crossrank.evaluation.spec import eval_sets
from crossrank.evaluation.stage import evaluate_set
from crossrank.export import export_model
from crossrank.files import atomic_path, write_text
from crossrank.hub import origin_note
from crossrank.loggers import WandbLogger, wandb_line
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


def run_evaluation(scorer: CrossEncoderScorer, cfg: DictConfig, out: Path, loggers: list[Any],
                   model_id: str | None, step: int | None = None, module: CrossEncoderModule | None = None,
                   val_dataset: Any = None) -> dict[str, Any]:
    """Evaluate on every configured set, on the scorer's inference backend (``model.backend``); returns
    ``{set name: metrics.json content}``. ``eval.interpolate: val`` takes the weight that did best on
    ``module``'s last validation (held-out training queries, never the evaluation set's); with ``eval.teacher``
    the teacher's weight too, the teacher scoring ``val_dataset``'s pairs."""
    from crossrank.backends import apply
    from crossrank.evaluation.rerank import scorer_key

    scorer = apply(scorer.eval(), scorer.inference_backend)
    key = scorer_key(scorer)  # hashes every weight: once for all the sets
    results: dict[str, Any] = {}
    for spec in eval_sets(cfg):
        if spec.interpolate == "val":
            tune_interpolation(spec, module, val_dataset)
        result = evaluate_set(scorer, spec, out, model_id=model_id, progress=cfg.get("progress", True), key=key)
        if result is not None:
            results[spec.name] = result
            log_evaluation(loggers, spec.name, result, str(out / "eval" / spec.name / "per_query.tsv"), step)
    return results


def tune_interpolation(spec: Any, module: CrossEncoderModule | None, val_dataset: Any = None) -> None:
    """Set ``spec.interpolate`` (and with a teacher ``spec.teacher_weight``) to the weights with the best nDCG@10
    on the last validation."""
    from crossrank.evaluation.interpolate import tune_alpha, tune_fusion

    rows = module.last_val_rows if module is not None else None
    if module is None or not rows or not module.val_qrels:
        raise ConfigError(f"eval.interpolate: val tunes the weight on validation queries, and {spec.name} has none "
                          "(set data.pairs.val_queries, or give a weight in [0, 1])")
    queries = len({r[0] for r in rows} & set(module.val_qrels))
    level = module.val_relevance_level
    if not spec.teacher:
        alpha, table = tune_alpha(rows, module.val_qrels, "ndcg@10", level)
        spec.interpolate = alpha
        spec.interpolation_note = (f"tuned on {queries} validation queries: nDCG@10 {table[alpha]:.4f} at weight "
                                   f"{alpha} (reranker only {table[1.0]:.4f}, first stage only {table[0.0]:.4f})")
    else:
        from crossrank.teach import load_teacher, score_pairs

        fn, _ = load_teacher(spec.teacher, "eval.teacher")
        texts = {(q, p): (qt, pt) for q, p, qt, pt in zip(val_dataset["qid"], val_dataset["pid"],
                                                          val_dataset["query"], val_dataset["passage"])}
        pairs = [(q, p) for q, p, _, _ in rows]
        teacher = score_pairs(fn, pairs, {q: texts[q, p][0] for q, p in pairs}, {p: texts[q, p][1] for q, p in pairs})
        (alpha, beta), grid = tune_fusion(rows, teacher, module.val_qrels, "ndcg@10", level)
        spec.interpolate, spec.teacher_weight = alpha, beta
        spec.interpolation_note = (
            f"tuned on {queries} validation queries: nDCG@10 {grid[alpha, beta]:.4f} at reranker weight {alpha}, "
            f"teacher weight {beta} (reranker only {grid[1.0, 0.0]:.4f}, teacher only {grid[0.0, 1.0]:.4f}, "
            f"first stage only {grid[0.0, 0.0]:.4f})")
    log.info("eval.interpolate: %s", spec.interpolation_note)


def objective(cfg: DictConfig, module: CrossEncoderModule, results: dict[str, Any]) -> float | None:
    """The value of ``cfg.optimized_metric`` for a sweep: the best over validations for ``val/*`` (as the
    best checkpoint is chosen), the final value for ``eval/<set>/<run>/<metric>``."""
    name = cfg.get("optimized_metric")
    if not name:
        return None
    if name.startswith("val/"):
        values = [v[name] for v in module.val_history if name in v]
        return max(values) if values else None
    parts = name.split("/")
    if len(parts) == 4 and parts[0] == "eval" and parts[1] in results:
        return results[parts[1]].get(parts[2], {}).get(parts[3])
    return None


def continue_logs(loggers: list[Any], out: Path, ckpt_path: str, info: dict[str, Any]) -> None:
    """A resumed run continues its logs: the CSV keeps the rows logged before the checkpoint (Lightning's CSV
    logger would delete them), and W&B continues the same run id."""
    step = int(load_checkpoint(ckpt_path).get("global_step", 0))
    for lg in loggers:
        if isinstance(lg, CSVLogger):
            path = Path(lg.log_dir) / "metrics.csv"
            kept = None
            if path.is_file():
                import pandas as pd

                rows = pd.read_csv(path)
                kept = rows[rows["step"] < step] if "step" in rows else None
            writer = lg.experiment  # creating the writer removes the old file
            if kept is not None and len(kept):
                with atomic_path(path) as tmp:
                    kept.to_csv(tmp, index=False)
                writer.metrics_keys = sorted(kept.columns)  # new columns are merged into this header
        if isinstance(lg, WandbLogger) and (info.get("wandb") or {}).get("id"):
            lg._wandb_init["id"] = info["wandb"]["id"]


def _close_loggers(loggers: list[Any], ok: bool) -> dict[str, Any]:
    """Finish W&B runs (one per job, also when the job failed); returns where the run is."""
    info: dict[str, Any] = {}
    for lg in loggers:
        if isinstance(lg, WandbLogger):
            info = lg.close(exit_code=0 if ok else 1) or info
    return info


def train(cfg: DictConfig) -> dict[str, Any]:
    """Fit, evaluate and export as ``cfg`` says; returns the evaluation results.

    The data is read and checked before the model is loaded, so bad input fails in seconds. ``OUT/run.json``
    records the command, git state, machine, wall time, W&B run and the sweep objective.
    """
    if (cfg.get("cv") or {}).get("folds"):
        from crossrank.cv import cross_validate

        return cross_validate(cfg)
    out = Path(cfg.paths.output_dir)
    ckpt_path = resolve_checkpoint(cfg.get("ckpt_path"), out)
    info = run_info.start(out, resumed_from=ckpt_path)
    L.seed_everything(cfg.seed, workers=True)
    datamodule: PairDataModule = hydra.utils.instantiate(cfg.data)
    datamodule.build()  # reads and validates the data before the model is loaded
    eval_sets(cfg)  # fail on a bad eval config before training, not after
    scorer: CrossEncoderScorer = hydra.utils.instantiate(cfg.model)
    datamodule.tokenizer = scorer.tokenizer
    module = CrossEncoderModule(scorer=scorer, loss=hydra.utils.instantiate(cfg.loss),
                                optimizer=hydra.utils.instantiate(cfg.optimizer),
                                scheduler=hydra.utils.instantiate(cfg.scheduler),
                                val_relevance_level=datamodule.spec.level,
                                on_nonfinite=cfg.get("on_nonfinite", "stop"))
    callbacks = [c for c in (hydra.utils.instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c) if c]
    callbacks.append(SaveOnInterrupt(str(out / "checkpoints")))
    loggers = [hydra.utils.instantiate(c) for c in (cfg.get("logger") or {}).values() if c]
    if ckpt_path:
        continue_logs(loggers, out, ckpt_path, info)
    extra: dict[str, Any] = {}
    if not datamodule.has_validation():
        extra["limit_val_batches"] = 0  # nothing to validate on: no empty validation loop
    trainer: L.Trainer = hydra.utils.instantiate(cfg.trainer, callbacks=callbacks, logger=loggers,
                                                 plugins=[AtomicCheckpointIO()], **extra)
    ok, value, results = False, None, {}
    try:
        for lg in loggers:
            lg.log_hyperparams({**cast(dict, OmegaConf.to_container(cfg, resolve=True)), "run": info})
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)

        ckpt = next((c for c in trainer.checkpoint_callbacks if c.monitor), None)
        if ckpt is not None and ckpt.best_model_path:
            log.info("loading the best checkpoint (%s = %s): %s", ckpt.monitor, ckpt.best_model_score,
                     ckpt.best_model_path)
            module.load_state_dict(load_checkpoint(ckpt.best_model_path)["state_dict"])
        tunes = any(spec.interpolate == "val" for spec in eval_sets(cfg))
        if datamodule.has_validation() and (not module.val_history or (tunes and not module.last_val_rows)):
            # no validation ran (max_steps ended the run inside the first validation interval), or none in this
            # process where the fusion weights need its rows (a run resumed after its last validation): validate
            # once, so that what the run is judged by (a sweep's objective, the fusion weights) has a value
            trainer.validate(module, datamodule=datamodule, verbose=False)
        scorer.to("cuda" if torch.cuda.is_available() and cfg.trainer.accelerator != "cpu" else "cpu")

        model_dir = None

        def card(results: dict[str, Any]) -> str:
            info = module.loss_info
            return render(scorer.label, datamodule.describe(), info.card_name if info else cfg.loss._target_,
                          module.loss.citation_params() if hasattr(module.loss, "citation_params") else {},
                          hyperparameters(cfg), HF_DEFAULTS,
                          module.loss_history, results, scorer.max_length,
                          base_model_note=origin_note(str(cfg.model.name_or_path)),
                          head=scorer.head)

        if cfg.get("export", True) and trainer.is_global_zero:  # first: the reports name the folder that exists
            model_dir = export_model(scorer, out / "model", card({}))
            print(f"\nexported the model to {model_dir}")
        results = run_evaluation(scorer, cfg, out, loggers, model_id=str(model_dir) if model_dir else None,
                                 step=trainer.global_step, module=module,
                                 val_dataset=datamodule.val_dataset) if trainer.is_global_zero else {}
        if model_dir is not None and results:
            write_text(model_dir / "README.md", card(results))  # the card with the evaluation
        value = objective(cfg, module, results)
        if trainer.is_global_zero:
            for lg in loggers:
                if isinstance(lg, WandbLogger):
                    lg.log_outputs(out, list(results), model_dir)
            save_curves(out)
        if not cfg.get("keep_checkpoints", True) and trainer.is_global_zero:
            freed = prune(out / "checkpoints")
            if freed:
                log.info("removed the training checkpoints (%.0f MB; keep_checkpoints=false)", freed / 2**20)
        ok = True
    finally:
        wandb_run = _close_loggers(loggers, ok)
        if trainer.is_global_zero:
            objective_info = {"metric": cfg.optimized_metric, "value": value} if cfg.get("optimized_metric") else None
            run_info.finish(out, "finished" if ok else "failed", wandb=wandb_run or None, objective=objective_info)
            if wandb_run:
                print(wandb_line(wandb_run))
    return results


def sweep_objective(out: Path) -> float:
    """What ``train.py`` returns to a Hydra sweeper (Optuna): ``run.json``'s objective value."""
    info = run_info.read(out)
    value = (info.get("objective") or {}).get("value")
    if value is None:
        metric = (info.get("objective") or {}).get("metric")
        raise ConfigError(f"optimized_metric: {metric!r} has no value in this run (was it logged?)")
    return float(value)
