"""Record a finished run in ``experiments/``: ``crossrank record RUN_DIR [--name NAME]``.

The record is what a paper table or a closing note cites: a README with the exact command, overrides, git
commit, seed, machine, wall time, W&B run and the metric tables with significance, beside ``config.yaml``,
``run.json``, ``metrics.json`` (every evaluation set), ``report.md``, ``eval/<set>/`` (metrics, report,
per-query values that ``crossrank compare`` reads), the CSV log, ``curves.png`` and the model card. Never weights.
The folder is built under a temporary name and renamed, so a failure leaves no half-written record.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from crossrank.errors import ConfigError
from crossrank.evaluation.spec import REPORT_FILES, RUN_FILES
from crossrank.files import atomic_path, write_json, write_text
from crossrank.tracking.runs import CV_METRICS, RunDir, RunError, find_runs

MAX_RUN_FILE = 5 * 2**20  # run.trec is recorded up to this size (TREC DL: ~0.3 MB; MS MARCO dev: ~400 MB)


def default_name(run: RunDir) -> str:
    """``<experiment>_<run dir name>`` (the task name where no experiment was chosen)."""
    experiment = next((o.split("=", 1)[1] for o in run.overrides() if o.lstrip("+~").startswith("experiment=")),
                      None)
    return f"{experiment or run.config().get('task_name', 'run')}_{run.name}"


def machine_line(machine: dict[str, Any]) -> str:
    parts = [machine.get("hostname", "?"), machine.get("platform", ""), f"{machine.get('cpus', '?')} CPUs"]
    if machine.get("gpus"):
        parts.append(", ".join(machine["gpus"]))
    if machine.get("torch"):
        parts.append(f"torch {machine['torch']}")
    return "; ".join(p for p in parts if p)


def readme(name: str, run: RunDir, note: str | None) -> str:
    """The record's README.md."""
    info, config = run.info(), run.config()
    overrides = run.overrides()
    command = info.get("command") or "python train.py " + " ".join(overrides)
    git = info.get("git") or {}
    commit = git.get("commit", "unknown")
    if git.get("dirty"):
        commit += " (the work tree had uncommitted changes)"
    wandb_run = info.get("wandb") or {}
    if wandb_run.get("url"):
        wandb_text = wandb_run["url"]
    elif wandb_run:
        wandb_text = f"offline run `{wandb_run.get('id')}`, not uploaded (`wandb sync` from its run dir)"
    else:
        wandb_text = "none"
    wall = f"{info['wall_seconds']:.1f} s" if info.get("wall_seconds") is not None else "unknown"
    lines = [f"# {name}", ""]
    if note:
        lines += [note.strip(), ""]
    lines += ["## Command", "", "```bash", command, "```", "",
              "Overrides: " + (", ".join(f"`{o}`" for o in overrides) or "none"), "",
              "| | |", "|---|---|",
              f"| status | {info.get('status', 'unknown')} |",
              f"| git commit | {commit} |",
              f"| seed | {config.get('seed', '?')} |",
              f"| machine | {machine_line(info.get('machine') or {})} |",
              f"| wall time | {wall} (started {info.get('started', '?')}) |",
              f"| W&B | {wandb_text} |"]
    if info.get("objective"):
        lines.append(f"| sweep objective | {info['objective']['metric']} = {info['objective']['value']} |")
    lines += ["", "## Results", ""]
    for set_name in run.evaluations():
        report = run.path / "eval" / set_name / "report.md"
        lines += [report.read_text(encoding="utf-8").strip() if report.is_file() else f"### {set_name}", ""]
    if not run.evaluations():
        lines += ["No evaluation set (eval=none).", ""]
    if (run.path / "csv" / "metrics.csv").is_file():
        lines += ["## Training curves", "", "![training curves](curves.png)", ""]
    lines += ["## Files", "",
              "`config.yaml` (the composed config), `run.json` (command, git, machine, times, W&B run), "
              "`metrics.json` (every evaluation set), `report.md`, `eval/<set>/` (metrics, report, per-query values "
              f"that `crossrank compare` reads, and the run files `run*.trec` up to {MAX_RUN_FILE // 2**20} MB each), "
              "`csv/metrics.csv`, `curves.png`, `model_card.md`. No weights.", ""]
    return "\n".join(lines)


