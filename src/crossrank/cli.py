"""Shared behaviour of the entry points: user errors become one line on stderr and exit status 2."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from hydra.errors import InstantiationException
from omegaconf import DictConfig
from omegaconf.errors import MissingMandatoryValue

from crossrank.errors import CrossrankError


def run_or_exit(fn: Callable[[DictConfig], Any], cfg: DictConfig) -> Any:
    """Call ``fn(cfg)``; on a :class:`CrossrankError` or a missing config value print
    ``error: ...`` and exit 2."""
    import transformers

    transformers.utils.logging.disable_progress_bar()
    for name in ("transformers", "datasets", "urllib3", "httpx", "huggingface_hub"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        return fn(cfg)
    except CrossrankError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except InstantiationException as e:  # hydra wraps what a _target_ raised
        if isinstance(e.__cause__, CrossrankError):
            print(f"error: {e.__cause__}", file=sys.stderr)
            sys.exit(2)
        raise
    except MissingMandatoryValue as e:
        print(f"error: config key {e.full_key} must be set (e.g. {e.full_key}=...)", file=sys.stderr)
        sys.exit(2)
