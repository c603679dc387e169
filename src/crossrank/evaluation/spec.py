"""What an evaluation set is (config group ``eval``) and which metrics it reports.

Light on purpose (no torch, no ranx): the entry points read and check these before loading anything.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crossrank.data.bm25 import BM25Settings
from crossrank.data.candidates import FirstStage
from crossrank.data.nanobeir import DEFAULT_DATASET, IR_DATASETS_COPIES, SPLITS, member_id
from crossrank.data.sources import Source, declared_level, load_source
from crossrank.errors import ConfigError

if TYPE_CHECKING:
    from omegaconf import DictConfig

log = logging.getLogger(__name__)

#: The rankings an evaluation set can report (besides compared runs), in the order reports show them, and how
#: tables label them: the first stage, the reranker, the reranker with the judged positives the first stage
#: missed (``rerank_positives``), its fusion with the first stage (``interpolate``), the ``teacher``.
RANKINGS = {"first_stage": "first stage", "reranked": "reranked", "reranked_with_positives": "with positives",
            "interpolated": "fused", "teacher": "teacher"}
#: What an evaluation writes in ``OUT/eval/<set>/`` beside its score shards: reports, and run files (TREC).
REPORT_FILES = ("metrics.json", "report.md", "report.json", "per_query.tsv")
RUN_FILES = ("run.trec", "run.with_positives.trec", "run.interpolated.trec", "run.teacher.trec")

#: The rankings a suite (NanoBEIR) averages over its sets.
SUITE_RANKINGS = ("first_stage", "reranked", "reranked_with_positives")

#: The metrics of a paper table, before relevance-level suffixes.
BASE_METRICS = ("mrr@10", "ndcg@10", "recall@100", "recall@1000", "map")
BINARY_METRICS = ("mrr", "map", "recall", "precision", "hit_rate", "hits", "r-precision", "f1", "bpref")
KNOWN_METRICS = BINARY_METRICS + ("ndcg", "ndcg_burges", "dcg", "dcg_burges")


def metric_names(depth: int | None, relevance_level: int = 1, base: Iterable[str] = BASE_METRICS) -> list[str]:
    """ranx names for ``base``: recall@k dropped where ``depth < k``; ``-lN`` added to binary metrics."""
    names = []
    for m in base:
        kind, _, k = m.partition("@")
        if kind not in KNOWN_METRICS:
            raise ConfigError(f"eval.metrics: unknown metric {m!r} (known: {', '.join(KNOWN_METRICS)})")
        if kind == "recall" and k and depth is not None and depth < int(k):
            continue
        names.append(f"{m}-l{relevance_level}" if kind in BINARY_METRICS and relevance_level > 1 else m)
    return names


@dataclass
class EvalSet:
    """An evaluation set (config group ``eval``).

    ``kind``: ``local`` (``path``: an irdata-format folder), ``ir_datasets`` (``dataset_id``), ``nanobeir`` (a
    suite: :func:`suite_members`) or one of its ``nanobeir_set`` members. The first stage (``first_stage``) is
    ``run_path`` if given, else the source's run (``run.tsv`` / scoreddocs / a stored ranking), else BM25 top
    ``depth`` over the collection. ``depth: null`` reranks every candidate. ``relevance_level: null``
    takes the level a local folder declares in its ``dataset.yaml``, else 1.
    """

    name: str
    kind: str = "local"
    path: str | None = None
    dataset_id: str | None = None
    run_path: str | None = None
    depth: int | None = 100
    relevance_level: int | None = None
    metrics: list[str] = field(default_factory=lambda: list(BASE_METRICS))
    batch_size: int | None = None  # None: the scorer's default (CrossEncoderScorer.default_batch_size)
    shard_size: int = 50_000
    compare_runs: dict[str, str] = field(default_factory=dict)
    stat_test: str = "student"
    max_p: float = 0.05
    bm25_k1: float = BM25Settings.k1
    bm25_b: float = BM25Settings.b
    interpolate: float | str | None = None  # reranker weight in a fusion with the first stage; "val": tuned
    interpolation_note: str = "given"  # how the weight was chosen (train.py: on which validation queries)
    queries: list[str] | None = None  # only these queries are reranked and judged (a cross-validation fold)
    teacher: str | None = None  # a zero-shot scorer (bi-encoder[:PATH] or a cross-encoder) reported as run "teacher"
    teacher_weight: float | None = None  # its weight in the interpolation (tuned with interpolate: val)
    bm25_cache: str | None = None  # where BM25 indexes and runs are kept (None: built every time)
    first_stage: str = "auto"  # auto, run or bm25 (crossrank.data.candidates)
    rerank_positives: bool = False  # also rerank the judged positives the first stage missed, reported apart
    sets: list[str] | str | None = None  # kind "nanobeir": which sets (None: NANOBEIR_DEFAULT; "all": NANOBEIR)
    suite: str | None = None  # the suite this set belongs to (its mean is reported under that name)

    def __post_init__(self) -> None:
        self.first_stage_settings()  # an unknown first_stage fails here
        if self.sets is not None and self.kind != "nanobeir":
            raise ConfigError(f"eval.sets: only a suite (kind: nanobeir) has sets; this set's kind is {self.kind}")
        weight = self.interpolate
        if weight is not None and weight != "val" and (
                isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight <= 1):
            raise ConfigError(f"eval.interpolate: {weight!r} must be a weight in [0, 1], \"val\" "
                              "(tuned on train.py's validation queries) or null")
        beta = self.teacher_weight
        if beta is not None:
            if not self.teacher:
                raise ConfigError("eval.teacher_weight: set eval.teacher (e.g. bi-encoder) to fuse a teacher")
            if isinstance(beta, bool) or not isinstance(beta, int | float) or not 0 <= beta <= 1 or (
                    isinstance(weight, int | float) and weight + beta > 1):
                raise ConfigError(f"eval.teacher_weight: {beta!r} must be in [0, 1] with eval.interpolate + "
                                  "eval.teacher_weight <= 1")
        if not self.name:
            self.name = Path(self.path).name if self.kind == "local" and self.path else \
                str(self.dataset_id or "eval").replace("/", "_")

    def first_stage_settings(self) -> FirstStage:
        """How this set's first stage is made (``eval.first_stage``, BM25's settings and cache)."""
        return FirstStage(self.first_stage, BM25Settings(self.bm25_k1, self.bm25_b),
                          Path(self.bm25_cache).expanduser() if self.bm25_cache else None, "eval.first_stage")

    def source(self) -> Source:
        return load_source(self.kind, self.path, self.dataset_id, self.run_path, self.name)

    def level(self, source: Source) -> int:
        """The relevance level in force: the config's, else the source's declared one, else 1."""
        if self.relevance_level is not None:
            return int(self.relevance_level)
        return declared_level(source)

    def metric_names(self, source: Source) -> list[str]:
        return metric_names(self.depth, self.level(source), self.metrics)

    def rankings(self) -> list[str]:
        """The rankings this set reports (keys of :data:`RANKINGS`), then its compared runs."""
        made = {"reranked_with_positives": self.rerank_positives, "interpolated": self.interpolate is not None,
                "teacher": bool(self.teacher)}
        return [r for r in RANKINGS if made.get(r, True)] + list(self.compare_runs)


#: NanoBEIR's 13 sets, by their ir_datasets names (``nano-beir/<name>``; :data:`crossrank.data.nanobeir.SPLITS`
#: gives sentence-transformers' split of each).
NANOBEIR = tuple(SPLITS)
#: The sets sentence-transformers' CrossEncoderNanoBEIREvaluator takes by default: all but the two
#: argument-retrieval sets.
NANOBEIR_DEFAULT = tuple(s for s in NANOBEIR if s not in ("arguana", "webis-touche2020"))


def eval_sets(cfg: DictConfig) -> list[EvalSet]:
    """The primary ``eval`` set and any ``extra_eval`` sets; a suite (``kind: nanobeir``) is one set per member."""
    from omegaconf import OmegaConf

    sets = {"eval": cfg.eval} if cfg.get("eval") else {}
    sets.update({f"extra_eval.{k}": v for k, v in (cfg.get("extra_eval") or {}).items()})
    out = []
    for key, s in sets.items():
        values: Any = OmegaConf.to_container(s, resolve=True, throw_on_missing=True)
        if "kind" not in values:
            raise ConfigError(f"{key}: not an evaluation set (keys {sorted(values)}); pick one with eval=local, "
                              "eval=trec_dl_2019, ... or eval=none")
        try:
            spec = EvalSet(**values)
        except TypeError as e:
            raise ConfigError(f"{key}: {e}") from None
        metric_names(spec.depth, 1, spec.metrics)  # unknown metric names fail here, before any work
        out += suite_members(spec, key) if spec.kind == "nanobeir" else [spec]
    names = [spec.name for spec in out]
    twice = next((n for n in names if names.count(n) > 1), None)
    if twice is not None:
        raise ConfigError(f"extra_eval: the set {twice} is evaluated twice (it is eval's too, or listed twice)")
    return out


def suite_members(spec: EvalSet, key: str = "eval") -> list[EvalSet]:
    """A NanoBEIR suite as its sets: each the split of ``eval.dataset_id`` (sentence-transformers' format: the stored
    BM25 ranking is the first stage), or with ``eval.dataset_id=nano-beir`` each ``nano-beir/<set>`` read through
    ir_datasets with BM25 over its own corpus; the suite's other settings."""
    from dataclasses import replace

    if spec.sets is None or spec.sets == "all":
        chosen = list(NANOBEIR_DEFAULT if spec.sets is None else NANOBEIR)
    elif isinstance(spec.sets, str) or not spec.sets:
        raise ConfigError(f"{key}.sets: {spec.sets!r}: give a list of NanoBEIR sets, all (the 13) or null "
                          f"(sentence-transformers' {len(NANOBEIR_DEFAULT)})")
    else:
        chosen = list(spec.sets)
    unknown = [s for s in chosen if s not in NANOBEIR]
    if unknown:
        raise ConfigError(f"{key}.sets: {unknown[0]} is not a NanoBEIR set (known: {', '.join(NANOBEIR)})")
    dataset = spec.dataset_id or DEFAULT_DATASET
    if dataset == IR_DATASETS_COPIES:  # ir_datasets' copies: no stored ranking, crossrank's BM25 is the first stage
        return [replace(spec, name=f"{spec.name}_{s}", kind="ir_datasets", dataset_id=f"{IR_DATASETS_COPIES}/{s}",
                        path=None, run_path=None, sets=None, suite=spec.name) for s in chosen]
    return [replace(spec, name=f"{spec.name}_{s}", kind="nanobeir_set", dataset_id=member_id(dataset, s), path=None,
                    run_path=None, sets=None, suite=spec.name) for s in chosen]