@contextlib.contextmanager
def building(into: str | Path, name: str, force: bool, current: Path | None = None) -> Iterator[Path]:
    """``INTO/NAME`` built under a temporary name: yields that folder, which replaces ``INTO/NAME`` when the block
    ends and is removed if it fails, so a failure leaves no half-written record. An existing record is kept
    unless ``force`` (or it is ``current``, the folder being re-recorded)."""
    if "/" in name or name.startswith("."):
        raise ConfigError(f"--name: {name!r} is not a folder name")
    out = Path(into) / name
    if out.exists() and not force and (current is None or out.resolve() != current.resolve()):
        raise ConfigError(f"{out}: already exists (--force replaces it)")
    with atomic_path(out, folder=True) as tmp:
        yield tmp


def record_cv(root: Path, name: str | None, into: str | Path, note: str | None, force: bool) -> Path:
    """Write ``INTO/NAME/`` from a cross-validation run (``+experiment=local_cpu_cv``): ``cv/`` (per-fold and
    pooled report, metrics, per-query values), a record of every fold under ``foldK/``, and a README."""
    name = name or f"cv_{root.name}"
    with building(into, name, force) as tmp:
        (tmp / "cv").mkdir()
        for file in ("report.md", "metrics.json", "per_query.tsv"):
            if (root / "cv" / file).is_file():
                shutil.copyfile(root / "cv" / file, tmp / "cv" / file)
        folds = [f.path for f in RunDir(root).folds()]
        for fold in folds:
            record(fold, fold.name, tmp, None, force=True)
        infos = [RunDir(f).info() for f in folds]
        first = infos[0] if infos else {}
        git = first.get("git") or {}
        wall = sum(i.get("wall_seconds") or 0 for i in infos)
        lines = [f"# {name}", ""] + ([note.strip(), ""] if note else []) + [
            "## Command", "", "```bash", first.get("command", "?"), "```", "",
            "| | |", "|---|---|",
            f"| git commit | {git.get('commit', 'unknown')}{' (uncommitted changes)' if git.get('dirty') else ''} |",
            f"| machine | {machine_line(first.get('machine') or {})} |",
            f"| wall time | {wall:.1f} s over {len(folds)} folds |", "",
            "## Results", "", (root / "cv" / "report.md").read_text(encoding="utf-8").strip(), "",
            "## Files", "", "`cv/` (this report, `metrics.json`, per-query values of every held-out query), and "
            "`foldK/`: the record of each fold's run (config, run.json, its evaluation, training log, curves).", ""]
        write_text(tmp / "README.md", "\n".join(lines))
    return Path(into) / name


def record(run_dir: str | Path, name: str | None = None, into: str | Path = "experiments",
           note: str | None = None, force: bool = False) -> Path:
    """Write ``INTO/NAME/`` from a run dir (or re-record an existing record); returns the folder."""
    from crossrank.tracking.curves import save_curves

    if (Path(run_dir) / CV_METRICS).is_file():
        return record_cv(Path(run_dir), name, into, note, force)
    runs = find_runs(run_dir)
    if len(runs) != 1:
        raise RunError(f"{run_dir}: a folder of {len(runs)} runs; record one of them: "
                       + ", ".join(str(r.path) for r in runs[:5]))
    run = runs[0]
    if not run.config() and not run.evaluations():
        raise RunError(f"{run.path}: not a finished run (no config and no evaluation)")
    name = name or default_name(run)
    with building(into, name, force, current=run.path) as tmp:
        write_text(tmp / "config.yaml", yaml.safe_dump(run.config(), sort_keys=False))
        write_text(tmp / "overrides.yaml", yaml.safe_dump(run.overrides()))
        if run.info():
            write_json(tmp / "run.json", run.info())
        evaluations = run.evaluations()
        write_json(tmp / "metrics.json", evaluations)
        reports = []
        for set_name in evaluations:
            (tmp / "eval" / set_name).mkdir(parents=True)
            for file in REPORT_FILES + RUN_FILES:
                src = run.path / "eval" / set_name / file
                if src.is_file() and (file in REPORT_FILES or src.stat().st_size <= MAX_RUN_FILE):
                    shutil.copyfile(src, tmp / "eval" / set_name / file)
            if (src := run.path / "eval" / set_name / "report.md").is_file():
                reports.append(src.read_text(encoding="utf-8").strip())
        write_text(tmp / "report.md", "\n\n".join(reports) + "\n")
        if (run.path / "csv" / "metrics.csv").is_file():
            (tmp / "csv").mkdir()
            shutil.copyfile(run.path / "csv" / "metrics.csv", tmp / "csv" / "metrics.csv")
            save_curves(tmp)
        for card in (run.path / "model" / "README.md", run.path / "model_card.md"):
            if card.is_file():
                shutil.copyfile(card, tmp / "model_card.md")
                break
        write_text(tmp / "README.md", readme(name, RunDir(tmp) if not run.info() else run, note))
    return Path(into) / name
