"""Reading a W&B run from its local ``run-<id>.wandb`` file: config, history, summary, artifacts.

An offline run (crossrank's default without a W&B login) never reaches the W&B server, so ``wandb.Api()``
cannot see it until ``wandb sync``; this reader lets tests, records and notebooks use it as it is. The file
is a LevelDB-style log (a 7-byte ``:W&B`` header, then 32 KiB blocks of checksummed records) of the
``wandb_internal_pb2.Record`` protobufs that wandb itself writes.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BLOCK = 32 * 1024
HEADER = 7  # checksum (4), length (2), type (1)
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


@dataclass
class WandbRunFile:
    """What one run's transaction log holds."""

    path: Path
    run: dict[str, Any] = field(default_factory=dict)  # id, name, project, group, job_type, tags
    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    artifacts: list[dict[str, Any]] = field(default_factory=list)  # name, type
    exit_code: int | None = None


def _records(data: bytes) -> list[bytes]:
    """The payloads of a LevelDB log whose first block starts after wandb's 7-byte file header."""
    out: list[bytes] = []
    pending = b""
    pos = HEADER
    while pos + HEADER <= len(data):
        room = BLOCK - pos % BLOCK
        if room < HEADER:  # the block's tail is padding
            pos += room
            continue
        _, length, kind = struct.unpack("<IHB", data[pos: pos + HEADER])
        if kind == 0 and length == 0:  # zero padding up to the block's end
            pos += room
            continue
        chunk = data[pos + HEADER: pos + HEADER + length]
        pos += HEADER + length
        if kind == FULL:
            out.append(chunk)
        elif kind == FIRST:
            pending = chunk
        elif kind == MIDDLE:
            pending += chunk
        elif kind == LAST:
            out.append(pending + chunk)
            pending = b""
    return out


def _key(item: Any) -> str:
    return item.key or "/".join(item.nested_key)


def read_run_file(path: str | Path) -> WandbRunFile:
    """Parse ``run-<id>.wandb`` (or the run folder holding it)."""
    from wandb.proto import wandb_internal_pb2 as pb

    path = Path(path)
    if path.is_dir():
        found = sorted(path.glob("run-*.wandb"))
        if not found:
            raise FileNotFoundError(f"{path}: no run-*.wandb file")
        path = found[0]
    data = path.read_bytes()
    if not data.startswith(b":W&B"):
        raise ValueError(f"{path}: not a W&B run file")
    result = WandbRunFile(path)
    for payload in _records(data):
        record = pb.Record()
        record.ParseFromString(payload)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            r = record.run
            result.run = {"id": r.run_id, "name": r.display_name, "project": r.project, "group": r.run_group,
                          "job_type": r.job_type, "tags": list(r.tags)}
            for item in r.config.update:
                result.config[_key(item)] = json.loads(item.value_json)
        elif kind == "config":
            for item in record.config.update:
                result.config[_key(item)] = json.loads(item.value_json)
        elif kind == "history":
            result.history.append({_key(i): json.loads(i.value_json) for i in record.history.item})
        elif kind == "summary":
            for item in record.summary.update:
                result.summary[_key(item)] = json.loads(item.value_json)
        elif kind == "artifact":
            result.artifacts.append({"name": record.artifact.name, "type": record.artifact.type})
        elif kind == "exit":
            result.exit_code = record.exit.exit_code
    return result


def offline_runs(run_dir: str | Path) -> list[Path]:
    """The offline W&B run folders of a crossrank run dir (``OUT/wandb/offline-run-*``)."""
    return sorted(Path(run_dir).glob("wandb/offline-run-*"))
