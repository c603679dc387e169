"""The notebooks: committed without outputs, with a parameter cell (tests/test_docs.py runs them with papermill,
as the docs show, on tiny runs the tests make)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["training_curves.ipynb", "per_query_analysis.ipynb"])
def test_notebooks_are_committed_without_outputs(name: str) -> None:
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
    assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells)


def test_training_curves_wandb_conversion() -> None:
    """The W&B path (online only) turns summary keys back into evaluations, as a local run has them."""
    from crossrank.tracking.analysis import evaluations_from_summary

    got = evaluations_from_summary({"eval/dl/reranked/ndcg@10": 0.7, "eval/dl/first_stage/ndcg@10": 0.5,
                                    "eval/dl/pairs_per_second": 10.0, "val/ndcg@10": 0.6})
    assert got == {"dl": {"reranked": {"ndcg@10": 0.7}, "first_stage": {"ndcg@10": 0.5}}}
