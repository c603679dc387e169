"""Atomic writes: a file is built under a temporary name and renamed, so a crash never leaves a
complete-looking but truncated output."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from crossrank.errors import CrossrankError


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, inf) replaced by ``None``, so it is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise CrossrankError(f"{path}: cannot write ({e.strerror or e})") from None
    os.replace(tmp, path)
    return path


def write_json(path: str | Path, payload: Any) -> Path:
    """Strict JSON (no NaN: missing values are ``null``), written atomically."""
    return write_text(path, json.dumps(json_safe(payload), indent=2, allow_nan=False) + "\n")
