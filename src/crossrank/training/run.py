"""One training run as named steps: :func:`build` (data read and checked before any model loads, the model, the
Lightning Trainer), :func:`fit`, :func:`export`, :func:`evaluate`, :func:`publish` (card, artifacts, curves) and
:func:`close` (loggers, ``run.json``). :func:`train` is that sequence."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import hydra
import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf

from crossrank.data.datamodule import PairDataModule
from crossrank.evaluation.fusion import tune_weights
from crossrank.evaluation.rerank import scorer_key
from crossrank.evaluation.spec import EvalSet, eval_sets
from crossrank.evaluation.stage import evaluate_sets
from crossrank.files import write_text
from crossrank.models.backends import apply
from crossrank.models.export import export_model
from crossrank.models.scorer import CrossEncoderScorer
from crossrank.models.teachers import load_teacher, score_pairs
from crossrank.tracking import run_info
from crossrank.tracking.curves import save_curves
from crossrank.tracking.loggers import close_loggers, continue_logs, log_evaluation, log_outputs
from crossrank.training.card import training_card
from crossrank.training.checkpoints import AtomicCheckpointIO, SaveOnInterrupt, load_checkpoint, prune
from crossrank.training.checkpoints import resolve as resolve_checkpoint
from crossrank.training.module import CrossEncoderModule

log = logging.getLogger(__name__)


@dataclass
class TrainingRun:
    """What the steps of one run share."""

    cfg: DictConfig
    out: Path
    info: dict[str, Any]  # run.json
    ckpt_path: str | None
    datamodule: PairDataModule
    scorer: CrossEncoderScorer
    module: CrossEncoderModule
    loggers: list[Any]
    trainer: L.Trainer

    @property
    def leader(self) -> bool:
        """Rank 0: the process that evaluates, exports and records (every rank trains)."""
        return bool(self.trainer.is_global_zero)


def train(cfg: DictConfig) -> dict[str, Any]:
    """Fit, export and evaluate as ``cfg`` says; returns ``{set: metrics.json}``. ``OUT/run.json`` records the
    command, git state, machine, wall time, W&B run and the sweep objective."""
    run = build(cfg)
    results: dict[str, Any] = {}
    ok = False
    try:
        fit(run)
        model_dir = export(run)
        results = evaluate(run, model_dir)
        publish(run, results, model_dir)
        ok = True
    finally:
        close(run, ok, results)
    return results


def build(cfg: DictConfig) -> TrainingRun:
    """``run.json`` started, the data read and checked (before the model loads: bad input fails in seconds), the
    scorer and its LightningModule, callbacks, loggers (continuing a resumed run's) and the Trainer."""
    out = Path(cfg.paths.output_dir)
    ckpt_path = resolve_checkpoint(cfg.get("ckpt_path"), out)
    info = run_info.start(out, resumed_from=ckpt_path)
    L.seed_everything(cfg.seed, workers=True)
    datamodule: PairDataModule = hydra.utils.instantiate(cfg.data)
    datamodule.build()
    eval_sets(cfg)  # a bad eval config fails before training, not after
    scorer: CrossEncoderScorer = hydra.utils.instantiate(cfg.model)
    datamodule.tokenizer = scorer.tokenizer
    module = CrossEncoderModule(scorer=scorer, loss=hydra.utils.instantiate(cfg.loss),
                                optimizer=hydra.utils.instantiate(cfg.optimizer),
                                scheduler=hydra.utils.instantiate(cfg.scheduler),
                                val_relevance_level=datamodule.val_level,
                                on_nonfinite=cfg.get("on_nonfinite", "stop"))
    callbacks = [c for c in (hydra.utils.instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c) if c]
    callbacks.append(SaveOnInterrupt(str(out / "checkpoints")))
    loggers = [hydra.utils.instantiate(c) for c in (cfg.get("logger") or {}).values() if c]
    if ckpt_path:
        step = int(load_checkpoint(ckpt_path).get("global_step", 0))
        continue_logs(loggers, step, (info.get("wandb") or {}).get("id"))
    no_validation = {} if datamodule.has_validation() else {"limit_val_batches": 0}
    trainer: L.Trainer = hydra.utils.instantiate(cfg.trainer, callbacks=callbacks, logger=loggers,
                                                 plugins=[AtomicCheckpointIO()], **no_validation)
    return TrainingRun(cfg, out, info, ckpt_path, datamodule, scorer, module, loggers, trainer)


def fit(run: TrainingRun) -> None:
    """Train; take the best checkpoint's weights when a metric is monitored; validate once more when what the
    run is judged by needs it (no validation ran yet, or the fusion weights need this process's rows)."""
    for lg in run.loggers:
        lg.log_hyperparams({**cast(dict, OmegaConf.to_container(run.cfg, resolve=True)), "run": run.info})
    run.trainer.fit(run.module, datamodule=run.datamodule, ckpt_path=run.ckpt_path)
    best = next((c for c in run.trainer.checkpoint_callbacks if c.monitor), None)
    if best is not None and best.best_model_path:
        log.info("loading the best checkpoint (%s = %s): %s", best.monitor, best.best_model_score,
                 best.best_model_path)
        run.module.load_state_dict(load_checkpoint(best.best_model_path)["state_dict"])
    tunes = any(spec.interpolate == "val" for spec in eval_sets(run.cfg))
    if run.datamodule.has_validation() and (not run.module.val_history or (tunes and not run.module.last_val_rows)):
        run.trainer.validate(run.module, datamodule=run.datamodule, verbose=False)


def export(run: TrainingRun) -> Path | None:
    """``OUT/model`` (rank 0, unless ``export=false``), before the evaluation, so that its reports name a folder
    that exists; the card gets the evaluation afterwards (:func:`publish`). LoRA adapters are merged first, so
    that the evaluation scores the weights the folder holds."""
    run.scorer.merge_adapters()
    if not run.cfg.get("export", True) or not run.leader:
        return None
    model_dir = export_model(run.scorer, run.out / "model", card(run, {}))
    print(f"\nexported the model to {model_dir}")
    return model_dir


def evaluate(run: TrainingRun, model_dir: Path | None) -> dict[str, Any]:
    """Every evaluation set on rank 0, on the inference backend (``model.backend``); the results go to the
    loggers. ``eval.interpolate: val`` takes the fusion weights that did best on the last validation."""
    if not run.leader:
        return {}
    cfg = run.cfg
    run.scorer.to("cuda" if torch.cuda.is_available() and cfg.trainer.accelerator != "cpu" else "cpu")
    scorer = apply(run.scorer.eval(), run.scorer.inference_backend)
    results = evaluate_sets(scorer, eval_sets(cfg), run.out, str(model_dir) if model_dir else None,
                            cfg.get("progress", True), key=scorer_key(scorer),  # hashes every weight: once
                            before=lambda spec: tune_on_validation(run, spec) if spec.interpolate == "val" else None)
    for name, result in results.items():
        log_evaluation(run.loggers, name, result, str(run.out / "eval" / name / "per_query.tsv"),
                       run.trainer.global_step)
    return results


def tune_on_validation(run: TrainingRun, spec: EvalSet) -> None:
    """The fusion weights of ``spec`` from the last validation's rows (held-out training queries, never the
    evaluation set's), with the teacher's scores of those pairs when the fusion has a teacher."""
    module, val = run.module, run.datamodule.val_dataset
    teacher = None
    if spec.teacher and module.last_val_rows and val is not None:
        fn, _ = load_teacher(spec.teacher, "eval.teacher")
        texts = {(q, p): (qt, pt) for q, p, qt, pt in zip(val["qid"], val["pid"], val["query"], val["passage"])}
        pairs = [(q, p) for q, p, _, _ in module.last_val_rows]
        teacher = score_pairs(fn, pairs, {q: texts[q, p][0] for q, p in pairs}, {p: texts[q, p][1] for q, p in pairs})
    tune_weights(spec, module.last_val_rows, module.val_qrels, module.val_relevance_level, teacher)


def publish(run: TrainingRun, results: dict[str, Any], model_dir: Path | None) -> None:
    """Rank 0: the card with the evaluation, the W&B artifacts, ``curves.png``; the checkpoints pruned with
    ``keep_checkpoints=false``."""
    if not run.leader:
        return
    if model_dir is not None and results:
        write_text(model_dir / "README.md", card(run, results))
    log_outputs(run.loggers, run.out, list(results), model_dir)
    save_curves(run.out)
    if not run.cfg.get("keep_checkpoints", True):
        freed = prune(run.out / "checkpoints")
        if freed:
            log.info("removed the training checkpoints (%.0f MB; keep_checkpoints=false)", freed / 2**20)


def close(run: TrainingRun, ok: bool, results: dict[str, Any]) -> None:
    """Finish the W&B run (also when the run failed) and complete ``run.json`` with the status and the sweep
    objective."""
    wandb_run = close_loggers(run.loggers, ok)
    if not run.leader:
        return
    metric = run.cfg.get("optimized_metric")
    value = objective(str(metric), run.module, results) if metric and ok else None
    run_info.finish(run.out, "finished" if ok else "failed", wandb=wandb_run or None,
                    objective={"metric": metric, "value": value} if metric else None)


def card(run: TrainingRun, results: dict[str, Any]) -> str:
    return training_card(run.cfg, run.scorer, run.module, run.datamodule.describe(), results)


def objective(name: str, module: CrossEncoderModule, results: dict[str, Any]) -> float | None:
    """The value of an ``optimized_metric`` for a sweep: the best over validations for ``val/*`` (as the best
    checkpoint is chosen), the final value for ``eval/<set>/<run>/<metric>``."""
    if name.startswith("val/"):
        values = [v[name] for v in module.val_history if name in v]
        return max(values) if values else None
    parts = name.split("/")
    if len(parts) == 4 and parts[0] == "eval" and parts[1] in results:
        return results[parts[1]].get(parts[2], {}).get(parts[3])
    return None
