"""One line per message: library chatter a user cannot act on is silenced, Lightning logs once."""

from __future__ import annotations

import logging
import os
import warnings

#: Library chatter a user cannot act on, dropped from the console and the log (substrings of messages).
NOISE = ("💡 Tip:", "litlogger", "TPU available", "was configured so", "LeafSpec", "`list` across ranks is zero",
         "The anonymous setting has no effect", "'set_vital' is deprecated",  # torchdata's StatefulDataLoader
         # under DDP every rank computes validation metrics over all ranks' candidates (gathered): nothing to sync
         "when logging on epoch level in distributed setting")

QUIET_LOGGERS = ("transformers", "datasets", "urllib3", "httpx", "huggingface_hub", "filelock", "fsspec", "bm25s",
                 "ir_datasets", "numba", "matplotlib", "sentence_transformers", "torch")
#: Of those, the ones whose warnings are retries and notices that crossrank reports itself, once.
ERRORS_ONLY = ("transformers", "huggingface_hub", "urllib3", "httpx")


class _DropNoise(logging.Filter):
    """Drops :data:`NOISE`, and anything below WARNING from the libraries in :data:`QUIET_LOGGERS`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING and record.name.split(".")[0] in QUIET_LOGGERS:
            return False
        message = record.getMessage()
        return not any(n in message for n in NOISE)


def quiet_environment() -> None:
    """Before heavy imports: no library progress bars or banners; W&B speaks through crossrank."""
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("WANDB_SILENT", "true")
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR if name in ERRORS_ONLY else logging.WARNING)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_DropNoise())
    for pattern in NOISE:
        warnings.filterwarnings("ignore", message=f".*{pattern}.*")


def quiet_lightning() -> None:
    """Lightning logs through the root logger (once, in Hydra's format) instead of its own handler."""
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "lightning_fabric", "pytorch_lightning"):
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if type(handler) is logging.StreamHandler:
                logger.removeHandler(handler)
        logger.propagate = True
    try:
        import transformers

        transformers.utils.logging.disable_progress_bar()
    except ImportError:  # pragma: no cover
        pass
