"""``+experiment=distill_baseline`` at MS MARCO's size: from an empty cache to the first training step, then again
on the same cache, on the generated stand-in (bench/msmarco_standin.py: 8.8M passages, 502,939 judged training
queries, 39.8M teacher triples in the file's own format, in ir_datasets' cache layout, so the real path runs).

    python bench/msmarco_standin.py --home DIR      # once
    python bench/distill_scale.py --home DIR

Each run is ``train.py`` in its own process with one training step (``trainer.max_steps=1``), the packaged MiniLM
(offline) on the CPU, validation built but not run; its wall time and the peak resident memory of the whole process
tree (sampled every 0.2 s from /proc, and the kernel's peak for the main process) are recorded. The first run starts
from nothing built: no crossrank cache, no converted teacher file, no ir_datasets docs store. Targets (issue [M]):
fresh <= 20 minutes and 8 GB, cached <= 5 minutes and 6 GB.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"fresh": {"minutes": 20, "peak_gb": 8}, "cached": {"minutes": 5, "peak_gb": 6}}


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        with contextlib.suppress(OSError, IndexError, ValueError):  # a process that ended meanwhile
            total += int((Path("/proc") / str(p) / "statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        todo += children.get(p, [])
    return total


def run(args: list[str], env: dict[str, str], log: Path) -> dict:
    """``train.py args`` with its wall time, the peak of its process tree's resident memory and the kernel's peak."""
    start = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "train.py", *args], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
        peak = [0]

        def sample() -> None:
            while proc.poll() is None:
                peak[0] = max(peak[0], tree_rss(proc.pid))
                time.sleep(0.2)

        watcher = threading.Thread(target=sample, daemon=True)
        watcher.start()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        watcher.join()
    seconds = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"train.py failed ({proc.returncode}); see {log}")
    return {"seconds": round(seconds, 1), "minutes": round(seconds / 60, 2),
            "peak_tree_gb": round(peak[0] / 2**30, 2), "peak_main_gb": round(usage.ru_maxrss / 2**20, 2)}


def fresh_start(home: Path) -> None:
    """Remove what an earlier run built from the stand-in: the converted teacher file and ir_datasets' docs store."""
    kd = home / "msmarco-passage" / "train" / "kd-docpairs"
    for name in ("teacher.run", "positives.qrels", "converted-from.json"):
        (kd / name).unlink(missing_ok=True)
    shutil.rmtree(home / "msmarco-passage" / "collection.tsv.pklz4", ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", required=True, help="IR_DATASETS_HOME holding the stand-in (bench/msmarco_standin.py)")
    ap.add_argument("--keep-logs", default=None, help="a folder for the two runs' logs (default: a temporary one)")
    args = ap.parse_args()
    from common import save_results

    home = Path(args.home).resolve()
    work = Path(tempfile.mkdtemp(prefix="distill-scale-"))
    logs = Path(args.keep_logs) if args.keep_logs else work
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "IR_DATASETS_HOME": str(home), "CROSSRANK_CACHE": str(work / "cache"),
           "HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled"}
    overrides = ["+experiment=distill_baseline", "model=minilm_packaged", "trainer=cpu", "trainer.precision=32-true",
                 "trainer.max_steps=1", "trainer.limit_val_batches=0", "eval=none", "extra_eval=[]", "export=false",
                 "logger=csv", "progress=false"]
    fresh_start(home)
    figures = {}
    for name in ("fresh", "cached"):
        figures[name] = run([*overrides, f"hydra.run.dir={work / name}"], env, logs / f"{name}.log")
        figures[name]["within_targets"] = (figures[name]["minutes"] <= TARGETS[name]["minutes"]
                                           and figures[name]["peak_tree_gb"] <= TARGETS[name]["peak_gb"])
        print(f"{name:<7} {figures[name]}", flush=True)
    lines = (logs / "fresh.log").read_text().splitlines()
    figures["pairs"] = next((line.split("INFO: ", 1)[-1] for line in lines if "training pairs" in line), "")
    figures["targets"] = TARGETS
    save_results("distill_scale", figures, note="bench/msmarco_standin.py at full size, read through ir_datasets' "
                                                "msmarco-passage loaders; train.py +experiment=distill_baseline to "
                                                "its first step on 2 CPU cores")
    shutil.rmtree(work / "cache", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
