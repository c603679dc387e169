"""What an evaluation set is (config group ``eval``) and which metrics it reports.

Light on purpose (no torch, no ranx): the entry points read and check these before loading anything.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crossrank.data.sources import Source, declared_level, load_source
from crossrank.errors import ConfigError

if TYPE_CHECKING:
    from omegaconf import DictConfig

log = logging.getLogger(__name__)

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

    ``kind``: ``local`` (``path``: an irdata-format folder) or ``ir_datasets`` (``dataset_id``). The first
    stage is ``run_path`` if given, else the source's run (``run.tsv`` / scoreddocs), else BM25 top
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
    batch_size: int | None = None  # None: 16 on a CPU in fp32, 32 in bf16, 256 on a GPU
    shard_size: int = 50_000
    compare_runs: dict[str, str] = field(default_factory=dict)
    stat_test: str = "student"
    max_p: float = 0.05
    bm25_k1: float = 0.9
    bm25_b: float = 0.4
    interpolate: float | str | None = None  # reranker weight in a fusion with the first stage; "val": tuned
    interpolation_note: str = "given"  # how the weight was chosen (train.py: on which validation queries)
    queries: list[str] | None = None  # only these queries are reranked and judged (a cross-validation fold)
    teacher: str | None = None  # a zero-shot scorer (bi-encoder[:PATH] or a cross-encoder) reported as run "teacher"
    teacher_weight: float | None = None  # its weight in the interpolation (tuned with interpolate: val)

    def __post_init__(self) -> None:
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

    def source(self) -> Source:
        return load_source(self.kind, self.path, self.dataset_id, self.run_path, self.name)

    def level(self, source: Source) -> int:
        """The relevance level in force: the config's, else the source's declared one, else 1."""
        if self.relevance_level is not None:
            return int(self.relevance_level)
        return declared_level(source)

    def metric_names(self, source: Source) -> list[str]:
        return metric_names(self.depth, self.level(source), self.metrics)


def eval_sets(cfg: DictConfig) -> list[EvalSet]:
    """The primary ``eval`` set and any ``extra_eval`` sets named by the experiment."""
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
        out.append(spec)
    return out
