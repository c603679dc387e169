"""The ``crossrank`` command (also ``python -m crossrank``): one entry for what is not ``train.py`` or
``evaluate.py`` themselves, and those two as well.

    crossrank train +experiment=quickstart [key=value ...]        # = python train.py ...
    crossrank evaluate model.name_or_path=MODEL eval=local eval.path=DIR
    crossrank record RUN_DIR [--name NAME] [--note TEXT]          # experiments/NAME
    crossrank compare DIR [DIR ...] [--metrics ndcg@10 mrr@10] [--out FILE]
    crossrank sweep check|command|create conf/sweep/NAME.yaml
    crossrank teach --data DIR --teacher bi-encoder --out teacher.run
    crossrank mine --data DIR --teacher bi-encoder --out mined.run [--ranks 10:100] [--margin 0.05]

Every error is one ``error:`` line with exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from crossrank.errors import ConfigError, CrossrankError

HYDRA_TASKS = ("train", "evaluate")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in HYDRA_TASKS:
        return hydra_task(argv[0], argv[1:])
    args = parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except CrossrankError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="crossrank", description="Train, evaluate, record and compare cross-encoder "
                                  "rerankers; every error is one line with exit status 2.",
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for task in HYDRA_TASKS:  # parsed by Hydra (main() hands them over before argparse sees them)
        sub.add_parser(task, help=f"as python {task}.py (Hydra overrides; --config-dir DIR: the configs, ./conf)")

    def command(name: str, run: Callable[[argparse.Namespace], Any], text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=text, description=text)
        p.set_defaults(run=run)
        return p

    p = command("record", record, "record a finished run (or cross-validation) in experiments/")
    p.add_argument("run_dir")
    p.add_argument("--name", default=None, help="folder name under --into (default: EXPERIMENT_RUNDIR; cv_RUNDIR for a "
                   "cross-validation)")
    p.add_argument("--into", default="experiments", help="where records go (default: ./experiments)")
    p.add_argument("--note", default=None, help="a paragraph for the README: what the run shows")
    p.add_argument("--force", action="store_true", help="replace an existing record of that name")

    p = command("compare", compare, "one table over runs, records and sweeps, with paired significance tests")
    p.add_argument("dirs", nargs="+", help="run dirs, records, cross-validations, or folders of runs")
    p.add_argument("--metrics", nargs="+", default=None, help="e.g. ndcg@10 mrr@10 (default: all shared)")
    p.add_argument("--stat-test", default="student", choices=["student", "fisher", "tukey"])
    p.add_argument("--max-p", type=float, default=0.05)
    p.add_argument("--out", default=None, help="writes OUT.md and OUT.tex (default: logs/compare/<time>)")

    p = command("sweep", sweep, "W&B sweep files: check one offline, print an agent's command, create the sweep")
    p.add_argument("action", choices=["check", "command", "create"])
    p.add_argument("file", help="a W&B sweep file, e.g. conf/sweep/quickstart.yaml")
    p.add_argument("values", nargs="*", help="command: KEY=VALUE parameters")
    p.add_argument("--config-dir", default="conf", help="the configs train.py reads (default: ./conf)")
    p.add_argument("--project", default=None)
    p.add_argument("--entity", default=None)

    p = command("teach", teach, "a teacher's scores of a folder's training candidates, as a TREC run")
    p.add_argument("--data", required=True, help="a local folder in the irdata format")
    p.add_argument("--teacher", required=True, help="bi-encoder[:PATH], a cross-encoder folder or Hub id, or run:FILE")
    p.add_argument("--out", required=True, help="the TREC run to write")
    p.add_argument("--depth", type=int, default=100, help="first-stage candidates per query (default 100)")

    from crossrank.training.mine import MineSettings

    mined = MineSettings()
    p = command("mine", mine, "hard negatives mined with a teacher, as a TREC run (data.negatives=mined)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--data", help="a local folder in the irdata format")
    where.add_argument("--dataset-id", help="an ir_datasets dataset (e.g. msmarco-passage/train/judged)")
    p.add_argument("--teacher", required=True, help="bi-encoder[:PATH], a cross-encoder folder or Hub id, or run:FILE")
    p.add_argument("--out", required=True, help="the TREC run to write")
    p.add_argument("--depth", type=int, default=mined.depth,
                   help=f"first-stage candidates scored per query (default {mined.depth})")
    p.add_argument("--ranks", default="1:", help="teacher ranks kept, e.g. 10:100 (default 1: all)")
    margins = p.add_mutually_exclusive_group()
    margins.add_argument("--margin", type=float, default=None,
                         help=f"keep negatives scored <= the weakest positive - MARGIN (default {mined.margin})")
    margins.add_argument("--relative-margin", type=float, default=None,
                         help="keep negatives scored <= the weakest positive - R * |positive|")
    p.add_argument("--num-negatives", type=int, default=mined.num_negatives,
                   help=f"kept per query (default {mined.num_negatives})")
    p.add_argument("--sampling", default=mined.sampling, help=f"top (the hardest) or random (seeded) (default "
                   f"{mined.sampling})")
    p.add_argument("--level", type=int, default=mined.level,
                   help=f"judged relevance that makes a positive (default {mined.level})")
    p.add_argument("--seed", type=int, default=mined.seed)
    return top


def hydra_task(task: str, args: list[str]) -> int:
    """``train.py`` / ``evaluate.py`` with the configs of ``--config-dir`` (default ``./conf``)."""
    import hydra
    from omegaconf import DictConfig

    from crossrank.cli.app import run
    from crossrank.cli.errors import one_line_hydra_errors
    from crossrank.cli.resolvers import register_resolvers

    config_dir = Path("conf")
    if "--config-dir" in args:
        i = args.index("--config-dir")
        config_dir, args = Path(args[i + 1]), args[:i] + args[i + 2:]
    if not (config_dir / f"{task}.yaml").is_file():
        print(f"error: --config-dir: {config_dir} has no {task}.yaml (run from the crossrank checkout, or give the "
              "folder of its configs)", file=sys.stderr)
        return 2
    register_resolvers()

    @hydra.main(version_base="1.3", config_path=str(config_dir.resolve()), config_name=task)
    def app(cfg: DictConfig) -> Any:
        return run(task, cfg)

    argv = sys.argv
    sys.argv = [f"crossrank {task}", *args]  # conf/hydra: the job is named for the task (OUT/<task>.log)
    try:
        with one_line_hydra_errors():
            app()
    finally:
        sys.argv = argv
    return 0


def record(args: argparse.Namespace) -> None:
    import json

    from crossrank.tracking.record import record as record_run
    from crossrank.tracking.runs import CV_METRICS

    out = record_run(args.run_dir, args.name, args.into, args.note, args.force)
    print(f"recorded {args.run_dir} in {out}")
    if (out / CV_METRICS).is_file():
        for run_name, values in json.loads((out / CV_METRICS).read_text())["pooled"].items():
            print(f"  pooled {run_name}: " + ", ".join(f"{m} {v:.4f}" for m, v in values.items() if v is not None))
        return
    for set_name, result in json.loads((out / "metrics.json").read_text()).items():
        shown = ", ".join(f"{m} {v:.4f}" for m, v in result["reranked"].items() if v is not None)
        print(f"  {set_name}: reranked {shown}")


def compare(args: argparse.Namespace) -> None:
    from crossrank.evaluation.report import to_markdown
    from crossrank.files import write_text
    from crossrank.tracking.compare import compare as compare_runs

    tables = compare_runs(args.dirs, args.metrics, args.stat_test, args.max_p)
    out = Path(args.out) if args.out else Path("logs") / "compare" / datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    markdown = "\n".join(to_markdown(t["report"].to_dict() | {"max_p": args.max_p}, t["set"], t["notes"])
                         for t in tables)
    write_text(out.with_suffix(".md"), markdown)
    write_text(out.with_suffix(".tex"), "\n".join(t["report"].to_latex() for t in tables))
    for t in tables:
        print(f"\n{t['set']}\n{t['report']}")
    print(f"\nwrote {out.with_suffix('.md')} and {out.with_suffix('.tex')}")


def sweep(args: argparse.Namespace) -> None:
    from crossrank.cli.sweep import agent_command, check, load

    if args.action == "check":
        print("\n".join(check(args.file, args.config_dir)))
    elif args.action == "command":
        print(" ".join(agent_command(load(args.file), dict(v.split("=", 1) for v in args.values))))
    else:
        import os

        import wandb

        check(args.file, args.config_dir)
        project = args.project or os.environ.get("WANDB_PROJECT", "crossrank")
        sweep_id = wandb.sweep(load(args.file), project=project, entity=args.entity)
        print(f"wandb agent {args.entity or wandb.Api().default_entity}/{project}/{sweep_id}")


def teach(args: argparse.Namespace) -> None:
    from crossrank.training.teach import teach as teach_run

    n = teach_run(args.data, args.teacher, args.out, args.depth)
    print(f"wrote {n} teacher scores to {args.out}")


def mine(args: argparse.Namespace) -> None:
    import json

    from crossrank.data.sources import load_source
    from crossrank.training.mine import MineSettings, write_mined
    from crossrank.training.mine import mine as mine_run

    low, _, high = args.ranks.partition(":")
    try:
        ranks = (int(low or 1), int(high) if high else None)
    except ValueError:
        raise ConfigError(f"--ranks: {args.ranks!r} is not FROM:TO (e.g. 10:100)") from None
    margin = MineSettings.margin if args.margin is None and args.relative_margin is None else args.margin
    settings = MineSettings(depth=args.depth, ranks=ranks, margin=margin, relative_margin=args.relative_margin,
                            num_negatives=args.num_negatives, sampling=args.sampling, level=args.level,
                            seed=args.seed)
    source = load_source(kind="local" if args.data else "ir_datasets", path=args.data, dataset_id=args.dataset_id)
    run, summary = mine_run(source, args.teacher, settings)
    write_mined(run, args.out, summary["teacher"])
    print(f"wrote {summary['negatives']} negatives of {summary['queries_with_negatives']} queries to {args.out} "
          f"({summary['dropped_by_margin']} candidates dropped by the margin as likely false negatives)")
    print(json.dumps(summary))


if __name__ == "__main__":
    sys.exit(main())
