"""Training a large encoder on a small budget: gradient checkpointing (activations recomputed in the backward pass)
and LoRA adapters through ``peft`` (``model.lora``), merged into the weights before export so that the folder is a
plain model that loads without peft."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from torch import nn

from crossrank.errors import ConfigError
from crossrank.models.heads import SegmentCosineModel

#: ``model.lora`` keys and their defaults (``r: 0`` or null: no adapters).
LORA_DEFAULTS: dict[str, Any] = {"r": 0, "alpha": 16, "dropout": 0.05, "target_modules": None}
#: Modules of a sequence classifier that a new training run initialises: trained in full beside the adapters.
NEW_HEAD_MODULES = ("classifier", "score", "head")


def lora_settings(lora: Mapping[str, Any] | None, key: str = "model.") -> dict[str, Any] | None:
    """``model.lora`` with its defaults; None when it asks for no adapters. Unknown keys are one-line errors."""
    if not lora:
        return None
    unknown = sorted(set(lora) - set(LORA_DEFAULTS))
    if unknown:
        raise ConfigError(f"{key}lora.{unknown[0]}: unknown key (known: {', '.join(LORA_DEFAULTS)})")
    settings = {**LORA_DEFAULTS, **lora}
    if not settings["r"]:
        return None
    if isinstance(settings["r"], bool) or not isinstance(settings["r"], int) or settings["r"] < 0:
        raise ConfigError(f"{key}lora.r: {settings['r']!r} must be a positive rank (0 or null: no adapters)")
    return settings


def enable_gradient_checkpointing(model: nn.Module) -> None:
    """Recompute each layer's activations in the backward pass (less memory, about a third more compute)."""
    target = model.encoder if isinstance(model, SegmentCosineModel) else model
    if not hasattr(target, "gradient_checkpointing_enable") or not getattr(target, "supports_gradient_checkpointing",
                                                                             True):
        raise ConfigError(f"model.gradient_checkpointing: {type(target).__name__} does not support it")
    target.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


def add_lora(model: nn.Module, settings: Mapping[str, Any], key: str = "model.") -> nn.Module:
    """``model`` with LoRA adapters on ``target_modules`` (None: peft's default for the architecture) and its new
    head trained in full; a segment-cosine model gets them on its encoder."""
    try:
        from peft import LoraConfig, TaskType, get_peft_model
    except ImportError:
        raise ConfigError(f"{key}lora: needs peft (pip install 'crossrank[lora]')") from None
    inner = model.encoder if isinstance(model, SegmentCosineModel) else None
    config = LoraConfig(
        task_type=None if inner is not None else TaskType.SEQ_CLS, r=int(settings["r"]),
        lora_alpha=settings["alpha"], lora_dropout=settings["dropout"],
        target_modules=list(settings["target_modules"]) if settings["target_modules"] else None,
        modules_to_save=None if inner is not None else [m for m in NEW_HEAD_MODULES if hasattr(model, m)])
    try:
        if inner is not None:
            model.encoder = get_peft_model(inner, config)
            return model
        return get_peft_model(model, config)
    except ValueError as e:
        raise ConfigError(f"{key}lora.target_modules: {str(e).splitlines()[0]}") from None


def prepare_for_training(model: nn.Module, gradient_checkpointing: bool, lora: Mapping[str, Any] | None,
                         key: str = "model.") -> nn.Module:
    """``model`` with gradient checkpointing on and LoRA adapters added, as ``model.*`` asks."""
    if gradient_checkpointing:
        enable_gradient_checkpointing(model)
    settings = lora_settings(lora, key)
    return add_lora(model, settings, key) if settings is not None else model


def has_adapters(model: nn.Module) -> bool:
    """Whether ``model`` (or its encoder) carries unmerged peft adapters."""
    return any(type(m).__name__.startswith("PeftModel") for m in (model, getattr(model, "encoder", None)))


def merge_adapters(model: nn.Module, in_place: bool = False) -> nn.Module:
    """``model`` with its adapters merged into the weights and peft's wrapper gone (a copy unless ``in_place``);
    ``model`` itself when it has none."""
    if not has_adapters(model):
        return model
    model = model if in_place else copy.deepcopy(model)
    encoder = getattr(model, "encoder", None)
    if encoder is not None and type(encoder).__name__.startswith("PeftModel"):
        model.encoder = encoder.merge_and_unload()
        return model
    return model.merge_and_unload()
