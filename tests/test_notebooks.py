"""The notebooks run top to bottom, with their parameter cell pointed at tiny runs the tests made (outputs
are cleared in the repository)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def execute(name: str, parameters: str, cwd: Path) -> list[dict]:
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    cell.source = parameters
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    errors = [o for o in outputs if o.output_type == "error"]
    assert not errors, errors[0].get("evalue")
    return outputs


@pytest.mark.parametrize("name", ["training_curves.ipynb", "per_query_analysis.ipynb"])
def test_notebooks_are_committed_without_outputs(name: str) -> None:
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
    assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells)


def test_training_curves_of_a_multirun(multirun: Path, tmp_path: Path) -> None:
    outputs = execute("training_curves.ipynb", f"RUNS = [{str(multirun)!r}]\nWANDB = None\n"
                      f"METRIC = 'val/ndcg@10'\nFIGURES = {str(tmp_path / 'fig')!r}", tmp_path)
    assert {"curves.png", "validation.png", "sweep.png"} <= {p.name for p in (tmp_path / "fig").iterdir()}
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 3
    html = " ".join(o["data"].get("text/html", "") for o in outputs if o.output_type == "execute_result")
    assert "optimizer.lr" in html and "reranked" in html  # the sweep table and the final table


def test_per_query_analysis_of_a_run(multirun: Path, tmp_path: Path) -> None:
    outputs = execute("per_query_analysis.ipynb", f"RUN = {str(multirun / '0')!r}\nSET = None\n"
                      f"METRIC = 'ndcg@10'\nWORST = 2\nFIGURES = {str(tmp_path / 'fig')!r}", tmp_path)
    text = " ".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "6 queries" in text and "wins" in text
    assert (tmp_path / "fig" / "per_query.png").is_file()


def test_training_curves_wandb_conversion() -> None:
    """The W&B path (online only) turns summary keys back into evaluations, as a local run has them."""
    from crossrank.tracking.analysis import evaluations_from_summary

    got = evaluations_from_summary({"eval/dl/reranked/ndcg@10": 0.7, "eval/dl/first_stage/ndcg@10": 0.5,
                                    "eval/dl/pairs_per_second": 10.0, "val/ndcg@10": 0.6})
    assert got == {"dl": {"reranked": {"ndcg@10": 0.7}, "first_stage": {"ndcg@10": 0.5}}}
