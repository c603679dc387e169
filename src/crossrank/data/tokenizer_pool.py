"""Tokenizing pairs in worker processes, for a GPU that scores faster than one process can tokenize.

A fast (Rust) tokenizer turns about 8,000 MS MARCO pairs a second into Python lists on one core, whatever its
thread count: the lists are built under the GIL. A GPU scores MiniLM-L6 ten times faster than that, so scoring
on a GPU splits each chunk of pairs across worker processes, which send back :class:`PackedPairs` (flat NumPy
arrays, cheap to pickle). The workers are started once (``spawn``: safe beside CUDA) and kept for the process.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import BrokenExecutor, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from typing import Any

from crossrank.data.collate import PackedPairs, tokenize_packed

log = logging.getLogger(__name__)
_worker_state: dict[str, Any] = {}
_pools: dict[tuple[int, int, int], TokenizerPool] = {}


def default_workers(device_type: str, pairs: int) -> int:
    """Worker processes for scoring ``pairs`` on ``device_type``: none on a CPU (the model needs its cores)
    or for small jobs; on a GPU all cores but two, at most 16."""
    if device_type != "cuda" or pairs < 4096:
        return 0
    return max(0, min(16, (os.cpu_count() or 1) - 2))


def _init_worker(tokenizer_dir: str, max_length: int) -> None:
    os.environ["TOKENIZERS_PARALLELISM"] = "false"  # one core per worker
    from transformers import AutoTokenizer

    _worker_state["tokenizer"], _worker_state["max_length"] = AutoTokenizer.from_pretrained(tokenizer_dir), max_length


def _tokenize_in_worker(queries: Sequence[str], passages: Sequence[str]) -> PackedPairs:
    return tokenize_packed(_worker_state["tokenizer"], queries, passages, _worker_state["max_length"])


class TokenizerPool:
    """``workers`` processes that tokenize (query, passage) pairs as :func:`tokenize_packed` does.

    Workers that do not answer within ``timeout`` seconds (a machine that cannot start them) are given up: the
    pool then tokenizes in this process, with one warning, rather than hang a scoring job."""

    def __init__(self, tokenizer: Any, max_length: int, workers: int, timeout: float = 120.0) -> None:
        self.workers = workers
        self.tokenizer, self.max_length, self.timeout = tokenizer, max_length, timeout
        # the workers load the tokenizer from a folder: pickled (850 kB for MiniLM's) it fills the pipe a spawned
        # process reads only after importing, so each start would wait for the one before (14 starts took over
        # a minute on a 16-core GPU machine; a folder name lets them start together)
        self._folder = tempfile.TemporaryDirectory(prefix="crossrank-tokenizer-")
        tokenizer.save_pretrained(self._folder.name)
        self.executor: ProcessPoolExecutor | None = ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker,
            initargs=(self._folder.name, max_length))

    def tokenize(self, queries: Sequence[str], passages: Sequence[str]) -> PackedPairs:
        """The pairs tokenized, split evenly across the workers; the same arrays one process would build."""
        if self.executor is None:
            return tokenize_packed(self.tokenizer, queries, passages, self.max_length)
        step = max(256, -(-len(queries) // self.workers))
        futures = [self.executor.submit(_tokenize_in_worker, list(queries[i: i + step]), list(passages[i: i + step]))
                   for i in range(0, len(queries), step)]
        try:
            return PackedPairs.concat([f.result(timeout=self.timeout) for f in futures])
        except (FuturesTimeout, BrokenExecutor) as e:
            log.warning("tokenizer workers gave no answer in %.0f s (%s); tokenizing in this process instead",
                        self.timeout, type(e).__name__)
            self.close(wait=False)
            return tokenize_packed(self.tokenizer, queries, passages, self.max_length)

    def close(self, wait: bool = True) -> None:
        """Stop the workers; ``wait=False`` kills them (they did not answer). Then nothing may wait on them at
        exit: the queue feeding them can be blocked on a pipe that no one reads any more, and joining its
        thread hung the interpreter's exit (found in a test run)."""
        if self.executor is None:
            return
        if not wait:
            call_queue = getattr(self.executor, "_call_queue", None)
            if call_queue is not None:
                call_queue.cancel_join_thread()
            for process in list((getattr(self.executor, "_processes", None) or {}).values()):
                process.kill()
        self.executor.shutdown(wait=wait, cancel_futures=True)
        self.executor = None
        self._folder.cleanup()


def shared_pool(tokenizer: Any, max_length: int, workers: int) -> TokenizerPool:
    """One pool per tokenizer, length and size, kept for the life of the process (workers start in seconds;
    evaluation scores several sets with one model)."""
    key = (id(tokenizer), max_length, workers)
    if key not in _pools:
        _pools[key] = TokenizerPool(tokenizer, max_length, workers)
    return _pools[key]
