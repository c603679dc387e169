"""Train a cross-encoder reranker: python train.py +experiment=bce_baseline [key=value ...]"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from crossrank.tracking import register_resolvers

register_resolvers()


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> None:
    from crossrank.cli import run_or_exit
    from crossrank.training import train

    run_or_exit(train, cfg)


if __name__ == "__main__":
    sys.exit(main())
