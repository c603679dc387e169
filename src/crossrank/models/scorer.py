"""The cross-encoder: a Hugging Face sequence classifier with one logit, plus its tokenizer.

It knows nothing of Lightning or losses: tokenized pairs in, one raw relevance logit per pair out.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification, AutoTokenizer

from crossrank.data.collate import PackedPairs, length_sorted, pad_packed, tokenize_packed
from crossrank.errors import ConfigError, CrossrankError
from crossrank.models.heads import HEADS, SegmentCosineModel, head_of
from crossrank.models.hub import check_model_path, load_failure, looks_local

log = logging.getLogger(__name__)

#: SDPA kernels allowed on a GPU unless ``cudnn_attention``: cuDNN's plans are built per shape (see from_pretrained).
_SDPA_WITHOUT_CUDNN = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]

#: How evaluation may compute a scorer's logits (``model.backend``; :func:`crossrank.models.backends.apply`).
BACKENDS = ("torch", "torch-bf16", "onnx", "onnx-int8")

#: Written into config.json so that sentence-transformers' CrossEncoder returns the raw logit too.
ST_CONFIG = {"activation_fn": "torch.nn.modules.linear.Identity"}


def model_limit(tokenizer, config) -> int:
    """The longest input a model folder declares: its tokenizer's ``model_max_length`` where that is set,
    capped by the position embeddings (transformers uses a huge sentinel for "not set"). This is the
    length sentence-transformers' ``CrossEncoder`` truncates to."""
    positions = int(getattr(config, "max_position_embeddings", 0) or 0) or 512
    declared = getattr(tokenizer, "model_max_length", None) or positions
    return int(min(declared, positions))


def check_reranker_head(config, name_or_path: str, what: str) -> None:
    """A checkpoint used as it is must be a sequence classifier with one logit."""
    architectures = getattr(config, "architectures", None) or []
    if architectures and not any(a.endswith("ForSequenceClassification") for a in architectures):
        raise ConfigError(f"{what}: {name_or_path} holds a bare encoder ({', '.join(architectures)}) with no "
                          "trained reranking head; give a trained cross-encoder (e.g. train.py's OUT/model)")
    if getattr(config, "num_labels", None) != 1:
        raise ConfigError(f"{what}: {name_or_path} has num_labels={config.num_labels}; a reranker needs a "
                          "1-logit classifier")


