"""The training-curves notebook runs top to bottom on the recorded run in experiments/."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def test_training_curves_notebook_executes() -> None:
    pytest.importorskip("matplotlib")
    nb = nbformat.read(ROOT / "notebooks" / "training_curves.ipynb", as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the loss / lr figure was drawn
    html = [o["data"].get("text/html", "") for o in outputs if o.output_type == "execute_result"]
    assert any("reranked" in h for h in html)  # the evaluation table of the recorded run
