"""Every figure has a source: the benchmark tables of bench/README.md are what bench/summarize.py reads from
bench/results/, every results file says how it was made, and every number of the results tables in README.md and
experiments/README.md is in the record or results file its row links to."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = sorted((ROOT / "bench" / "results").glob("*.json"))


@pytest.mark.parametrize("path", RESULTS, ids=lambda p: p.name)
def test_a_results_file_says_how_it_was_made(path: Path) -> None:
    result = json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"{path.name}: {c}"))
    assert {"benchmark", "date", "command", "git", "machine", "versions", "figures"} <= set(result)
    assert path.name.startswith(result["benchmark"] + "-" + result["date"][:10])


def test_the_benchmark_tables_are_the_results_files() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    import summarize

    readme = (ROOT / "bench" / "README.md").read_text()
    assert summarize.summary() in readme, "bench/README.md is out of date: python bench/summarize.py --write"


def numbers_of(source: Path) -> set[str]:
    """Every number a record or results file holds, as a table would print it (4 decimals, 2 for ratios)."""
    files = [source] if source.suffix == ".json" else [*source.glob("metrics.json"), *source.glob("run.json"),
                                                          *source.glob("cv/*.json")]
    found: set[str] = set()

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            found.update({f"{value:.4f}", f"{value:.2f}", f"{value:.1f}", f"{value:,.1f}", f"{value:,.0f}",
                          f"{int(value + 0.5):,}"})  # whole numbers rounded half up, as tables print them

    for path in files:
        walk(json.loads(path.read_text()))
    folds = [json.loads(f.read_text()) for f in source.glob("fold*/run.json")] if source.is_dir() else []
    if folds:  # a cross-validation's wall time: its folds'
        walk(sum(f["wall_seconds"] for f in folds))
    return found


@pytest.mark.parametrize("doc", ["README.md", "experiments/README.md"])
def test_every_quoted_result_is_in_the_file_its_row_links_to(doc: str) -> None:
    path = ROOT / doc
    checked = 0
    for line in path.read_text().splitlines():
        links = [t for t in re.findall(r"\]\(([^)]+)\)", line) if "experiments/" in t or "results/" in t
                 or (doc.startswith("experiments") and t.endswith("README.md"))]
        if not links or not line.startswith("|"):
            continue
        sources = [(path.parent / link).resolve() for link in links]
        sources = [s.parent if s.name == "README.md" else s for s in sources]
        text = re.sub(r"\[[^]]*\]\([^)]*\)", "", line)
        quoted = re.findall(r"(?<![\w.])(\d+\.\d{2,4})(?![\d])", text)
        quoted += re.findall(r"(?<![\w.,])(\d[\d,]*) s\b", text)  # wall times in seconds
        held = set().union(*(numbers_of(s) for s in sources))
        missing = [q for q in quoted if q not in held]
        assert not missing, f"{doc}: {missing} not in {[str(s.relative_to(ROOT)) for s in sources]}: {line[:120]}"
        checked += len(quoted)
    assert checked > 10
