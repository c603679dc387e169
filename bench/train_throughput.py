"""Training throughput: crossrank's Lightning training vs sentence-transformers' CrossEncoderTrainer.

    python bench/train_throughput.py [--steps 40] [--device cpu|cuda] [--precision 32|bf16] [--model DIR]

Same model folder (the packaged MiniLM with a fresh 1-logit head unless --model), same pairs (DL19's judged
pairs from ../shared/irdata, grade >= 2 positive; a generated MS MARCO-shaped set when that is absent), same
hyperparameters: batch 16, max length 512 with dynamic padding, AdamW lr 5e-5, linear decay, clipping 1.0,
BCE on the raw logit, seed 42, a fixed number of optimizer steps. crossrank runs as configured by default for
this kind of run (length-grouped batches, --workers DataLoader workers); the peer as its trainer's defaults.
Prints samples/s of each over the steps after the first 10 (setup and warm-up excluded, as in a long run),
their ratio, and both loss curves; the last line is the ratio.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import dl19_train_pairs, generated_pairs, model_folder, save_results  # noqa: E402

warnings.filterwarnings("ignore")


def run_crossrank(model: str, pairs, steps: int, args) -> tuple[float, float, list[float]]:
    import datasets
    import lightning as L

    from crossrank.cli.quiet import quiet_environment, quiet_lightning
    from crossrank.data.datamodule import PairDataModule
    from crossrank.models.scorer import CrossEncoderScorer
    from crossrank.training.losses import BCELoss
    from crossrank.training.module import CrossEncoderModule
    from crossrank.training.optim import schedule

    quiet_environment()
    quiet_lightning()
    L.seed_everything(42, verbose=False)
    scorer = CrossEncoderScorer.from_pretrained(model, max_length=512, num_labels=None)
    dm = PairDataModule(pairs={"seed": 42}, tokenizer=scorer.tokenizer, batch_size=16, max_length=512,
                        length_grouped=args.length_grouped, num_workers=args.workers)
    dm.train_dataset = datasets.Dataset.from_dict({"query": [q for q, _, _ in pairs],
                                                   "passage": [p for _, p, _ in pairs],
                                                   "label": [y for _, _, y in pairs]})
    dm.val_dataset = datasets.Dataset.from_dict({c: [] for c in ("qid", "pid", "query", "passage", "first_stage")})
    module = CrossEncoderModule(scorer, BCELoss(), functools.partial(torch.optim.AdamW, lr=5e-5, fused=args.fused),
                                functools.partial(schedule, name="linear"))
    losses: list[torch.Tensor] = []  # kept on the device: reading each would wait on the GPU every step
    clock = Clock(args)

    class Losses(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            losses.append(outputs["loss"].detach())
            clock.step(trainer.global_step)

    precision = "bf16-mixed" if args.precision == "bf16" else "32-true"
    trainer = L.Trainer(accelerator=args.device, devices=1, max_steps=steps, gradient_clip_val=1.0,
                        precision=precision, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0, num_sanity_val_steps=0, callbacks=[Losses()])
    start = time.perf_counter()
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if args.device == "cuda" else [])
        with profile(activities=activities) as prof:
            trainer.fit(module, datamodule=dm)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25, max_name_column_width=60))
    else:
        trainer.fit(module, datamodule=dm)
    clock.stop()
    every = max(1, steps // 8)
    return time.perf_counter() - start, clock.steady(steps), curve([float(x) for x in losses], every)


class Clock:
    """Times the steps after the first ``WARM`` (setup, the first batches and any compiling excluded)."""

    WARM = 10

    def __init__(self, args) -> None:
        self.cuda = args.device == "cuda"
        self.start = self.end = None

    def _now(self) -> float:
        if self.cuda:
            torch.cuda.synchronize()
        return time.perf_counter()

    def step(self, step: int) -> None:
        if step == self.WARM:
            self.start = self._now()

    def stop(self) -> None:
        self.end = self._now()

    def steady(self, steps: int) -> float:
        """Seconds per step after the warm-up."""
        return (self.end - self.start) / (steps - self.WARM)


def run_peer(model: str, pairs, steps: int, args) -> tuple[float, float, list[float]]:
    import datasets
    from sentence_transformers import CrossEncoder
    from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss
    from transformers import TrainerCallback

    torch.manual_seed(42)
    ce = CrossEncoder(model, max_length=512, device=args.device)
    data = datasets.Dataset.from_dict({"query": [q for q, _, _ in pairs], "passage": [p for _, p, _ in pairs],
                                       "label": [y for _, _, y in pairs]})
    losses: list[float] = []
    clock = Clock(args)

    class Losses(TrainerCallback):
        def on_log(self, targs, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                losses.append(float(logs["loss"]))

        def on_step_end(self, targs, state, control, **kwargs):
            clock.step(state.global_step)

    targs = CrossEncoderTrainingArguments(
        output_dir=tempfile.mkdtemp(), per_device_train_batch_size=16, learning_rate=5e-5, max_steps=steps,
        lr_scheduler_type="linear", warmup_steps=0, max_grad_norm=1.0, seed=42, logging_steps=max(1, steps // 8),
        report_to="none",
        save_strategy="no", bf16=args.precision == "bf16", use_cpu=args.device == "cpu", disable_tqdm=True)
    trainer = CrossEncoderTrainer(model=ce, args=targs, train_dataset=data, loss=BinaryCrossEntropyLoss(ce),
                                  callbacks=[Losses()])
    start = time.perf_counter()
    trainer.train()
    clock.stop()
    return time.perf_counter() - start, clock.steady(steps), losses  # logged as the mean of each steps // 8


def curve(losses: list[float], every: int) -> list[float]:
    return [statistics.fmean(losses[i: i + every]) for i in range(0, len(losses), every)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=1, help="alternate the peers this many times (best kept)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--precision", default="32", choices=["32", "bf16"])
    ap.add_argument("--model", default=None)
    ap.add_argument("--workers", type=int, default=None,
                    help="crossrank's DataLoader workers (default: its own, 4 on a GPU, none on a CPU)")
    ap.add_argument("--profile", action="store_true", help="print where crossrank's training steps spend time")
    ap.add_argument("--no-length-grouping", dest="length_grouped", action="store_false")
    ap.add_argument("--no-fused", dest="fused", action="store_false",
                    help="plain AdamW for crossrank (its default, like the peer's, is fused)")
    args = ap.parse_args()
    pairs = dl19_train_pairs()
    source = "DL19 judged pairs" if pairs else "generated MS MARCO-shaped pairs"
    pairs = pairs or generated_pairs(5000)
    model = model_folder(args.model, 512)
    if args.steps <= Clock.WARM:
        ap.error(f"--steps must be more than the {Clock.WARM} warm-up steps")
    best = {"crossrank": float("inf"), "sentence-transformers": float("inf")}
    total: dict[str, float] = {}
    curves: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for name, fn in (("crossrank", run_crossrank), ("sentence-transformers", run_peer)):
            seconds, per_step, losses = fn(model, pairs, args.steps, args)
            if per_step < best[name]:
                best[name], total[name] = per_step, seconds
            curves[name] = losses
    rate = {k: 16 / v for k, v in best.items()}
    print(f"device={args.device} precision={args.precision} steps={args.steps} batch=16 max_length=512 "
          f"pairs={source} threads={torch.get_num_threads()} crossrank: length_grouped={args.length_grouped} "
          f"workers={args.workers} fused_adamw={args.fused}")
    for k, v in rate.items():
        print(f"{k:>22}: {v:8.1f} samples/s over steps {Clock.WARM + 1}-{args.steps} "
              f"({total[k]:.1f} s in all, setup included)")
    every = max(1, args.steps // 8)
    for k, losses in curves.items():
        print(f"{k:>22} loss every {every} steps: " + " ".join(f"{x:.3f}" for x in losses))
    a, b = curves["crossrank"], curves["sentence-transformers"]
    gap = statistics.fmean(abs(x - y) for x, y in zip(a, b))
    print(f"mean |loss difference| of those points: {gap:.3f} (batches differ: crossrank groups by length)")
    print(f"train throughput ratio vs sentence-transformers: {rate['crossrank'] / rate['sentence-transformers']:.2f}x")
    save_results(f"train_throughput-{args.device}-{args.precision}", {
        "steps": args.steps, "timed_steps": f"{Clock.WARM + 1}-{args.steps}", "batch_size": 16, "max_length": 512,
        "pairs": source, "threads": torch.get_num_threads(), "length_grouped": args.length_grouped,
        "fused_adamw": args.fused, "samples_per_second": {k: round(v, 2) for k, v in rate.items()},
        "ratio": round(rate["crossrank"] / rate["sentence-transformers"], 3),
        "seconds_with_setup": {k: round(v, 1) for k, v in total.items()},
        "loss_curve": {k: [round(x, 4) for x in v] for k, v in curves.items()}, "loss_curve_every": every,
        "mean_abs_loss_difference": round(gap, 4)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
