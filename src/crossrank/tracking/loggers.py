"""Experiment loggers: Lightning's W&B logger as crossrank runs it.

- One W&B run per job: a run left open by an earlier job of the same process (a Hydra multirun, an
  Optuna trial) is finished before the next starts, and :meth:`WandbLogger.close` finishes this one.
- A run never fails or hangs because W&B cannot be reached: an online start that fails within
  ``init_timeout`` seconds falls back to an offline run in the run dir (``wandb sync`` uploads it later).
- At the end: the evaluation folder (run files, reports, metrics) and, with ``log_model``, the exported
  model as artifacts; one line says where the run is.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import WandbLogger as _LightningWandbLogger
from lightning.pytorch.loggers.logger import rank_zero_experiment
from lightning.pytorch.utilities.rank_zero import rank_zero_only

from crossrank.evaluation.spec import RANKINGS, REPORT_FILES, RUN_FILES

log = logging.getLogger(__name__)



class WandbLogger(_LightningWandbLogger):
    """Lightning's ``WandbLogger`` with crossrank's run lifecycle.

    Args:
        log_model: upload the exported model folder (``OUT/model``) as a ``model`` artifact at the end
            (not Lightning's checkpoint upload).
        log_eval: upload each evaluation set's files as an ``evaluation`` artifact at the end.
        init_timeout: seconds to reach W&B before falling back to offline.
        **kwargs: as Lightning's ``WandbLogger`` / ``wandb.init`` (project, entity, group, job_type, tags...).
    """

    _experiment: Any  # Lightning's attributes, typed for the checker
    _offline: bool

    def __init__(self, *args: Any, log_model: bool = False, log_eval: bool = True, init_timeout: float = 30,
                 **kwargs: Any) -> None:
        super().__init__(*args, log_model=False, **kwargs)
        self._wandb_init.pop("anonymous", None)  # deprecated in wandb: it only prints a warning
        self.upload_model = bool(log_model)
        self.log_eval = log_eval
        self.init_timeout = init_timeout
        self.fell_back = False

    @property
    @rank_zero_experiment
    def experiment(self) -> Any:
        if self._experiment is None:
            import wandb

            if wandb.run is not None:  # left open by an earlier job of this process: it is not this run
                wandb.finish()
            run = self._start(wandb)
            run.define_metric("trainer/global_step")
            run.define_metric("*", step_metric="trainer/global_step", step_sync=True)
            self._experiment = run
        return self._experiment

    def _start(self, wandb: Any) -> Any:
        init = dict(self._wandb_init)
        settings = wandb.Settings(init_timeout=self.init_timeout, silent=True)
        mode = "offline" if self._offline else "online"
        if init.get("dir"):
            Path(init["dir"]).mkdir(parents=True, exist_ok=True)
        try:
            return wandb.init(**init, mode=mode, settings=settings)
        except Exception as e:  # noqa: BLE001 - any failure to reach or configure W&B
            if mode == "offline":
                raise
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            log.warning("W&B: could not start an online run (%s); logging offline in %s instead "
                        "(upload later with `wandb sync`)", reason, init.get("dir"))
            self.fell_back = True
            self._offline = True
            os.environ["WANDB_MODE"] = "offline"  # later jobs of this process do not wait again
            return wandb.init(**init, mode="offline", settings=settings)

    @rank_zero_only
    def log_outputs(self, out: Path, eval_names: list[str], model_dir: Path | None = None) -> None:
        """Upload ``OUT/eval/<set>/`` files and (with ``log_model``) the exported model as artifacts."""
        import wandb

        run = self.experiment
        if self.log_eval and eval_names:
            artifact = wandb.Artifact(f"eval-{run.id}", type="evaluation",
                                      description="crossrank evaluation: metrics, reports, run files")
            for name in eval_names:
                for file in REPORT_FILES + RUN_FILES:  # not the score shards
                    path = out / "eval" / name / file
                    if path.is_file():
                        artifact.add_file(str(path), name=f"{name}/{file}")
            run.log_artifact(artifact)
        if self.upload_model and model_dir is not None and model_dir.is_dir():
            artifact = wandb.Artifact(f"model-{run.id}", type="model",
                                      description="crossrank cross-encoder (Hugging Face folder with model card)")
            artifact.add_dir(str(model_dir))
            run.log_artifact(artifact)

    @rank_zero_only
    def close(self, exit_code: int = 0) -> dict[str, Any]:
        """Finish the W&B run (so the next job starts its own); returns where it is."""
        if self._experiment is None:
            return {}
        run = self._experiment
        info = {"id": run.id, "name": run.name, "project": run.project, "mode": "offline" if self._offline
                else "online", "dir": str(Path(run.dir).parent), "url": None if self._offline else run.url}
        run.finish(exit_code=exit_code)
        self._experiment = None
        return info


def wandb_line(info: dict[str, Any]) -> str:
    """One line for the console: where the W&B run is, and how to upload an offline one."""
    if info.get("url"):
        return f"W&B run: {info['url']}"
    return f"W&B run (offline): {info['dir']}; upload it with: wandb sync {info['dir']}"


def log_evaluation(loggers: list[Any], name: str, result: Mapping[str, Any], per_query_path: str | None = None,
                   step: int | None = None) -> None:
    """Evaluation metrics into every logger; for W&B also the run summary and a per-query table."""
    runs = {run: result[run] for run in RANKINGS if result.get(run)} | (result.get("others") or {})
    flat = {f"eval/{name}/{run}/{m}": v for run, metrics in runs.items() for m, v in metrics.items()}
    if result.get("pairs_per_second") is not None:  # None: every shard was reused
        flat[f"eval/{name}/pairs_per_second"] = result["pairs_per_second"]
    for lg in loggers:
        lg.log_metrics(flat, step=step)
        if isinstance(lg, WandbLogger):
            import wandb

            lg.experiment.summary.update(flat)
            if per_query_path:
                import pandas as pd

                lg.experiment.log({f"eval/{name}/per_query": wandb.Table(dataframe=pd.read_csv(
                    per_query_path, sep="\t", dtype={"qid": str}))})
        if hasattr(lg, "save"):
            lg.save()


def continue_logs(loggers: list[Any], step: int, wandb_id: str | None) -> None:
    """A run resumed from a checkpoint of ``step`` continues its logs: the CSV keeps the rows logged before that
    step (Lightning's CSV logger would delete them), and W&B continues the run ``wandb_id``."""
    from lightning.pytorch.loggers import CSVLogger

    from crossrank.files import atomic_path

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
        if isinstance(lg, WandbLogger) and wandb_id:
            lg._wandb_init["id"] = wandb_id


def log_outputs(loggers: list[Any], out: Path, eval_names: list[str], model_dir: Path | None) -> None:
    """The run's evaluation files and (with ``log_model``) its exported model as W&B artifacts."""
    for lg in loggers:
        if isinstance(lg, WandbLogger):
            lg.log_outputs(out, eval_names, model_dir)


def close_loggers(loggers: list[Any], ok: bool) -> dict[str, Any]:
    """Finish the W&B run (one per job, also when the job failed) and say where it is; returns that."""
    info: dict[str, Any] = {}
    for lg in loggers:
        if isinstance(lg, WandbLogger):
            info = lg.close(exit_code=0 if ok else 1) or info
    if info:
        print(wandb_line(info))
    return info
