"""The datamodule through its Hydra configs: data=msmarco on a locally registered ir_datasets dataset,
Arrow caching, validation from held-out queries or another set."""

from __future__ import annotations

from pathlib import Path

import hydra
import pytest
from helpers import compose_cfg
from transformers import AutoTokenizer

from data.test_sources import register_local_ir_dataset


def build(overrides: list[str], out: Path, tokenizer):
    cfg = compose_cfg("train", ["model=tiny", *overrides], out)
    dm = hydra.utils.instantiate(cfg.data, tokenizer=tokenizer)
    dm.build()
    return cfg, dm


def test_msmarco_config_on_registered_dataset(irdata_dir: Path, tmp_path: Path, tiny_model_dir: Path) -> None:
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    dataset_id = register_local_ir_dataset("crossrank-test/msmarco-like", irdata_dir)
    overrides = ["data=msmarco", f"data.dataset_id={dataset_id}", "data.pairs.num_queries=4",
                 "data.pairs.negatives_per_query=2", "data.pairs.min_relevance=2", f"data.cache_dir={tmp_path / 'c'}"]
    cfg, dm = build(overrides, tmp_path, tok)
    assert cfg.data.kind == "ir_datasets"
    info = dm.describe()
    assert info["size"] == 4 * (1 + 2) and info["positives"] == 4
    assert abs(info["label_mean"] - 1 / 3) < 1e-9
    batch = next(iter(dm.train_dataloader()))
    assert batch["labels"].shape[0] == 12 and batch["encoding"]["input_ids"].shape[0] == 12
    # a second build with the same config is read back from the Arrow cache, identical
    cached = list((tmp_path / "c").glob("*/done"))
    assert len(cached) == 1
    _, again = build(overrides, tmp_path, tok)
    assert again.train_dataset.to_dict() == dm.train_dataset.to_dict()


def test_validation_on_another_set(irdata_dir: Path, irdata_norun: Path, tmp_path: Path, tiny_model_dir: Path) -> None:
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    overrides = ["data=local", f"data.path={irdata_dir}", "data.pairs.min_relevance=2", "data.val_depth=3",
                 f"data.val_source={{kind: local, path: '{irdata_norun}', num_queries: 2}}", "data.cache_dir=null"]
    _, dm = build(overrides, tmp_path, tok)
    assert len(dm.val_qrels) == 2 and len(dm.val_dataset) == 6
    assert set(dm.val_dataset["qid"]) == set(dm.val_qrels)
    assert len(set(dm.train_dataset["qid"])) == 6  # no training query held out


@pytest.mark.slow
def test_loader_workers_do_not_deadlock_with_tokenizer_parallelism(tmp_path: Path) -> None:
    """A bug found on a GPU machine: with TOKENIZERS_PARALLELISM=true exported, DataLoader workers forked
    after the tokenizer's threads had run (length grouping tokenizes every pair first) hung for good. Workers
    are spawned now."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "true"}
    proc = subprocess.run([sys.executable, "train.py", "+experiment=quickstart", "model=tiny", "logger=csv",
                           "progress=false", "data.num_workers=1", "data.length_grouped=true", "data.val_source=null",
                           "trainer.max_steps=12", "eval=none", "export=false", f"hydra.run.dir={tmp_path}"],
                          cwd=root, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "run.json").is_file()
