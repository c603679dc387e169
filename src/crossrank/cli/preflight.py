"""Checks that run before any model is loaded: config values, model paths, data folders and files.

Light on purpose (no torch, transformers or Lightning): a bad path or key fails in about a second.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from crossrank.data.candidates import FirstStage, check_order
from crossrank.data.irds import IRDatasetsSource
from crossrank.data.local import LocalSource
from crossrank.data.nanobeir import NanoBEIRSource
from crossrank.data.pairs import TEACHER_IN_SOURCE, check_negatives, check_teacher
from crossrank.data.sources import Source, load_source, val_source_config
from crossrank.errors import ConfigError, DataError
from crossrank.evaluation.spec import SUITE_RANKINGS, EvalSet, eval_sets
from crossrank.models.hub import check_model_path
from crossrank.training.losses.registry import check_batches, loss_info


def _value(cfg: DictConfig, key: str) -> Any:
    """``cfg[key]`` resolved; a missing mandatory value becomes a one-line error naming the key."""
    value = OmegaConf.select(cfg, key, throw_on_missing=True)
    return OmegaConf.to_container(value, resolve=True, throw_on_missing=True) if OmegaConf.is_config(value) else value


def check_source(source: Source, run_path: str | None = None) -> None:
    """Read what is small (queries, judgments) and peek at the run, so malformed files fail now.

    Large files (the collection, the whole run) are validated as they stream, with the line named; a Hugging Face
    dataset's rows are read once, by the pair builder that comes next.
    """
    if isinstance(source, LocalSource):
        source.declared()
        source.qrels()  # reads queries.tsv too, and checks every judged qid is a query
        collection = source.root / "collection.tsv"
        if not collection.is_file():
            raise DataError(f"{collection}: file not found")
        if collection.stat().st_size == 0:
            raise DataError(f"{collection}: file is empty")
        run = source.run_path()
        if run is not None and run.stat().st_size == 0:
            raise DataError(f"{run}: the run is empty")
        if run_path and run is None:
            raise DataError(f"{run_path}: run file not found")
    elif isinstance(source, NanoBEIRSource):  # its four subsets loaded now: offline, a set fails in seconds
        source.check()
    elif isinstance(source, IRDatasetsSource):
        if source.run_path and not Path(source.run_path).is_file():
            raise DataError(f"{source.run_path}: run file not found")
        source.qrels()  # downloaded now (or read from ir_datasets' cache): offline, this fails in seconds


def check_eval_set(spec: EvalSet) -> None:
    """An evaluation set's folder, files and compare runs; an ir_datasets set's queries too (with its judgments,
    everything but the passages is fetched now: offline, a set fails here, not after the sets before it)."""
    source = spec.source()
    check_source(source, spec.run_path)
    if isinstance(source, IRDatasetsSource):
        source.queries()
    check_order(source, spec.first_stage_settings(), spec.depth, ordered=True)  # first_stage=run without scores
    for name, path in spec.compare_runs.items():
        if not Path(path).is_file():
            raise DataError(f"eval.compare_runs.{name}: {path}: file not found")


#: What every training run logs (CSV and W&B history).
TRAIN_KEYS = ("train/loss_step", "train/loss_epoch", "train/lr", "train/grad_norm", "train/samples_per_sec",
              "train/tokens_per_sec", "epoch", "trainer/global_step")
VALIDATION_METRICS = ("ndcg@10", "mrr@10")


def has_validation(cfg: DictConfig) -> bool:
    """True when the run validates: held-out training queries or another set."""
    data = cfg.get("data") or {}
    return bool((data.get("pairs") or {}).get("val_queries") or data.get("val_source"))


def logged_metrics(cfg: DictConfig, sets: list[EvalSet]) -> list[str]:
    """The metric keys a training run with ``cfg`` logs: training, validation and every evaluation set's."""
    keys = list(TRAIN_KEYS)
    if has_validation(cfg):
        keys += [f"{p}/{m}" for p in ("val", "val/first_stage") for m in VALIDATION_METRICS]
    for spec in sets:
        names = spec.metric_names(spec.source())
        keys += [f"eval/{spec.name}/{run}/{m}" for run in spec.rankings() for m in names]
        keys.append(f"eval/{spec.name}/pairs_per_second")
        if spec.suite:  # the suite's mean too (the sets share their metrics)
            keys += [f"eval/{spec.suite}/{run}/{m}" for run in spec.rankings() if run in SUITE_RANKINGS
                     for m in names]
    return list(dict.fromkeys(keys))


