"""Train a cross-encoder reranker: python train.py +experiment=bce_baseline [key=value ...]"""

from __future__ import annotations

from typing import Any

import hydra
from omegaconf import DictConfig

from crossrank.cli.resolvers import register_resolvers

register_resolvers()


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> Any:
    from crossrank.cli.app import run

    return run("train", cfg)


if __name__ == "__main__":
    from crossrank.cli.errors import one_line_hydra_errors

    with one_line_hydra_errors():
        main()
