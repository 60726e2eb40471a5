"""The engine's config, as the plugin reads it, and where this provider keeps its state.

The engine hands a provider its whole config with the instance already merged into the
``tautulli`` block, adds host-private keys (``_cw_*``) and never names a state folder; this
module turns that into the block the plugin opens as instance ``""``.
"""

from __future__ import annotations

import copy
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Keys the engine adds for its providers; none of them is the plugin's.
HOST_KEYS = ("_cw_history_rewatches", "_cw_readonly", "_cw_current_state_only")


def as_base(url: Any) -> str | None:
    s = str(url or "").strip()
    if not s:
        return None
    if not s.startswith(("http://", "https://")):
        s = "http://" + s
    return s.rstrip("/")


def block(cfg: Mapping[str, Any]) -> dict[str, Any]:
    t = (cfg or {}).get("tautulli") if isinstance(cfg, Mapping) else None
    return dict(t) if isinstance(t, Mapping) else {}


def is_configured(cfg: Mapping[str, Any]) -> bool:
    t = block(cfg)
    return bool(as_base(t.get("server_url") or t.get("server")) and str(t.get("api_key") or "").strip())


def config_base() -> Path:
    env = os.environ.get("CONFIG_BASE")
    if env:
        return Path(env)
    try:  # the engine's own answer (it picks /config inside its image)
        from cw_platform.config_base import CONFIG_BASE  # type: ignore[import-not-found]

        return Path(CONFIG_BASE())
    except Exception:
        return Path.home() / ".crosswatch"


def instance_key(t: Mapping[str, Any]) -> str:
    """Names one Tautulli history stream: the engine never says which instance it merged, so
    the folder is named by what the read depends on (server and user filter), hashed: no URL
    or key ever lands in a path."""
    hist = t.get("history") if isinstance(t.get("history"), Mapping) else {}
    basis = f"{as_base(t.get('server_url') or t.get('server')) or ''}|{str(hist.get('user_id') or '').strip()}"
    return hashlib.sha256(basis.encode()).hexdigest()[:16]


def state_dir(t: Mapping[str, Any]) -> Path:
    return config_base() / ".cw_state" / "tautulli" / instance_key(t)


def plugin_config(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The engine's config as the plugin reads it: the merged block (opened as instance ""),
    the engine's host keys translated, and a state folder under the engine's state root."""
    t = copy.deepcopy(block(cfg))
    # The engine already merged the instance; other instances' blocks are not ours to check.
    t.pop("instances", None)
    # The engine sets its host keys on the whole config; accept them in the block too.
    host = {k: t.pop(k, None) or (cfg or {}).get(k) for k in HOST_KEYS}
    hist = dict(t.get("history") or {}) if isinstance(t.get("history"), Mapping) else {}
    # The engine decides per pair whether it wants every play (event keys) or the newest.
    hist["rewatches"] = bool(host["_cw_history_rewatches"])
    t["history"] = hist
    # `_cw_readonly`: writes are refused anyway. `_cw_current_state_only`: history is the
    # only thing read, and it is always the current state of Tautulli's log.
    if not str(t.get("state_dir") or "").strip():
        t["state_dir"] = str(state_dir(t) / "plugin")
    return {"tautulli": t}