def check_metric(cfg: DictConfig, sets: list[EvalSet], name: str, key: str) -> None:
    """``name`` must be a metric this run logs (an ``optimized_metric``, a sweep's ``metric.name``)."""
    keys = logged_metrics(cfg, sets)
    if name not in keys:
        sweepable = [k for k in keys if k.startswith(("val/", "eval/"))]
        hint = ", ".join(sweepable) if sweepable else "none: add validation with data.pairs.val_queries=N"
        raise ConfigError(f"{key}: {name!r} is not logged by this run (it logs {hint})")


def check_loss_data(cfg: DictConfig, data: dict[str, Any], source: Source) -> None:
    """The loss gets the batches it needs (:mod:`crossrank.training.losses.registry`): query groups, teacher scores
    (``source``: the training data, whose run ``teacher_run: source`` reads)."""
    info = loss_info(str(OmegaConf.select(cfg, "loss._target_", default="") or ""))
    check_batches(info, int(data.get("batch_size") or 1), data.get("group_size"), data.get("teacher_run"),
                  bool(data.get("length_grouped")))
    if data.get("teacher_run") and data["teacher_run"] != TEACHER_IN_SOURCE and \
            not Path(str(data["teacher_run"])).expanduser().is_file():
        raise ConfigError(f"data.teacher_run: {data['teacher_run']} does not exist")
    if data.get("teacher_run") == TEACHER_IN_SOURCE and not source.has_run():
        raise ConfigError(f"data.teacher_run: source: {source.name} has no run to take teacher scores from")
    check_negatives(str(data.get("negatives") or "first_stage"), data.get("mined_run"))
    check_teacher(data.get("teacher_run"), str(data.get("negatives") or "first_stage"),
                  str(data.get("first_stage") or "auto"))
    if data.get("mined_run") and not Path(str(data["mined_run"])).expanduser().is_file():
        raise ConfigError(f"data.mined_run: {data['mined_run']} does not exist")


def check_train(cfg: DictConfig) -> list[EvalSet]:
    """Everything ``train.py`` can check before loading a model; returns the evaluation sets."""
    check_model_path(str(_value(cfg, "model.name_or_path")), "model.name_or_path")
    data = _value(cfg, "data")
    if data.get("kind") == "local":
        if not data.get("path"):
            raise ConfigError("config key data.path must be set (e.g. data.path=DIR)")
        source: Source = LocalSource(data["path"], run_file=data.get("run_path") or "run.tsv")
    else:
        source = load_source(data.get("kind", "local"), data.get("path"), data.get("dataset_id"), data.get("run_path"),
                             hf=data.get("hf"))
    check_source(source, data.get("run_path"))
    check_loss_data(cfg, data, source)
    pairs = data.get("pairs") or {}
    how = FirstStage(str(data.get("first_stage") or "auto"), key="data.first_stage")
    check_order(source, how, None, ordered=bool(pairs.get("val_queries")))  # a cut is found when the lists are read
    val_source = data.get("val_source")
    if val_source:
        fields = val_source_config(val_source)[0]
        check_source(load_source(**fields), fields.get("run_path"))
    sets = eval_sets(cfg)
    for spec in sets:
        check_eval_set(spec)
        if spec.interpolate == "val" and not (data.get("pairs") or {}).get("val_queries") and not val_source:
            raise ConfigError("eval.interpolate: val tunes the weight on validation queries; set "
                              "data.pairs.val_queries (e.g. 8) or give a weight in [0, 1]")
    if cfg.get("optimized_metric"):
        check_metric(cfg, sets, str(cfg.optimized_metric), "optimized_metric")
    return sets


def check_evaluate(cfg: DictConfig) -> list[EvalSet]:
    """Everything ``evaluate.py`` can check before loading a model; returns the evaluation sets."""
    check_model_path(str(_value(cfg, "model.name_or_path")), "model.name_or_path")
    sets = eval_sets(cfg)
    if not sets:
        raise ConfigError("eval: no evaluation set; pick one with eval=local eval.path=DIR, eval=trec_dl_2019, ...")
    for spec in sets:
        check_eval_set(spec)
        if spec.interpolate == "val":
            raise ConfigError("eval.interpolate: val is tuned on train.py's validation queries; evaluate.py needs a "
                              "weight in [0, 1] (e.g. the one train.py chose, in its metrics.json)")
    return sets
