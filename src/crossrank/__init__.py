"""crossrank: train and evaluate cross-encoder rerankers."""

from crossrank.reranker import Reranker

__all__ = ["Reranker"]
__version__ = "0.1.0"
