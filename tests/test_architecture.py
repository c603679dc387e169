"""The package map of docs/architecture.md, kept true: every import inside src/crossrank (at the top of a module or
inside a function) points down the layers, evaluation never imports training, nothing imports cli, and there is no
import circle."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

#: The layers, lowest first: a module may import its own layer and the ones below.
LAYERS = {"errors": 0, "files": 0, "data": 1, "models": 2, "evaluation": 3, "tracking": 4, "training": 5, "cli": 6}


def modules() -> dict[str, Path]:
    out = {}
    for path in (SRC / "crossrank").rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The crossrank modules ``name`` imports, wherever in the file the import stands."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            targets = [base, *(f"{base}.{a.name}" for a in node.names)]
        found |= {t for t in targets if t in known and t != name}
    return found


def layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 else None


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def test_every_module_sits_in_a_layer() -> None:
    assert [m for m in graph() if m != "crossrank" and m != "crossrank.__main__" and layer(m) is None] == []


def upward_imports() -> list[str]:
    wrong = []
    for module, targets in graph().items():
        for target in targets:
            if module in ("crossrank", "crossrank.__main__"):  # the public API and `python -m crossrank` on top
                continue
            if target == "crossrank" or (layer(target) or 0) > (layer(module) or 0):
                wrong.append(f"{module} -> {target}")
    return sorted(wrong)


def test_imports_point_down_the_layers() -> None:
    assert upward_imports() == []


def test_no_import_circles() -> None:
    g = graph()
    circles, seen, stack, on = [], set(), [], set()

    def visit(u: str) -> None:
        seen.add(u)
        stack.append(u)
        on.add(u)
        for v in sorted(g[u]):
            if v in on:
                circles.append(" -> ".join(stack[stack.index(v):] + [v]))
            elif v not in seen:
                visit(v)
        stack.pop()
        on.discard(u)

    for module in sorted(g):
        if module not in seen:
            visit(module)
    assert circles == []


def test_a_broken_rule_is_caught(tmp_path: Path, monkeypatch) -> None:
    """The checks above can fail: an evaluation module that imports training is reported."""
    fake = tmp_path / "crossrank"
    (fake / "evaluation").mkdir(parents=True)
    (fake / "training").mkdir()
    for p in (fake / "__init__.py", fake / "evaluation" / "__init__.py", fake / "training" / "__init__.py"):
        p.write_text("")
    (fake / "evaluation" / "x.py").write_text("from crossrank.training import y\n")
    (fake / "training" / "y.py").write_text("from crossrank.evaluation import x\n")
    monkeypatch.setattr(__import__(__name__), "SRC", tmp_path)
    assert "crossrank.evaluation.x -> crossrank.training.y" in upward_imports()


def mapped_files() -> set[str]:
    """The modules the package map of docs/architecture.md names, as paths under src/crossrank (a folder entry such
    as ``losses/`` stands for every file in it)."""
    import re

    doc = (SRC.parent / "docs" / "architecture.md").read_text()
    block = doc.split("## The package map", 1)[1].split("```")[1]
    lines = block.split("src/crossrank/", 1)[1].splitlines()[1:]
    named, package = set(), ""
    for line in lines:
        indent = len(line) - len(line.lstrip())
        if indent < 2:
            break  # the end of src/crossrank/
        entry = re.split(r"\s{2,}", line.strip())[0]  # the names, before the description
        if indent == 2 and entry.endswith("/"):
            package = entry
            continue
        named |= {(package if indent > 2 else "") + name for name in re.split(r",\s*", entry)}
    return named


def test_the_package_map_names_every_module() -> None:
    named = mapped_files()
    missing = []
    for path in sorted((SRC / "crossrank").rglob("*.py")):
        rel = path.relative_to(SRC / "crossrank").as_posix()
        if path.name == "__init__.py" and "/" in rel:
            continue  # a package's __init__ goes with its folder
        if rel not in named and not any(rel.startswith(n) for n in named if n.endswith("/")):
            missing.append(rel)
    assert missing == [], f"docs/architecture.md's package map does not name {missing}"
