"""Documents that cannot lie: every command shown in README.md and docs/ runs as written, in a tiny
configuration (the test model, a few steps, a small data folder) when it works offline; a command that needs the
internet or a GPU at least composes (``--cfg job``) or answers ``--help``; the README's test command is CI's; every
relative link resolves."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINKED = [*DOCS, ROOT / "bench" / "README.md", ROOT / "experiments" / "README.md"]

#: A command with one of these needs the internet (a Hub model, an ir_datasets download) or a GPU: it is composed
#: (--cfg job), not run.
ONLINE = ("bce_baseline", "distill_baseline", "eval=nanobeir", "+experiment=scifact ", "eval=trec_dl_",
          "eval=msmarco_dev_small", "eval=scifact_test", "data=msmarco", "hydra/launcher=slurm", "trainer=gpu",
          "trainer=ddp", "cross-encoder/")
#: What makes a train.py run tiny: the test suite's model, two steps, no W&B.
TINY_TRAIN = ["model=tiny", "trainer.max_steps=2", "logger=csv", "progress=false"]
PLACEHOLDERS = ("TRAIN_DIR", "EVAL_DIR", "DIR", "OUT", "SWEEP", "RECORDS", "NAME")


def commands(path: Path) -> list[str]:
    """The commands of a document's ```bash blocks: continuation lines joined, comments and blanks dropped."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", path.read_text(encoding="utf-8"), re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#\s.*$", "", line).strip()
            if line and not line.startswith("#"):
                found.append(line)
    return found


def test_every_document_shows_commands_the_runner_knows() -> None:
    for doc in DOCS:
        for command in commands(doc):
            for part in command.split(" && "):
                assert kind(part) != "unknown", f"{doc.name}: {part}"


def kind(part: str) -> str:
    """How the suite checks one command: run it, compose it, ask for --help, or check what it installs."""
    words = part.split()
    if part.startswith(("python3 -m venv", ". .venv/bin/activate")):
        return "setup"
    if words[:2] == ["pip", "install"]:
        return "install"
    if part in ("python -m mypy", "python -m pytest -q"):
        return "ci"
    if words[:2] in (["python", "train.py"], ["python", "evaluate.py"]):
        return "compose" if any(m in part + " " for m in ONLINE) or "--cfg" in words else "hydra"
    if words[0] == "crossrank":
        return "help" if words[1:3] == ["sweep", "create"] else "crossrank"
    if words[0] in ("wandb",):
        return "help"
    if words[0] == "papermill":
        return "papermill"
    return "unknown"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> dict[str, str]:
    """A data folder and a trained tiny run (OUT) that the commands name; SWEEP and RECORDS start empty."""
    from conftest import write_irdata

    from crossrank.cli.main import main

    root = tmp_path_factory.mktemp("docs")
    data = write_irdata(root / "data")
    out = root / "out"
    assert main(["train", *TINY_TRAIN, "data=local", f"data.path={data}", "eval=local", f"eval.path={data}",
                 "eval.relevance_level=2", "data.pairs.val_queries=2", f"hydra.run.dir={out}",
                 "--config-dir", str(ROOT / "conf")]) == 0
    return {"TRAIN_DIR": str(data), "EVAL_DIR": str(data), "DIR": str(data), "OUT": str(out),
            "SWEEP": str(root / "sweep"), "RECORDS": str(root / "records"), "NAME": "docs_record"}


def substitute(part: str, places: dict[str, str]) -> list[str]:
    pattern = re.compile(r"(?<![\w.])(" + "|".join(PLACEHOLDERS) + r")(?![\w])")
    return [pattern.sub(lambda m: places[m.group(1)], word) for word in shlex.split(part)]


def hydra(words: list[str]) -> list[str]:
    """A train.py / evaluate.py command as crossrank's own command, in the tiny configuration."""
    task = words[1].removesuffix(".py")
    args = words[2:]
    if task == "train":
        args += TINY_TRAIN + ["data.pairs.val_queries=2"] * ("local_cpu" in " ".join(args))
        if "quickstart_optuna" in " ".join(args):
            args.append("hydra.sweeper.n_trials=1")
    else:
        args.append("progress=false")
    return [task, *args]


