"""Inference backends: how a trained cross-encoder's logits are computed.

- ``torch``: fp32 PyTorch (the default; exactly the exported model's scores).
- ``torch-bf16``: PyTorch in bf16 (GPUs; CPUs with bf16 matrix units, e.g. Intel AMX: elsewhere it is slow).
- ``onnx``: ONNX Runtime, fp32 (CPU; needs ``pip install -e ".[onnx]"``).
- ``onnx-int8``: ONNX Runtime with dynamically quantized int8 weights, one scale per output channel (CPU).

The low-precision backends change scores slightly: each is accepted only where nDCG@10 on TREC DL 2019
stays within 0.005 of ``torch`` (``tests/test_backends.py``, with the real data). PyTorch's dynamic int8
quantization was tried and left out: nDCG@10 moved by 0.008 on a model trained on DL19. Tokenization,
batching and the length sort are the same for all; only the forward pass differs.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from crossrank.errors import ConfigError
from crossrank.files import atomic_path, cache_root
from crossrank.models.digest import weights_digest
from crossrank.models.scorer import BACKENDS, CrossEncoderScorer

#: how int8 weights are made: a scale per output channel (with one per tensor, DL19 nDCG@10 was 0.007 off fp32 in a
#: 1-thread process); part of the cached file's name with ONNX Runtime's version, which makes the file
INT8 = {"weight_type": "QInt8", "per_channel": True}

log = logging.getLogger(__name__)

INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def apply(scorer: CrossEncoderScorer, backend: str = "torch", cache_dir: str | Path | None = None,
          what: str = "model.backend", compile: bool | None = None) -> CrossEncoderScorer:
    """``scorer`` set up to run on ``backend``, for inference. The result is a new scorer: ``scorer`` itself
    (which may still be trained or exported) is left as it is."""
    if backend not in BACKENDS:
        raise ConfigError(f"{what}: unknown backend {backend!r} (known: {', '.join(BACKENDS)})")
    compile = scorer.compile_for_inference if compile is None else compile
    if backend == "torch":
        return _compiled(_like(scorer, scorer.model)) if compile else scorer
    if backend == "torch-bf16":  # bf16 weights and activations (AMX on recent Xeons, tensor cores on GPUs)
        import copy

        out = _like(scorer, copy.deepcopy(scorer.model).to(torch.bfloat16))
    elif scorer.device.type != "cpu":
        raise ConfigError(f"{what}: {backend} runs on the CPU; use torch or torch-bf16 on {scorer.device.type}")
    else:
        out = OnnxScorer.from_scorer(scorer, quantize=backend == "onnx-int8", cache_dir=cache_dir)
    out.backend = out.inference_backend = backend
    return _compiled(out) if compile and backend.startswith("torch") else out


def _compiled(scorer: CrossEncoderScorer) -> CrossEncoderScorer:
    """The scorer with its model run through ``torch.compile`` (dynamic shapes: batches vary in length)."""
    scorer.model = torch.compile(scorer.model, dynamic=True)
    scorer.compiled = True
    return scorer


def _like(scorer: CrossEncoderScorer, model: torch.nn.Module) -> CrossEncoderScorer:
    out = CrossEncoderScorer(model, scorer.tokenizer, max_length=scorer.max_length)
    out.label, out.backend = scorer.label, scorer.backend
    out.cudnn_attention = scorer.cudnn_attention
    out.origin_digest = scorer.origin_digest or weights_digest(scorer.model)
    return out



class OnnxScorer(CrossEncoderScorer):
    """A scorer whose forward pass runs in ONNX Runtime (CPU)."""

    session: Any

    @classmethod
    def from_scorer(cls, scorer: CrossEncoderScorer, quantize: bool = False,
                    cache_dir: str | Path | None = None) -> OnnxScorer:
        try:
            import onnxruntime as ort
        except ImportError:
            raise ConfigError("model.backend: onnx needs ONNX Runtime: pip install -e \".[onnx]\"") from None
        cache = Path(cache_dir or cache_root()) / "onnx"
        digest = scorer.origin_digest or weights_digest(scorer.model)
        int8 = "model-int8-" + hashlib.sha256(json.dumps([INT8, ort.__version__]).encode()).hexdigest()[:12] + ".onnx"
        path = cache / digest / (int8 if quantize else "model.onnx")
        if not path.is_file():
            export_onnx(scorer, path.with_name("model.onnx"))
            if quantize:
                from onnxruntime.quantization import QuantType, quantize_dynamic

                with atomic_path(path) as tmp:
                    quantize_dynamic(str(path.with_name("model.onnx")), str(tmp),
                                     **{**INT8, "weight_type": QuantType[str(INT8["weight_type"])]})
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = torch.get_num_threads()
        out = cls(scorer.model, scorer.tokenizer, max_length=scorer.max_length)
        out.label = scorer.label
        out.origin_digest = digest
        out.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        out.input_names = [i.name for i in out.session.get_inputs()]
        return out

    def forward(self, encoding: dict[str, torch.Tensor]) -> torch.Tensor:
        feeds = {k: encoding[k].cpu().numpy().astype(np.int64) for k in self.input_names}
        return torch.from_numpy(self.session.run(None, feeds)[0]).reshape(-1)


def export_onnx(scorer: CrossEncoderScorer, path: Path) -> Path:
    """Write the model as ONNX with dynamic batch and sequence axes (written to a temp name, then renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    model = scorer.model.eval()
    enc = scorer.tokenizer(["a query"] * 2, ["a passage to score"] * 2, padding=True, return_tensors="pt")
    names = [k for k in INPUTS if k in enc]
    with atomic_path(path) as tmp, torch.inference_mode(False), torch.no_grad():
        torch.onnx.export(model, (), str(tmp), kwargs={k: enc[k] for k in names}, input_names=names,
                          output_names=["logits"], opset_version=17, dynamo=False,
                          dynamic_axes={**{k: {0: "batch", 1: "sequence"} for k in names}, "logits": {0: "batch"}})
    return path
