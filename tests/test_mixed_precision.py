"""Losses in float32 under mixed precision: bf16-mixed hands the losses bf16 logits (8 bits of mantissa); every
loss is computed from float32 logits and teacher scores outside autocast, so it equals its float32 value on the
same logits, and a teacher margin of 13.7 is not rounded to bf16's 0.0625 grid. A few steps of real bf16-mixed
training on the CPU check that the losses see float32 inputs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from crossrank.training.losses import registry

GROUP = 4


def module_with(loss_name: str, scorer):
    import hydra
    from helpers import compose_cfg

    from crossrank.training.module import CrossEncoderModule

    loss = hydra.utils.instantiate(compose_cfg("train", [f"loss={loss_name}"]).loss)
    return CrossEncoderModule(scorer=scorer, loss=loss, optimizer=torch.optim.AdamW)


@pytest.mark.parametrize("name", sorted(info.name for info in registry.LOSSES.values()))
def test_each_loss_equals_its_float32_value_on_bf16_logits(name: str, tiny_model_dir: Path) -> None:
    from crossrank.models.scorer import CrossEncoderScorer

    module = module_with(name, CrossEncoderScorer.from_pretrained(str(tiny_model_dir)))
    info = module.loss_info
    torch.manual_seed(0)
    logits = (torch.randn(4 * GROUP) * 3).to(torch.bfloat16)  # what autocast gives the loss
    labels = torch.tensor(([2.0, 1.0, 0.0, 0.0] if name == "lambdaloss" else [1.0, 0.0, 0.0, 0.0]) * 4)
    teacher = torch.tensor([13.712345, -0.03125, 2.5, 7.25] * 4, dtype=torch.float32)
    batch = {"labels": labels, "teacher": teacher if info.teacher else None,
             "group_size": GROUP if info.groups else None}
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = module.compute_loss(logits, batch)
    assert got.dtype == torch.float32
    x, t = logits.float(), teacher
    if info.groups:
        x, y, t = x.view(-1, GROUP), labels.view(-1, GROUP), t.view(-1, GROUP)
    else:
        y = labels
    want = module.loss(x, y, t) if info.teacher else module.loss(x, y)
    assert got.item() == pytest.approx(want.item(), rel=1e-6, abs=1e-7)


def test_teacher_margins_keep_full_precision(tiny_model_dir: Path) -> None:
    from crossrank.models.scorer import CrossEncoderScorer

    module = module_with("margin_mse", CrossEncoderScorer.from_pretrained(str(tiny_model_dir)))
    logits = torch.zeros(2, dtype=torch.bfloat16)
    batch = {"labels": torch.tensor([1.0, 0.0]), "teacher": torch.tensor([13.712345, 0.0]), "group_size": 2}
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = module.compute_loss(logits, batch)
    assert loss.item() == pytest.approx(13.712345 ** 2, rel=1e-6)  # the margin as given, squared
    rounded = float(torch.tensor(13.712345).to(torch.bfloat16))  # 13.6875: what a bf16 margin would be
    assert abs(loss.item() - rounded ** 2) > 0.5


@pytest.mark.slow
def test_bf16_mixed_training_hands_the_losses_float32(tmp_path: Path) -> None:
    from helpers import compose_cfg
    from kd_standin import write_triples

    from crossrank.training.run import build

    base = "nano-beir/msmarco"
    write_triples(base)
    for loss in ("margin_mse", "listmle"):
        cfg = compose_cfg("train", ["+experiment=distill_baseline", "model=tiny", f"data.dataset_id={base}/kd-docpairs",
                                    f"loss={loss}", "data.group_size=4", "data.batch_size=8", "trainer=cpu",
                                    "trainer.precision=bf16-mixed", "trainer.max_steps=3", "data.pairs.val_queries=0",
                                    "trainer.val_check_interval=null", "eval=none", "extra_eval=[]", "logger=csv",
                                    "progress=false", "scheduler.warmup_steps=0", "export=false"], tmp_path / loss)
        run = build(cfg)
        seen: list[tuple[torch.dtype, ...]] = []

        def record(module, args, out, seen=seen) -> None:
            seen.append(tuple(a.dtype for a in args))

        run.module.loss.register_forward_hook(record)
        run.trainer.fit(run.module, datamodule=run.datamodule)
        assert seen and all(set(d) == {torch.float32} for d in seen), seen
