"""CrossWatch's ``providers/sync/_mod_TAUTULLI.py``, backed by the Rust Tautulli plugin.

The engine's module surface (``OPS``, ``get_manifest()``, ``TAUTULLIModule``, ``ctx``,
``__VERSION__``) over the plugin, which this package loads through the contract. What the
engine needs beyond a plain read, and how this module serves it:

- Rewatches: the engine asks for every play with the host key ``_cw_history_rewatches``, and
  only after ``capabilities()["history"]["rewatches"]["read"]`` says it can; both are
  translated here (into the plugin's ``history.rewatches``).
- Semantics per read: ``index_semantics`` answers what the *last* read of that Tautulli was
  (``delta`` when cut short or incremental), so a partial index never becomes deletions.
- Checkpoints: kept in a state folder per Tautulli under the engine's ``CONFIG_BASE``. A read
  leaves its checkpoint *pending*; ``activities()`` hands the engine a tag for it, and the
  engine stores that tag in its own state only when the pair run finished. The next read
  commits the pending checkpoint only if the engine's state holds its tag. Captures
  (``CW_CAPTURE_MODE=1``) and dry runs (``ctx.dry_run``) leave every checkpoint alone.
- Writes never raise (a raise is retried three times): each item comes back unresolved with
  hint ``read_only``; the plugin is asked first, so Tautulli is never sent anything.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from . import PluginError, load_plugin
from .checkpoints import Checkpoints, tag
from .config import block, is_configured, plugin_config

try:  # the engine injects its context here before a run
    ctx  # type: ignore[used-before-def]  # noqa: B018
except NameError:
    ctx = None

def _package_version() -> str:
    try:
        from importlib.metadata import version

        return version("crosswatch-tautulli")
    except Exception:  # run from a source tree
        return "0+unknown"


# The wheel's version (the plugin's, which maturin takes from the workspace).
__VERSION__ = _package_version()
__all__ = ["get_manifest", "OPS"]

FEATURE = "history"
_TRUE = {"1", "true", "yes", "on"}


# --- what the engine reads without a config ---

def _engine_capabilities(caps: Mapping[str, Any]) -> dict[str, Any]:
    """The plugin's capabilities plus the shape the engine reads rewatch support from."""
    out = dict(caps)
    out["history"] = {"rewatches": {"read": True, "write": False}}
    return out


def get_manifest() -> Mapping[str, Any]:
    m = dict(load_plugin().manifest())
    m["version"] = __VERSION__
    m["capabilities"] = _engine_capabilities(m.get("capabilities") or {})
    return m


def _open(cfg: Mapping[str, Any]):
    text = json.dumps(plugin_config(cfg), default=str)
    return load_plugin().open_source(text, "")


# --- per-instance checkpoint state ---

_LOCK = threading.Lock()
# Semantics of the last read per instance key (also kept on disk, for a new process).
_LAST_SEMANTICS: dict[str, str] = {}


def _truthy(v: Any) -> bool:
    return str(v or "").strip().lower() in _TRUE


def _capturing() -> bool:
    return _truthy(os.environ.get("CW_CAPTURE_MODE"))


def _dry_run() -> bool:
    c = globals().get("ctx")
    return bool(getattr(c, "dry_run", False)) if c is not None else False


def _engine_checkpoints() -> set[str]:
    """Every TAUTULLI history checkpoint the engine's state holds (any instance)."""
    c = globals().get("ctx")
    store = getattr(c, "state_store", None) if c is not None else None
    if store is None:
        return set()
    try:
        state = store.load_state_features({FEATURE})
    except Exception:
        return set()
    prov = ((state or {}).get("providers") or {}).get("TAUTULLI") or {}
    blocks = [prov] + list((prov.get("instances") or {}).values())
    out = set()
    for b in blocks:
        f = b.get(FEATURE) if isinstance(b, Mapping) else None
        if isinstance(f, Mapping) and f.get("checkpoint"):
            out.add(str(f["checkpoint"]))
    return out


def _build_index(cfg: Mapping[str, Any], feature: str) -> dict[str, Any]:
    if feature != FEATURE:
        return {}
    keep = not (_capturing() or _dry_run())
    cps = Checkpoints(plugin_config(cfg)["tautulli"])
    with _LOCK:
        data = cps.load()
        pending = data.get("pending")
        if keep and isinstance(pending, Mapping) and pending.get("tag") in _engine_checkpoints():
            # The engine finished the run that read up to `pending`: its plays are stored.
            data["committed"] = pending.get("token")
            data["pending"] = None
            cps.save(data)
        options = {"checkpoint": data.get("committed"), "dry_run": not keep}
    source = _open(cfg)
    index, report = source.index(feature, json.dumps(options))
    semantics = "present"
    if not report.get("complete", False) or report.get("semantics") == "delta" or report.get("read") == "incremental":
        semantics = "delta"
    with _LOCK:
        _LAST_SEMANTICS[cps.key] = semantics
        data = cps.load()
        data["last_read"] = {"semantics": semantics, "complete": bool(report.get("complete")), "read": report.get("read")}
        token = report.get("checkpoint")
        if keep and token:
            data["pending"] = {"token": token, "tag": tag(token)}
        if keep:
            cps.save(data)
    return index


def _index_semantics(cfg: Mapping[str, Any], feature: str) -> str:
    if feature != FEATURE:
        return "present"
    cps = Checkpoints(plugin_config(cfg)["tautulli"])
    with _LOCK:
        sem = _LAST_SEMANTICS.get(cps.key) or (cps.load().get("last_read") or {}).get("semantics")
    if sem:
        return sem
    hist = block(cfg).get("history") or {}
    return "delta" if str(hist.get("mode") or "").lower() == "incremental" else "present"


