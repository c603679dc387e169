"""The scorer's attention-kernel choice: carried to inference backends, and on a GPU cuDNN attention stays off
unless asked for (it plans every new batch shape; found on an H100)."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from crossrank.models.backends import apply
from crossrank.models.scorer import CrossEncoderScorer

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (run on a lent device)")


def test_cudnn_attention_is_off_by_default_and_carried_to_backends(tiny_model_dir: Path) -> None:
    scorer = CrossEncoderScorer.from_pretrained(str(tiny_model_dir), num_labels=None)
    assert scorer.cudnn_attention is False
    scorer = CrossEncoderScorer.from_pretrained(str(tiny_model_dir), num_labels=None, cudnn_attention=True)
    assert apply(scorer, "torch-bf16").cudnn_attention is True


def _gpu_model_dir(tmp_path: Path) -> str:
    """A 2-layer BERT with MiniLM's tokenizer, from the packaged model or (on a GPU machine without it)
    ``$CROSSRANK_BENCH_MINILM`` (bench/gpu_prepare.sh)."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    source = os.environ.get("CROSSRANK_BENCH_MINILM")
    if not source:
        from crossrank.models.hub import packaged_minilm

        source = str(packaged_minilm())
    tokenizer = AutoTokenizer.from_pretrained(source)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=256, num_labels=1)
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    return str(tmp_path / "model")


def _attention_kernels(scorer: CrossEncoderScorer, lengths: list[int]) -> set[str]:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof, torch.inference_mode():
        for n in lengths:
            enc = {"input_ids": torch.randint(1000, 2000, (8, n), device="cuda"),
                   "attention_mask": torch.ones(8, n, dtype=torch.long, device="cuda")}
            enc["attention_mask"][:, n // 2:] = 0  # padded pairs: a mask, as in real batches
            with torch.autocast("cuda", dtype=torch.bfloat16):
                scorer(enc)
    return {e.key for e in prof.key_averages() if "attention" in e.key and e.key.startswith("aten::_")}


@cuda
def test_cuda_sdpa_never_uses_cudnn_by_default(tmp_path: Path) -> None:
    folder = _gpu_model_dir(tmp_path)
    scorer = CrossEncoderScorer.from_pretrained(folder, num_labels=None).cuda().eval()
    kernels = _attention_kernels(scorer, [33, 47, 64])
    assert kernels and not any("cudnn" in k for k in kernels), kernels
    queries, passages = [f"q {i}" for i in range(300)], [f"passage {i} " * (1 + i % 40) for i in range(300)]
    ours = scorer.score(queries, passages, batch_size=64)
    scorer.cudnn_attention = True
    theirs = scorer.score(queries, passages, batch_size=64)
    assert np.abs(ours - theirs).max() < 1e-4  # fp32: the same scores whichever kernel ran


@cuda
def test_cuda_bf16_training_with_workers_fused_adamw_and_clipping(tmp_path: Path) -> None:
    """What train.py does on a GPU by default (trainer=gpu: bf16-mixed, fused AdamW, clipping 1.0, spawned
    tokenizing workers): it trains, the loss stays finite and the weights move."""
    import datasets
    import lightning as L

    from crossrank.data.datamodule import PairDataModule
    from crossrank.training.losses import BCELoss
    from crossrank.training.module import CrossEncoderModule

    scorer = CrossEncoderScorer.from_pretrained(_gpu_model_dir(tmp_path), max_length=128)
    before = scorer.model.classifier.weight.detach().clone()
    dm = PairDataModule(pairs={"seed": 0}, tokenizer=scorer.tokenizer, batch_size=16, max_length=128,
                        length_grouped=True, num_workers=2)
    rows = [(f"query {i % 20}", f"passage {i} " * (1 + i % 30), float(i % 7 == 0)) for i in range(400)]
    dm.train_dataset = datasets.Dataset.from_dict({"query": [q for q, _, _ in rows], "passage": [p for _, p, _ in rows],
                                                   "label": [y for _, _, y in rows]})
    dm.val_dataset = datasets.Dataset.from_dict({c: [] for c in ("qid", "pid", "query", "passage", "first_stage")})
    module = CrossEncoderModule(scorer, BCELoss(), functools.partial(torch.optim.AdamW, lr=1e-3, fused=True))
    trainer = L.Trainer(accelerator="cuda", devices=1, max_steps=20, precision="bf16-mixed", gradient_clip_val=1.0,
                        logger=False, enable_checkpointing=False, enable_progress_bar=False, log_every_n_steps=5,
                        limit_val_batches=0, num_sanity_val_steps=0)
    trainer.fit(module, datamodule=dm)
    assert trainer.global_step == 20
    assert module.loss_history and all(np.isfinite(h["loss"]) for h in module.loss_history)
    assert not torch.equal(before, scorer.model.classifier.weight.detach().cpu())


def test_the_tokenizer_digest_is_the_same_before_and_after_the_tokenizer_is_used(tiny_model_dir) -> None:
    """The fast tokenizer keeps the truncation and padding of its last call in its definition: the digest leaves
    them out, so stored scores are reused by the next evaluation (they were all scored again)."""
    from transformers import AutoTokenizer

    from crossrank.models.digest import tokenizer_digest

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    before = tokenizer_digest(tokenizer)
    tokenizer(["a query"], ["a passage"], truncation="only_second", max_length=16, padding=True)
    assert tokenizer_digest(tokenizer) == before
    other = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    other.add_tokens(["zzzyyyxxx"])
    assert tokenizer_digest(other) != before  # another vocabulary: another digest