def check(part: str, places: dict[str, str], tmp: Path) -> None:
    from crossrank.cli.main import main

    words = substitute(part, places)
    how = kind(part)
    if how == "setup":
        return
    if how == "install":
        extras = re.findall(r"\[(\w+)\]", part)
        declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
        assert all(e in declared for e in extras), part
    elif how == "ci":
        assert part in (ROOT / ".ci" / "run").read_text(), f"{part}: not what CI runs"
    elif how == "compose":  # a multirun composes as its jobs do (Hydra takes -m or --cfg, not both)
        run([sys.executable, *[w for w in words[1:] if w != "-m"], *([] if "--cfg" in words else ["--cfg", "job"])])
    elif how == "hydra" and "hydra/launcher=submitit_local" in words:  # jobs in other processes: as written
        run([sys.executable, *words[1:], *hydra(words)[len(words) - 1:]])
    elif how == "hydra":
        assert main([*hydra(words), "--config-dir", str(ROOT / "conf")]) == 0, part
    elif how == "crossrank":
        assert main(words[1:]) == 0, part
    elif how == "help":
        run([str(Path(sys.executable).parent / "wandb"), words[1], "--help"] if words[0] == "wandb"
            else [sys.executable, "-m", "crossrank", *words[1:3], "--help"])
    elif how == "papermill":
        run([str(Path(sys.executable).parent / "papermill"), *words[1:]])
        output = Path(words[2])
        assert output.is_file() and '"output_type": "error"' not in output.read_text()
        figures = [w.split(":", 1)[1].strip() for w in words if w.startswith("FIGURES:")]
        assert not figures or list(Path(figures[0]).glob("*.png")), f"{part}: no figure written"


def run(argv: list[str]) -> None:
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{shlex.join(argv)}\n{proc.stderr[-3000:]}"


@pytest.mark.slow
@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_command_of_a_document_runs(doc: Path, sandbox: dict[str, str], tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    places = dict(sandbox)
    own = tmp_path / "sandbox"  # each document its own copy of the trained run and empty sweep/record folders
    shutil.copytree(sandbox["OUT"], own / "out")
    places.update(OUT=str(own / "out"), SWEEP=str(own / "sweep"), RECORDS=str(own / "records"))
    monkeypatch.chdir(ROOT)  # the commands run from the repository's root, as a user types them
    for command in commands(doc):
        for part in command.split(" && "):
            check(part, places, tmp_path)


def test_the_readme_test_command_is_what_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.startswith("python3 -m venv")]
    assert len(ci) == 1 and f"```bash\n{ci[0]}\n```" in readme


@pytest.mark.parametrize("doc", LINKED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)]+)\)", text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        resolved = (doc.parent / path).resolve() if path else doc
        assert resolved.exists(), f"{doc.name}: {target}"
        if anchor and resolved.suffix == ".md":
            headings = [re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-")
                        for h in re.findall(r"^#+ (.+)$", resolved.read_text(encoding="utf-8"), re.M)]
            assert anchor in headings, f"{doc.name}: {target} (headings: {headings})"


def test_the_quickstart_output_in_the_readme_is_its_record() -> None:
    import json

    readme = (ROOT / "README.md").read_text()
    block = readme.split("The quickstart ends", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    record = json.loads((ROOT / "experiments" / "quickstart" / "metrics.json").read_text())
    name = block.split(" (", 1)[0]
    shown = {line.split()[0]: [float(v) for v in line.split()[1:]] for line in block.splitlines()
             if line.startswith(("first_stage", "reranked"))}
    header = next(line.split()[1:] for line in block.splitlines() if line.startswith("run "))
    assert shown and all(shown[run] == [round(record[name][run][m], 4) for m in header] for run in shown)


def test_the_readme_python_api_runs(tiny_model_dir: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    code = readme.split("## Python API", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, object] = {}
    exec(code.replace('"OUT/model"', repr(str(tiny_model_dir))), namespace)  # noqa: S102 (the README's own code)
    reranker = namespace["reranker"]
    assert len(reranker.predict([("query", "passage"), ("query", "another passage")])) == 2  # type: ignore[attr-defined]
    assert len(reranker.rank("query", ["passage a", "passage b"], top_k=1)) == 1  # type: ignore[attr-defined]