def _activities(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """``history``: the tag of the checkpoint the last read left pending (or the committed
    one); the engine stores it with the pair's state once the run finished."""
    cps = Checkpoints(plugin_config(cfg)["tautulli"])
    with _LOCK:
        data = cps.load()
    pending = data.get("pending") if isinstance(data.get("pending"), Mapping) else None
    token = (pending or {}).get("token") or data.get("committed")
    if not token:
        return {}
    mark = tag(token)
    return {FEATURE: mark, "updated_at": mark}


def _minimal(item: Mapping[str, Any]) -> dict[str, Any]:
    keep = ("type", "title", "year", "season", "episode", "series_title", "ids", "show_ids", "watched_at")
    return {k: item[k] for k in keep if k in item}


def _refuse(cfg: Mapping[str, Any], feature: str, items: Iterable[Mapping[str, Any]], dry_run: bool, op: str) -> dict[str, Any]:
    """A write: the plugin refuses it (nothing reaches Tautulli); the answer names every
    item unresolved with hint ``read_only``, and never raises."""
    items = [dict(i) for i in (items or []) if isinstance(i, Mapping)]
    reason = "read_only"
    try:
        source = _open(cfg)
        getattr(source, op)(feature, json.dumps(items, default=str), bool(dry_run))
    except PluginError as e:
        reason = getattr(e, "code", None) or reason
    except Exception:
        pass
    return {
        "ok": False,
        "count": 0,
        "confirmed": 0,
        "confirmed_keys": [],
        "unresolved": [{"item": _minimal(i), "hint": reason} for i in items],
        "errors": 0,
        "reason": reason,
    }


# The statuses the engine acts on; the plugin's `config` (a web page or 404 where the API
# should be) means the same to the engine as `down`: nothing to read, skip the pair's reads.
_ENGINE_STATUSES = ("ok", "degraded", "down", "auth_failed")


def _health(cfg: Mapping[str, Any]) -> dict[str, Any]:
    try:
        answer = dict(_open(cfg).health())
        status = answer.get("status")
        if status not in _ENGINE_STATUSES:
            details = answer.get("details")
            details = dict(details) if isinstance(details, Mapping) else {"details": details}
            details["plugin_status"] = status
            answer.update(status="down", details=details)
        return answer
    except PluginError as e:
        code = getattr(e, "code", "internal")
        status = {"auth_failed": "auth_failed", "unreachable": "down"}.get(code, "down")
        return {"ok": False, "status": status, "latency_ms": 0, "details": {"code": code, "error": str(e)}}
    except Exception as e:  # never let the health probe raise
        return {"ok": False, "status": "down", "latency_ms": 0, "details": {"code": "internal", "error": str(e)}}


# --- the engine's module surface ---

class TAUTULLIModule:
    """One configured Tautulli; raises on a config without server_url and api_key."""

    def __init__(self, cfg: Mapping[str, Any]):
        if not is_configured(cfg):
            raise RuntimeError("Missing tautulli.server_url or tautulli.api_key")
        self.raw_cfg = dict(cfg)
        # Opening checks the whole block (no network): a bad value fails here, by key.
        self.source = _open(cfg)

    @staticmethod
    def supported_features() -> dict[str, bool]:
        return dict(load_plugin().manifest()["features"])

    def manifest(self) -> Mapping[str, Any]:
        return get_manifest()

    def health(self) -> Mapping[str, Any]:
        return _health(self.raw_cfg)

    def activities(self) -> Mapping[str, Any]:
        return _activities(self.raw_cfg)

    def build_index(self, feature: str) -> Mapping[str, dict[str, Any]]:
        return _build_index(self.raw_cfg, feature)

    def add(self, feature: str, items: Iterable[Mapping[str, Any]], *, dry_run: bool = False) -> dict[str, Any]:
        return _refuse(self.raw_cfg, feature, items, dry_run, "add")

    def remove(self, feature: str, items: Iterable[Mapping[str, Any]], *, dry_run: bool = False) -> dict[str, Any]:
        return _refuse(self.raw_cfg, feature, items, dry_run, "remove")


class _TAUTULLIOPS:
    def name(self) -> str:
        return "TAUTULLI"

    def label(self) -> str:
        return "Tautulli"

    def features(self) -> Mapping[str, bool]:
        return TAUTULLIModule.supported_features()

    def capabilities(self) -> Mapping[str, Any]:
        return _engine_capabilities(load_plugin().manifest()["capabilities"])

    def is_configured(self, cfg: Mapping[str, Any]) -> bool:
        return is_configured(cfg)

    def index_semantics(self, cfg: Mapping[str, Any], *, feature: str) -> str:
        return _index_semantics(cfg, feature)

    def activities(self, cfg: Mapping[str, Any]) -> Mapping[str, Any]:
        try:
            return _activities(cfg)
        except Exception:
            return {}

    def health(self, cfg: Mapping[str, Any], **_kw: Any) -> Mapping[str, Any]:
        return _health(cfg)

    def build_index(self, cfg: Mapping[str, Any], *, feature: str) -> Mapping[str, dict[str, Any]]:
        return _build_index(cfg, feature)

    def add(self, cfg: Mapping[str, Any], items: Iterable[Mapping[str, Any]], *, feature: str, dry_run: bool = False) -> dict[str, Any]:
        return _refuse(cfg, feature, items, dry_run, "add")

    def remove(self, cfg: Mapping[str, Any], items: Iterable[Mapping[str, Any]], *, feature: str, dry_run: bool = False) -> dict[str, Any]:
        return _refuse(cfg, feature, items, dry_run, "remove")


OPS = _TAUTULLIOPS()
