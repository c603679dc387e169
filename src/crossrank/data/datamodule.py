"""The LightningDataModule: a source -> seeded training pairs (Arrow, cached) and validation candidates."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import datasets
import lightning as L
import torch
from torch.utils.data import DataLoader, Sampler

from crossrank.data.candidates import first_stage
from crossrank.data.collate import PairCollator, length_sorted
from crossrank.data.pairs import TEACHER_IN_SOURCE, PairSpec, check_batching, check_negatives
from crossrank.data.pairsets import PairSets
from crossrank.data.sampling import GroupBatchSampler, PairBatchSampler
from crossrank.data.sources import Source, declared_level, graded_level_warning, load_source
from crossrank.data.trec import Qrels
from crossrank.errors import DataError

log = logging.getLogger(__name__)


class _Batches(Sampler[list[int]]):
    """A fixed list of index batches (validation: length-sorted)."""

    def __init__(self, batches: list[list[int]]) -> None:
        self.batches = batches

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


class PairDataModule(L.LightningDataModule):
    """Training pairs and validation candidates from one source.

    Args:
        kind / path / dataset_id / run_path / name: the source (:func:`crossrank.data.sources.load_source`).
        pairs: :class:`PairSpec` fields (query sampling, positives, negatives, validation split, seed).
        tokenizer: the scorer's tokenizer (the only thing this module knows of the model).
        batch_size / eval_batch_size: pairs per training / validation batch.
        max_length: tokens per (query, passage) pair; the passage is cut first.
        val_depth: first-stage candidates per validation query.
        cache_dir: where built pair sets are saved as Arrow (keyed by source, spec and file stamps).
        val_source: validate on another set instead of held-out training queries: ``{kind, path, dataset_id,
            run_path, num_queries, min_relevance}`` (a seeded sample of its queries judged >= ``min_relevance``,
            default ``pairs.min_relevance``; top ``val_depth`` candidates).
        length_grouped: batches of similar length (less padding; still a random order every epoch).
        group_size: batches of whole query groups, one positive and ``group_size - 1`` negatives each, for
            ranking and distillation losses (``batch_size`` counts pairs and must be a multiple); None:
            pointwise batches (BCE).
        teacher_run: a TREC run whose scores are the teacher's for distillation (``crossrank teach``), or
            ``source``: the source's own run holds them (``data=msmarco_kd``); every training pair must be in it.
        negatives / mined_run: training negatives from the first stage, or (``mined``) from a run that
            ``crossrank mine`` wrote; validation reranks the first stage either way.
        num_workers / pin_memory: DataLoader workers that tokenize; pinned host memory (None: 4 workers and
            pinned memory when training on a GPU, none on a CPU, where the model needs every core).
    """

    def __init__(self, pairs: dict[str, Any], kind: str = "local", path: str | None = None,
                 dataset_id: str | None = None, run_path: str | None = None, name: str = "", tokenizer: Any = None,
                 batch_size: int = 16, eval_batch_size: int = 64, max_length: int = 512,
                 val_depth: int = 100, num_workers: int | None = None, cache_dir: str | None = None,
                 bm25_k1: float = 0.9, bm25_b: float = 0.4, val_source: dict[str, Any] | None = None,
                 length_grouped: bool = False, pin_memory: bool | None = None, group_size: int | None = None,
                 teacher_run: str | None = None, negatives: str = "first_stage", mined_run: str | None = None) -> None:
        super().__init__()
        check_batching(batch_size, group_size, length_grouped)
        check_negatives(negatives, mined_run)
        self.mined_run = str(Path(mined_run).expanduser()) if mined_run else None
        self.group_size = group_size
        self.teacher_run = (teacher_run if teacher_run == TEACHER_IN_SOURCE else
                            str(Path(teacher_run).expanduser()) if teacher_run else None)
        self.source_cfg: dict[str, Any] = {"kind": kind, "path": path, "dataset_id": dataset_id,
                                           "run_path": run_path, "name": name}
        self.spec = PairSpec(**pairs)
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.max_length = max_length
        self.val_depth = val_depth
        self.num_workers = num_workers
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else None
        self.bm25 = dict(bm25_k1=bm25_k1, bm25_b=bm25_b)
        self.val_source_cfg = dict(val_source) if val_source else None
        self.length_grouped = length_grouped
        self.pin_memory = pin_memory
        self._train_lengths: list[int] | None = None
        self.train_dataset: datasets.Dataset | None = None
        self.val_dataset: datasets.Dataset | None = None
        self.val_qrels: Qrels = {}

    # -- building ---------------------------------------------------------------------------
    def source(self) -> Source:
        return load_source(**self.source_cfg)

    def build(self) -> None:
        """Read the source and build (or load from cache) the training and validation sets."""
        if self.train_dataset is not None:
            return
        source = self.source()
        if self.spec.min_relevance is None:  # the folder's dataset.yaml may declare it (TREC DL: 2)
            self.spec = replace(self.spec, min_relevance=declared_level(source))
        graded_level_warning(source.qrels(), self.spec.level, f"data {source.name}", "data.pairs.min_relevance=2")
        builder = PairSets(source, self.spec, self.val_depth, self.bm25, self.val_source_cfg, self.mined_run)
        self.train_dataset, self.val_dataset, self.val_qrels = builder.load_or_build(self.cache_dir)

    def setup(self, stage: str | None = None) -> None:
        self.build()
        if self.teacher_run and self.train_dataset is not None and "teacher" not in self.train_dataset.column_names:
            self.train_dataset = self.train_dataset.add_column("teacher", self.teacher_scores())

    def teacher_scores(self) -> list[float]:
        """The teacher's score of every training pair, from ``teacher_run``."""
        from crossrank.data.trec import read_run

        assert self.train_dataset is not None and self.teacher_run
        pairs = list(zip(self.train_dataset["qid"], self.train_dataset["pid"]))  # the columns read once
        wanted = set(pairs)
        if self.teacher_run == TEACHER_IN_SOURCE:
            source = self.source()
            if not source.has_run():
                raise DataError(f"data.teacher_run: source: {source.name} has no run to take teacher scores from")
            where = f"{source.name}'s run"
            candidates = first_stage(source, {q for q, _ in pairs}, None)
            scores = {(q, p): s for q, items in candidates.items() for p, s in items if (q, p) in wanted}
        else:
            path = Path(self.teacher_run)
            if not path.is_file():
                raise DataError(f"data.teacher_run: {path} does not exist")
            where = str(path)
            scores = {(q, p): s for q, p, s in read_run(path) if (q, p) in wanted}
        for q, p in pairs:
            if (q, p) not in scores:
                raise DataError(f"{where}: no teacher score for training pair qid {q!r} pid {p!r} (score the "
                                "training candidates with crossrank teach)")
        return [scores[pair] for pair in pairs]

    def train_groups(self) -> list[tuple[int, list[int]]]:
        """Per training positive: its row and the rows of its query's negatives (queries with none are left
        out)."""
        assert self.train_dataset is not None
        by_query: dict[str, tuple[list[int], list[int]]] = {}
        for row, (qid, label) in enumerate(zip(self.train_dataset["qid"], self.train_dataset["label"])):
            pos, neg = by_query.setdefault(qid, ([], []))
            (pos if label > 0 else neg).append(row)
        groups = [(p, neg) for pos, neg in by_query.values() if neg for p in pos]
        if not groups:
            raise DataError("data.group_size: no training query has both a positive and a negative")
        return groups

    def has_validation(self) -> bool:
        """True when there are validation candidates and judgments to compute metrics on."""
        return bool(self.val_dataset is not None and len(self.val_dataset) and self.val_qrels)

    # -- loaders ----------------------------------------------------------------------------
    def collator(self) -> PairCollator:
        if self.tokenizer is None:
            raise RuntimeError("PairDataModule needs the scorer's tokenizer before building batches")
        return PairCollator(self.tokenizer, self.max_length, group_size=self.group_size)

    def _loader_options(self) -> dict[str, Any]:
        """Workers tokenize off the training process; pinned memory speeds host-to-GPU copies."""
        on_gpu = self._on_gpu()
        pin = on_gpu if self.pin_memory is None else self.pin_memory
        workers = self.num_workers
        if workers is None:
            workers = min(4, max(0, (os.cpu_count() or 1) - 2)) if on_gpu else 0
        # workers are spawned, not forked: a fork after the tokenizer's threads ran deadlocks when
        # TOKENIZERS_PARALLELISM=true is exported (found on a GPU machine), and forking beside CUDA is unsafe
        return {"collate_fn": self.collator(), "num_workers": workers, "pin_memory": pin,
                "persistent_workers": workers > 0, **({"multiprocessing_context": "spawn"} if workers else {})}

    def _on_gpu(self) -> bool:
        """Whether the attached trainer trains on a CUDA device (any GPU when there is no trainer)."""
        trainer = getattr(self, "trainer", None)
        if trainer is None:
            return torch.cuda.is_available()
        return trainer.strategy.root_device.type == "cuda"

    def train_lengths(self, chunk: int = 8192) -> list[int]:
        """Tokens per training pair after truncation (what length grouping sorts by); tokenized once, in
        chunks (about 10 s per 100k pairs on one core)."""
        assert self.train_dataset is not None
        if self._train_lengths is None:
            tokenizer = self.collator().tokenizer
            lengths: list[int] = []
            for start in range(0, len(self.train_dataset), chunk):
                part = self.train_dataset[start: start + chunk]
                enc = tokenizer(part["query"], part["passage"], truncation="longest_first",
                                max_length=self.max_length)
                lengths += [len(ids) for ids in enc["input_ids"]]
            self._train_lengths = lengths
        return self._train_lengths

    def _rank(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def train_dataloader(self) -> Any:
        """Random batches, or (``length_grouped``) batches of similar length in a random order; a new order
        every epoch, this rank's share under DDP (:class:`PairBatchSampler`). torchdata's ``StatefulDataLoader``:
        Lightning saves its position in every checkpoint, so a run resumed mid-epoch sees the same batches in
        the same order as an uninterrupted one."""
        assert self.train_dataset is not None
        from torchdata.stateful_dataloader import StatefulDataLoader

        rank, world = self._rank()
        if self.group_size:  # whole query groups
            groups = GroupBatchSampler(self.train_groups(), self.group_size, self.batch_size,
                                       generator=torch.Generator().manual_seed(self.spec.seed), rank=rank,
                                       world_size=world)
            return StatefulDataLoader(self.train_dataset, batch_sampler=groups, **self._loader_options())
        sampler = PairBatchSampler(len(self.train_dataset), self.batch_size,
                                   generator=torch.Generator().manual_seed(self.spec.seed),
                                   lengths=self.train_lengths() if self.length_grouped else None,
                                   rank=rank, world_size=world)
        return StatefulDataLoader(self.train_dataset, batch_sampler=sampler, **self._loader_options())

    def val_dataloader(self) -> DataLoader | list:
        if self.val_dataset is None or len(self.val_dataset) == 0:
            return []
        lengths = [len(q) + len(p) for q, p in zip(self.val_dataset["query"], self.val_dataset["passage"])]
        rank, world = self._rank()  # each rank scores its share; the module gathers all before the metrics
        batches = length_sorted(lengths, self.eval_batch_size)[rank::world]
        return DataLoader(self.val_dataset, batch_sampler=_Batches(batches), **self._loader_options())

    def describe(self) -> dict[str, Any]:
        """Size, columns and label statistics of the training set (for the model card)."""
        assert self.train_dataset is not None
        labels = self.train_dataset["label"]
        head = self.train_dataset.select(range(min(1000, len(self.train_dataset))))
        cfg = self.source_cfg
        origin = (f"ir_datasets `{cfg['dataset_id']}`" if cfg["kind"] == "ir_datasets"
                  else f"local folder `{cfg['path']}`")
        return {
            "name": cfg["name"] or (cfg["dataset_id"] or Path(str(cfg["path"])).name), "origin": origin,
            "size": len(self.train_dataset),
            "columns": ["query", "passage", "label"],
            "label_min": min(labels), "label_mean": sum(labels) / len(labels), "label_max": max(labels),
            "positives": int(sum(labels)),
            "query_chars": _stats(len(q) for q in head["query"]),
            "passage_chars": _stats(len(p) for p in head["passage"]),
            "val_queries": len(self.val_qrels),
            "val_pairs": len(self.val_dataset) if self.val_dataset is not None else 0,
        }


def _stats(values) -> dict[str, float]:
    v = list(values)
    return {"min": min(v), "mean": round(sum(v) / len(v), 2), "max": max(v)} if v else {}
