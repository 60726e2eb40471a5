"""The incremental checkpoint of one Tautulli, kept in its state folder.

The plugin only *reports* where a complete read ended; this provider keeps that token
pending until the engine has stored the run (see ``provider``), then commits it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from typing import Any

from .config import instance_key, state_dir


class Checkpoints:
    """``checkpoint.json`` in the instance folder: the committed token (where incremental
    reads start), the pending one (of the last read, with the tag the engine stores) and the
    last read's semantics."""

    def __init__(self, t: Mapping[str, Any]):
        self.key = instance_key(t)
        self.path = state_dir(t) / "checkpoint.json"

    def load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text("utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def save(self, data: Mapping[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".checkpoint.")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, sort_keys=True)
        os.replace(tmp, self.path)


def tag(token: str) -> str:
    return "tautulli:" + hashlib.sha256(token.encode()).hexdigest()[:20]
