"""Shared fixtures: an isolated cache, offline W&B, tiny irdata-format folders, the tiny model."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IRDATA = ROOT.parent / "shared" / "irdata"

# Set before any test module imports ir_datasets, which fixes its download folders when it is imported, and the
# Hugging Face libraries, which read their offline switch when they are imported (else a hub id retries for 25 s).
os.environ["IR_DATASETS_HOME"] = tempfile.mkdtemp(prefix="crossrank-ir_datasets-")
os.environ["HF_HUB_OFFLINE"] = "1"
# datasets' own cache in a temporary folder too: the suite never reads a copy a user's machine holds, nor leaves one
os.environ["HF_DATASETS_CACHE"] = tempfile.mkdtemp(prefix="crossrank-hf-datasets-")
atexit.register(shutil.rmtree, os.environ["HF_DATASETS_CACHE"], True)
atexit.register(shutil.rmtree, os.environ["IR_DATASETS_HOME"], True)


#: Test files that share the session's ``multirun`` fixture: one xdist worker runs them all, so it is built once.
MULTIRUN_FILES = {"test_compare.py", "test_loggers.py", "test_record.py"}
#: Test files whose tests are spread over the workers one by one (each builds its own module fixtures).
SPREAD_FILES = {"test_docs.py", "test_resume.py"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``-n``, ``--dist loadgroup``), a file's tests stay on one worker (its module fixtures
    are built once) and the files that use ``multirun`` share one."""
    for item in items:
        name = item.path.name
        group = "multirun" if name in MULTIRUN_FILES else item.nodeid if name in SPREAD_FILES else str(item.path)
        item.add_marker(pytest.mark.xdist_group(group))


def _share_cores() -> None:
    """Each xdist worker (and the trainings it starts) gets its share of the cores, not all of them: two
    workers each running a 2-thread model on 2 cores spend their time waiting on each other."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        threads = str(max(1, (os.cpu_count() or 1) // workers))
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = threads
        import torch

        torch.set_num_threads(int(threads))


@pytest.fixture(scope="session", autouse=True)
def _offline_env(tmp_path_factory: pytest.TempPathFactory) -> None:
    cache = tmp_path_factory.mktemp("crossrank-cache")
    _share_cores()
    os.environ["PROJECT_ROOT"] = str(tmp_path_factory.mktemp("project"))  # Hydra's default run dirs: not the repo
    os.environ["CROSSRANK_CACHE"] = str(cache)
    os.environ["WANDB_MODE"] = "offline"
    os.environ["WANDB_DIR"] = str(cache)
    os.environ["WANDB_SILENT"] = "true"
    os.environ.pop("WANDB_API_KEY", None)
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    from tiny import make_tiny_model

    os.environ["CROSSRANK_TINY_MODEL"] = str(make_tiny_model(cache / "tiny-bert"))  # model=tiny (conf/model/tiny.yaml)


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    return Path(os.environ["CROSSRANK_TINY_MODEL"])


def write_irdata(root: Path, with_run: bool = True) -> Path:
    """A small irdata-format folder: 6 queries, 24 passages, graded qrels and (optionally) a run."""
    root.mkdir(parents=True, exist_ok=True)
    topics = ["solar panels", "coffee beans", "river otters", "jazz piano", "tax returns", "mountain bikes"]
    queries = {f"q{i}": f"how do {t} work" for i, t in enumerate(topics)}
    passages, qrels, run = {}, [], []
    for i, t in enumerate(topics):
        for j in range(4):
            pid = f"p{i}_{j}"
            passages[pid] = (f"{t} explained in detail: {t} work because of physics." if j == 0
                             else f"an unrelated note {j} about {topics[(i + j) % len(topics)]} prices")
            if j < 2:
                qrels.append((f"q{i}", pid, 2 if j == 0 else 0))
        ranked = [f"p{i}_{j}" for j in (1, 0, 2, 3)] + [f"p{(i + 1) % 6}_0"]
        run += [(f"q{i}", pid, r + 1, 10.0 - r) for r, pid in enumerate(ranked)]
    (root / "queries.tsv").write_text("".join(f"{k}\t{v}\n" for k, v in queries.items()))
    (root / "collection.tsv").write_text("".join(f"{k}\t{v}\n" for k, v in passages.items()))
    (root / "qrels.tsv").write_text("".join(f"{q}\t0\t{p}\t{r}\n" for q, p, r in qrels))
    if with_run:
        (root / "run.tsv").write_text("".join(f"{q}\tQ0\t{p}\t{r}\t{s}\tbm25\n" for q, p, r, s in run))
    return root


@pytest.fixture
def irdata_dir(tmp_path: Path) -> Path:
    return write_irdata(tmp_path / "irdata", with_run=True)


@pytest.fixture
def irdata_norun(tmp_path: Path) -> Path:
    return write_irdata(tmp_path / "irdata-norun", with_run=False)


def require_shared(name: str) -> Path:
    path = IRDATA / name
    if not path.is_dir():
        pytest.skip(f"../shared/irdata/{name} is absent: real-data check skipped")
    return path


def tiny_train_args(data: Path, *extra: str) -> list[str]:
    """train.py overrides for a few-second run of the tiny model on an irdata-format folder."""
    return ["model=tiny", "data=local", f"data.path={data}", "data.pairs.min_relevance=2",
            "data.pairs.negatives_per_query=3", "data.batch_size=4", "trainer.max_epochs=1",
            "trainer.log_every_n_steps=1", "logger=default", "progress=false", *extra]


def run_train_py(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "train.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env=env)


@pytest.fixture(scope="session")
def multirun(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-job Hydra multirun of the tiny model (lr 1e-4 and 2e-4), validating on 2 held-out queries,
    evaluating on the fixture folder, uploading the model to its (offline) W&B run."""
    root = tmp_path_factory.mktemp("multirun")
    data = write_irdata(root / "data")
    sweep = root / "sweep"
    proc = run_train_py(["-m", *tiny_train_args(data, "eval=local", f"eval.path={data}", "eval.relevance_level=2",
                                                "data.pairs.val_queries=2", "logger.wandb.log_model=true"),
                         "optimizer.lr=1e-4,2e-4", f"hydra.sweep.dir={sweep}"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return sweep