class CrossEncoderScorer(nn.Module):
    """One relevance logit per (query, passage) pair.

    Args:
        model: an ``AutoModelForSequenceClassification`` with ``num_labels == 1``.
        tokenizer: its tokenizer.
        max_length: tokens per pair, the passage cut first (default: the model's own limit).
    """

    def __init__(self, model: nn.Module, tokenizer, max_length: int | None = None) -> None:
        super().__init__()
        num_labels = getattr(model.config, "num_labels", None)
        if num_labels != 1:
            raise CrossrankError(f"model has num_labels={num_labels}; a reranker needs a 1-logit classifier")
        self.model = model
        self.tokenizer = tokenizer
        self.max_length = max_length or model_limit(tokenizer, model.config)
        self.label = getattr(model.config, "_name_or_path", "") or "model"
        self.backend = "torch"  # how forward runs (crossrank.models.backends); training is always "torch"
        self.inference_backend = "torch"  # what evaluation switches to (model.backend)
        self.autocast_dtype: torch.dtype | None = None
        self.compile_for_inference = False  # model.compile: evaluation runs through torch.compile
        self.compiled = False
        self.cudnn_attention = False  # model.cudnn_attention: let SDPA pick cuDNN's kernel on a GPU
        # a backend's copy (bf16, ONNX) carries the digest of the weights it was made from: those of the folder
        self.origin_digest: str | None = None

    @classmethod
    def from_pretrained(cls, name_or_path: str, max_length: int | None = None, num_labels: int | None = 1,
                        revision: str | None = None, dropout: float | None = None,
                        label: str | None = None, what: str = "model.name_or_path",
                        backend: str = "torch", attn_implementation: str | None = "sdpa",
                        compile: bool = False, cudnn_attention: bool = False, head: str = "classifier",
                        head_scale: float = 20.0, gradient_checkpointing: bool = False,
                        lora: dict[str, Any] | None = None) -> CrossEncoderScorer:
        """Load a folder or hub id.

        ``num_labels=1`` adds a fresh head to a bare encoder (training); ``None`` keeps the checkpoint's
        head as it is (evaluation), which must then be a 1-logit classifier. ``max_length=None`` takes the
        folder's own limit (:func:`model_limit`), as ``CrossEncoder`` does; a value above the model's
        position embeddings is an error. ``label`` names the base model in model cards (default:
        ``name_or_path``); ``what`` names the setting in error messages. ``backend`` is the inference backend
        evaluation uses (:data:`BACKENDS`); the model itself is always loaded in PyTorch.
        ``attn_implementation``: transformers' attention kernel (``sdpa``: PyTorch's fused attention; ``eager``).
        ``compile``: evaluation runs the model through ``torch.compile`` (pays on long evaluations: about 30 s
        of compiling on a CPU, then about 8% faster there).
        ``cudnn_attention``: on a GPU, let SDPA use cuDNN's attention kernel (PyTorch prefers it on an H100). It
        builds a plan for every new batch shape, hundreds of times a second with length-sorted or length-grouped
        batches, so it is off by default (FlashAttention / memory-efficient kernels run instead).
        ``head``: the new head of a training run, ``classifier`` (the library's sequence classifier on ``[CLS]``) or
        ``segment_cosine`` (:mod:`crossrank.models.heads`, logit ``head_scale * cosine``, no new weights). A
        folder saved with a segment-cosine head is loaded with it, whatever ``head`` says.
        ``gradient_checkpointing``: recompute activations in the backward pass (training memory for compute).
        ``lora``: ``{r, alpha, dropout, target_modules}`` (:mod:`crossrank.models.adapters`): train LoRA adapters
        (and the new head) instead of every weight; merged into the weights when the model is saved.
        """
        from crossrank.models.adapters import prepare_for_training

        key = what.removesuffix("name_or_path")  # e.g. "model.": the prefix of the keys named in errors
        if backend not in BACKENDS:
            raise ConfigError(f"{key}backend: unknown backend {backend!r} "
                              f"(known: {', '.join(BACKENDS)})")
        name_or_path = str(name_or_path)
        check_model_path(name_or_path, what)
        if looks_local(name_or_path):
            name_or_path = str(Path(name_or_path).expanduser())
        length_key = key + "max_length"
        if head not in HEADS:
            raise ConfigError(f"{key}head: unknown head {head!r} "
                              f"(known: {', '.join(HEADS)})")
        try:
            config = AutoConfig.from_pretrained(name_or_path, revision=revision)
            saved_head = head_of(config)
            if saved_head is not None:
                head, head_scale = saved_head["type"], float(saved_head["scale"])
            elif num_labels is None:
                check_reranker_head(config, name_or_path, what)
            if num_labels is not None:
                config.num_labels = num_labels
            if dropout is not None and hasattr(config, "hidden_dropout_prob"):
                config.hidden_dropout_prob = dropout
            positions = int(getattr(config, "max_position_embeddings", 0) or 0)
            if max_length is not None and positions and max_length > positions:
                raise ConfigError(f"{length_key}: {max_length} is more than {name_or_path} can read "
                                  f"({positions} positions)")
            tokenizer = AutoTokenizer.from_pretrained(name_or_path, revision=revision)
            if head == "segment_cosine" and "token_type_ids" not in tokenizer.model_input_names:
                raise ConfigError(f"{key}head: segment_cosine needs a tokenizer that marks the passage with "
                                  f"token_type_ids; {name_or_path}'s does not (use head=classifier)")
            kernel = {"attn_implementation": attn_implementation} if attn_implementation else {}
            if head == "segment_cosine":
                model = SegmentCosineModel(AutoModel.from_pretrained(name_or_path, config=config, revision=revision,
                                                                     **kernel), scale=head_scale)
            else:
                model = AutoModelForSequenceClassification.from_pretrained(name_or_path, config=config,
                                                                           revision=revision, **kernel)
        except OSError as e:
            raise ConfigError(load_failure(name_or_path, e, what)) from None
        model = prepare_for_training(model, gradient_checkpointing, lora, key)
        scorer = cls(model, tokenizer, max_length=max_length)
        scorer.label = label or name_or_path
        scorer.inference_backend = backend
        scorer.compile_for_inference = compile
        scorer.cudnn_attention = cudnn_attention
        return scorer

    def forward(self, encoding: dict[str, torch.Tensor]) -> torch.Tensor:
        """Raw logits, shape (batch,)."""
        if self.cudnn_attention or encoding["input_ids"].device.type != "cuda":
            return self.model(**encoding).logits.squeeze(-1)
        with sdpa_kernel(_SDPA_WITHOUT_CUDNN):
            return self.model(**encoding).logits.squeeze(-1)

    def fingerprint(self) -> dict[str, Any]:
        """Everything that decides this scorer's logits for a given pair: the digest of its weights, the length
        pairs are cut to, the backend, the precision, the attention kernel and the device type."""
        from crossrank.models.digest import tokenizer_digest, weights_digest

        return {"weights": self.origin_digest or weights_digest(self.model),
                "tokenizer": tokenizer_digest(self.tokenizer), "max_length": self.max_length, "backend": self.backend,
                "autocast": str(self.autocast_dtype), "compiled": self.compiled,
                "attention": getattr(self.model.config, "_attn_implementation", None),
                "cudnn_attention": self.cudnn_attention, "device": self.device.type}

    def default_batch_size(self) -> int:
        """Pairs per batch when none is given: 256 on a GPU; on a CPU 16 in fp32 (measured best on 2 Xeon cores,
        where larger batches lose to cache misses and padding) and 32 in bf16."""
        if self.device.type == "cuda":
            return 256
        return 32 if self.backend == "torch-bf16" else 16

    @property
    def head(self) -> str:
        """``classifier`` or ``segment_cosine`` (:data:`crossrank.models.heads.HEADS`), read off the model."""
        return (head_of(self.model.config) or {}).get("type", "classifier")

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @torch.inference_mode()
    def score(self, queries: Sequence[str], passages: Sequence[str], batch_size: int | None = None,
              on_batch: Callable[[int], Any] | None = None, tokenize_workers: int | None = None) -> np.ndarray:
        """Logits for pairs, returned in input order.

        The pairs are tokenized once (a chunk at a time, the next chunk while this one is scored), sorted by
        their true token length and scored in batches padded only to their own longest pair; a GPU is never
        waited on inside a chunk. ``batch_size`` None: what suits the device and backend
        (:meth:`default_batch_size`); ``on_batch(n)`` is called after each batch.
        ``tokenize_workers``: processes that tokenize (None: :func:`~crossrank.data.tokenizer_pool.default_workers`,
        all cores but two on a GPU, none on a CPU)."""
        from crossrank.data.tokenizer_pool import default_workers, shared_pool

        if batch_size is None:
            batch_size = self.default_batch_size()
        was_training = self.training
        self.eval()
        out = np.empty(len(queries), dtype=np.float32)
        autocast = (torch.autocast(self.device.type, dtype=self.autocast_dtype) if self.autocast_dtype is not None
                    else contextlib.nullcontext())
        pad_id = self.tokenizer.pad_token_id or 0
        workers = default_workers(self.device.type, len(queries)) if tokenize_workers is None else tokenize_workers
        pool = shared_pool(self.tokenizer, self.max_length, workers) if workers > 0 else None
        # longest first by characters, then tokenized a chunk at a time (memory stays bounded) and sorted by true
        # token length inside the chunk
        order = sorted(range(len(queries)), key=lambda i: -(len(queries[i]) + len(passages[i])))
        size = max(batch_size * 8, 4096)  # the order is by length already: small chunks cost no padding, and
        # the next chunk is tokenized while this one is scored
        chunks = [order[start: start + size] for start in range(0, len(order), size)]
        pin = self.device.type == "cuda"

        def tokenize(part: list[int]) -> PackedPairs:
            qs, ps = [queries[i] for i in part], [passages[i] for i in part]
            return pool.tokenize(qs, ps) if pool else tokenize_packed(self.tokenizer, qs, ps, self.max_length)

        with ThreadPoolExecutor(max_workers=1) as prefetch:
            pending = [prefetch.submit(tokenize, chunks[0])] if chunks else []
            for k, part in enumerate(chunks):
                packed = pending.pop().result()
                if k + 1 < len(chunks):
                    pending.append(prefetch.submit(tokenize, chunks[k + 1]))
                batches = length_sorted(packed.lengths.tolist(), batch_size)
                logits = []
                for idx in batches:
                    enc = {key: v.to(self.device, non_blocking=True)
                           for key, v in pad_packed(packed, idx, pad_id, pin).items()}
                    with autocast:
                        logits.append(self(enc).float())
                    if on_batch is not None:
                        on_batch(len(idx))
                if logits:  # one copy back per chunk
                    rows = np.asarray(part)[np.concatenate([np.asarray(b) for b in batches])]
                    out[rows] = torch.cat(logits).cpu().numpy()
        self.train(was_training)
        return out

    def merge_adapters(self) -> None:
        """Merge LoRA adapters into the weights, in place (after training: the model is then the exported one)."""
        from crossrank.models.adapters import merge_adapters

        self.model = merge_adapters(self.model, in_place=True)

    def save_pretrained(self, path: str | Path) -> None:
        """A Hugging Face folder (safetensors, config, tokenizer) that transformers and
        sentence-transformers' CrossEncoder both load, with identical scores; with a segment-cosine head, the
        encoder's folder that crossrank loads (see :mod:`crossrank.models.heads`)."""
        from crossrank.models.adapters import merge_adapters

        path = Path(path)
        plain = self.head == "classifier"
        model = merge_adapters(self.model)  # LoRA adapters: a merged copy (the folder loads without peft)
        if plain:
            model.config.sentence_transformers = dict(ST_CONFIG)
        model.save_pretrained(path, safe_serialization=True)
        self.tokenizer.model_max_length = self.max_length
        self.tokenizer.save_pretrained(path)
        if plain:
            config = json.loads((path / "config.json").read_text())
            config["sentence_transformers"] = dict(ST_CONFIG)
            (path / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
