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
import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from crossrank.data.bm25 import BM25Settings
from crossrank.data.candidates import FirstStage
from crossrank.data.collate import PairCollator, length_sorted
from crossrank.data.pairs import TEACHER_IN_SOURCE, PairSpec, check_batching, check_negatives, check_teacher
from crossrank.data.pairsets import PairSets
from crossrank.data.sampling import GroupBatchSampler, Groups, PairBatchSampler, check_epoch
from crossrank.data.sources import Source, declared_level, load_source
from crossrank.data.texts import PairTexts
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
        kind / path / dataset_id / run_path / name / hf: the source (:func:`crossrank.data.sources.load_source`).
        pairs: :class:`PairSpec` fields (query sampling, positives, negatives, validation split, seed).
        tokenizer: the scorer's tokenizer (the only thing this module knows of the model).
        batch_size / eval_batch_size: pairs per training / validation batch.
        max_length: tokens per (query, passage) pair; the passage is cut first.
        val_depth: first-stage candidates per validation query.
        bm25_k1 / bm25_b / first_stage / bm25_cache: how the first stage is made (``auto``, ``run``, ``bm25``:
            :mod:`crossrank.data.candidates`) and where BM25 indexes are kept.
        cache_dir: where built pair sets are saved as Arrow (keyed by source, spec and file stamps).
        val_source: validate on another set instead of held-out training queries: ``{kind, path, dataset_id,
            run_path, num_queries, min_relevance}`` (a seeded sample of its queries judged >= ``min_relevance``,
            default ``pairs.min_relevance``; top ``val_depth`` candidates).
        length_grouped: batches of similar length (less padding; still a random order every epoch).
        group_size: batches of whole query groups, one positive and ``group_size - 1`` negatives each, for
            ranking and distillation losses (``batch_size`` counts pairs and must be a multiple); None:
            pointwise batches (BCE).
        epoch: with query groups, what an epoch is: ``positives`` (each positive once, negatives drawn afresh) or
            ``negatives`` (each negative once: with groups of two, one pass over every teacher triple).
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
                 bm25_k1: float = BM25Settings.k1, bm25_b: float = BM25Settings.b, first_stage: str = "auto",
                 bm25_cache: str | None = None, val_source: dict[str, Any] | None = None,
                 length_grouped: bool = False, pin_memory: bool | None = None, group_size: int | None = None,
                 teacher_run: str | None = None, negatives: str = "first_stage", mined_run: str | None = None,
                 hf: dict[str, Any] | None = None, epoch: str = "positives") -> None:
        super().__init__()
        check_batching(batch_size, group_size, length_grouped)
        self.epoch = check_epoch(epoch, group_size)
        check_negatives(negatives, mined_run)
        check_teacher(teacher_run, negatives, first_stage)
        self.mined_run = str(Path(mined_run).expanduser()) if mined_run else None
        self.group_size = group_size
        self.teacher_run = (teacher_run if teacher_run == TEACHER_IN_SOURCE else
                            str(Path(teacher_run).expanduser()) if teacher_run else None)
        self.source_cfg: dict[str, Any] = {"kind": kind, "path": path, "dataset_id": dataset_id,
                                           "run_path": run_path, "name": name, "hf": dict(hf) if hf else None}
        self.spec = PairSpec(**pairs)
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.max_length = max_length
        self.val_depth = val_depth
        self.num_workers = num_workers
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else None
        self.how = FirstStage(first_stage, BM25Settings(bm25_k1, bm25_b),
                              Path(bm25_cache).expanduser() if bm25_cache else None, "data.first_stage")
        self.val_source_cfg = dict(val_source) if val_source else None
        self.length_grouped = length_grouped
        self.pin_memory = pin_memory
        self._train_lengths: list[int] | None = None
        self.train_dataset: datasets.Dataset | None = None
        self.val_dataset: datasets.Dataset | None = None
        self.val_qrels: Qrels = {}
        self._source: Source | None = None
        self.val_level = 1  # the relevance level of the validation judgments (set by build)
        self.about: str | None = None  # what the source says of the rows it read (set by build)

    # -- building ---------------------------------------------------------------------------
    def source(self) -> Source:
        """The training source, built once."""
        if self._source is None:
            self._source = load_source(**self.source_cfg)
        return self._source

    def build(self) -> None:
        """Read the source and build (or load from cache) the training and validation sets."""
        if self.train_dataset is not None:
            return
        source = self.source()
        if self.spec.min_relevance is None:  # the folder's dataset.yaml may declare it (TREC DL: 2)
            self.spec = replace(self.spec, min_relevance=declared_level(source))
        builder = PairSets(source, self.spec, self.val_depth, self.how, self.val_source_cfg, self.mined_run,
                           self.teacher_run)
        self.val_level = builder.val_level
        self.train_dataset, self.val_dataset, self.val_qrels = builder.load_or_build(self.cache_dir)
        self.about = builder.about

    def setup(self, stage: str | None = None) -> None:
        self.build()

    def train_examples(self) -> Any:
        """What the training loader draws from: the pair set's rows with their texts fetched a batch at a time
        (:class:`~crossrank.data.texts.PairTexts`), or the set itself when it holds its texts."""
        assert self.train_dataset is not None
        if {"query", "passage"} <= set(self.train_dataset.column_names):
            return self.train_dataset
        texts = PairTexts(self.train_dataset, self.source_cfg)
        texts._source = self.source()  # this process's, already open; a worker opens its own
        return texts

    def train_groups(self) -> Groups:
        """Per training positive: its row and its query; per query, its negative rows (queries without a negative
        have no group). In arrays: MS MARCO's teacher file gives 40M rows."""
        assert self.train_dataset is not None
        import pyarrow.compute as pc

        table = self.train_dataset.data.table
        codes = pc.dictionary_encode(table.column("qid")).combine_chunks().indices.to_numpy(zero_copy_only=False)
        positive = pc.greater(table.column("label"), 0).to_numpy(zero_copy_only=False)
        count = int(codes.max()) + 1 if len(codes) else 0
        negatives = np.flatnonzero(~positive).astype(np.int32)
        neg_codes = codes[negatives]
        offsets = np.r_[0, np.cumsum(np.bincount(neg_codes, minlength=count))].astype(np.int64)
        negatives = negatives[np.argsort(neg_codes, kind="stable")]  # each query's negatives, in row order
        del neg_codes
        has_negative = np.diff(offsets) > 0
        rows = np.flatnonzero(positive)
        rows = rows[has_negative[codes[rows]]]
        # groups in the order their queries first appear (dictionary_encode numbers them so), positives in row order
        rows = rows[np.lexsort((rows, codes[rows]))]
        if not len(rows):
            raise DataError("data.group_size: no training query has both a positive and a negative")
        return Groups(rows.astype(np.int64), codes[rows].astype(np.int64), offsets, negatives)

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
            examples = self.train_examples()
            for start in range(0, len(self.train_dataset), chunk):
                part = examples[start: start + chunk] if isinstance(examples, datasets.Dataset) else \
                    _columns(examples.texts(start, start + chunk))
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
                                       world_size=world, epoch=self.epoch)
            return StatefulDataLoader(self.train_examples(), batch_sampler=groups, **self._loader_options())
        sampler = PairBatchSampler(len(self.train_dataset), self.batch_size,
                                   generator=torch.Generator().manual_seed(self.spec.seed),
                                   lengths=self.train_lengths() if self.length_grouped else None,
                                   rank=rank, world_size=world)
        return StatefulDataLoader(self.train_examples(), batch_sampler=sampler, **self._loader_options())

    def val_dataloader(self) -> DataLoader | list:
        if self.val_dataset is None or len(self.val_dataset) == 0:
            return []
        lengths = [len(q) + len(p) for q, p in zip(self.val_dataset["query"], self.val_dataset["passage"])]
        rank, world = self._rank()  # each rank scores its share; the module gathers all before the metrics
        batches = length_sorted(lengths, self.eval_batch_size)[rank::world]
        return DataLoader(self.val_dataset, batch_sampler=_Batches(batches), **self._loader_options())

    def epoch_note(self) -> str | None:
        """What an epoch of query groups is, for the model card (None for pointwise batches)."""
        if not self.group_size:
            return None
        k = self.group_size - 1
        if self.epoch == "negatives":
            return (f"every training negative once, in groups of its query's positive and {k} negative(s)"
                    + (" (one pass over every (query, positive, negative) triple)" if k == 1 else "")
                    + " (`data.epoch: negatives`)")
        return (f"every training positive once, with {k} negative(s) of its query drawn afresh each epoch "
                "(`data.epoch: positives`)")

    def describe(self) -> dict[str, Any]:
        """Size, columns and label statistics of the training set (for the model card)."""
        assert self.train_dataset is not None
        import pyarrow.compute as pc

        labels = self.train_dataset.data.table.column("label")
        examples = self.train_examples()
        n = min(1000, len(self.train_dataset))
        head = examples[:n] if isinstance(examples, datasets.Dataset) else _columns(examples.texts(0, n))
        cfg = self.source_cfg
        if cfg["kind"] == "hf":
            origin = self.about or f"the Hugging Face dataset `{cfg['hf']['path']}`"
            name = cfg["name"] or cfg["hf"]["path"]
        else:
            origin = (f"ir_datasets `{cfg['dataset_id']}`" if cfg["kind"] == "ir_datasets"
                      else f"local folder `{cfg['path']}`")
            name = cfg["name"] or (cfg["dataset_id"] or Path(str(cfg["path"])).name)
        return {
            "name": name, "origin": origin,
            "size": len(self.train_dataset),
            "columns": ["query", "passage", "label"],
            "label_min": pc.min(labels).as_py(), "label_mean": pc.mean(labels).as_py(),
            "label_max": pc.max(labels).as_py(), "positives": int(pc.sum(labels).as_py()),
            "query_chars": _stats(len(q) for q in head["query"]),
            "passage_chars": _stats(len(p) for p in head["passage"]),
            "epoch": self.epoch_note(),
            "val_queries": len(self.val_qrels),
            "val_pairs": len(self.val_dataset) if self.val_dataset is not None else 0,
        }


def _columns(examples: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {key: [e[key] for e in examples] for key in ("query", "passage")}


def _stats(values) -> dict[str, float]:
    v = list(values)
    return {"min": min(v), "mean": round(sum(v) / len(v), 2), "max": max(v)} if v else {}
