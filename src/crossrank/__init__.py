"""crossrank: train and evaluate cross-encoder rerankers.

``from crossrank import Reranker`` is the public API. The package imports nothing heavy until it is
used, so the entry points can check a config in well under a second.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["Reranker"]

if TYPE_CHECKING:
    from crossrank.models.reranker import Reranker


def __getattr__(name: str) -> Any:
    if name == "Reranker":
        from crossrank.models.reranker import Reranker

        return Reranker
    raise AttributeError(f"module 'crossrank' has no attribute {name!r}")
