"""Evaluate a reranker: python evaluate.py model.name_or_path=MODEL eval=local eval.path=DIR hydra.run.dir=OUT"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from crossrank.tracking import register_resolvers

register_resolvers()


@hydra.main(version_base="1.3", config_path="conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    from crossrank.cli import run_or_exit
    from crossrank.evaluation.run import evaluate

    run_or_exit(evaluate, cfg)


if __name__ == "__main__":
    sys.exit(main())
