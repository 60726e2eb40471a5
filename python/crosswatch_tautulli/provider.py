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

import copy
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from . import PluginError, load_plugin

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
_HOST_KEYS = ("_cw_history_rewatches", "_cw_readonly", "_cw_current_state_only")
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


# --- config ---

def _as_base(url: Any) -> str | None:
    s = str(url or "").strip()
    if not s:
        return None
    if not s.startswith(("http://", "https://")):
        s = "http://" + s
    return s.rstrip("/")


def _block(cfg: Mapping[str, Any]) -> dict[str, Any]:
    t = (cfg or {}).get("tautulli") if isinstance(cfg, Mapping) else None
    return dict(t) if isinstance(t, Mapping) else {}


def _is_configured(cfg: Mapping[str, Any]) -> bool:
    t = _block(cfg)
    return bool(_as_base(t.get("server_url") or t.get("server")) and str(t.get("api_key") or "").strip())


def _config_base() -> Path:
    env = os.environ.get("CONFIG_BASE")
    if env:
        return Path(env)
    try:  # the engine's own answer (it picks /config inside its image)
        from cw_platform.config_base import CONFIG_BASE  # type: ignore[import-not-found]

        return Path(CONFIG_BASE())
    except Exception:
        return Path.home() / ".crosswatch"


def _instance_key(t: Mapping[str, Any]) -> str:
    """Names one Tautulli history stream: the engine never says which instance it merged, so
    the folder is named by what the read depends on (server and user filter), hashed: no URL
    or key ever lands in a path."""
    hist = t.get("history") if isinstance(t.get("history"), Mapping) else {}
    basis = f"{_as_base(t.get('server_url') or t.get('server')) or ''}|{str(hist.get('user_id') or '').strip()}"
    return hashlib.sha256(basis.encode()).hexdigest()[:16]


def _state_dir(t: Mapping[str, Any]) -> Path:
    return _config_base() / ".cw_state" / "tautulli" / _instance_key(t)


def _plugin_config(cfg: Mapping[str, Any], *, rewatches: bool | None = None) -> dict[str, Any]:
    """The engine's config as the plugin reads it: the merged block (opened as instance ""),
    the engine's host keys translated, and a state folder under the engine's state root."""
    t = copy.deepcopy(_block(cfg))
    # The engine already merged the instance; other instances' blocks are not ours to check.
    t.pop("instances", None)
    # The engine sets its host keys on the whole config; accept them in the block too.
    host = {k: t.pop(k, None) or (cfg or {}).get(k) for k in _HOST_KEYS}
    hist = dict(t.get("history") or {}) if isinstance(t.get("history"), Mapping) else {}
    want = bool(host["_cw_history_rewatches"]) if rewatches is None else rewatches
    # The engine decides per pair whether it wants every play (event keys) or the newest.
    hist["rewatches"] = want
    t["history"] = hist
    # `_cw_readonly`: writes are refused anyway. `_cw_current_state_only`: history is the
    # only thing read, and it is always the current state of Tautulli's log.
    if not str(t.get("state_dir") or "").strip():
        t["state_dir"] = str(_state_dir(t) / "plugin")
    return {"tautulli": t}


def _open(cfg: Mapping[str, Any], **kw: Any):
    text = json.dumps(_plugin_config(cfg, **kw), default=str)
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


class _Checkpoints:
    """``checkpoint.json`` in the instance folder: the committed token (where incremental
    reads start), the pending one (of the last read, with the tag the engine stores) and the
    last read's semantics."""

    def __init__(self, t: Mapping[str, Any]):
        self.key = _instance_key(t)
        self.path = _state_dir(t) / "checkpoint.json"

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


def _tag(token: str) -> str:
    return "tautulli:" + hashlib.sha256(token.encode()).hexdigest()[:20]


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
    cps = _Checkpoints(_plugin_config(cfg)["tautulli"])
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
            data["pending"] = {"token": token, "tag": _tag(token)}
        if keep:
            cps.save(data)
    return index


def _index_semantics(cfg: Mapping[str, Any], feature: str) -> str:
    if feature != FEATURE:
        return "present"
    cps = _Checkpoints(_plugin_config(cfg)["tautulli"])
    with _LOCK:
        sem = _LAST_SEMANTICS.get(cps.key) or (cps.load().get("last_read") or {}).get("semantics")
    if sem:
        return sem
    hist = _block(cfg).get("history") or {}
    return "delta" if str(hist.get("mode") or "").lower() == "incremental" else "present"


def _activities(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """``history``: the tag of the checkpoint the last read left pending (or the committed
    one); the engine stores it with the pair's state once the run finished."""
    cps = _Checkpoints(_plugin_config(cfg)["tautulli"])
    with _LOCK:
        data = cps.load()
    pending = data.get("pending") if isinstance(data.get("pending"), Mapping) else None
    token = (pending or {}).get("token") or data.get("committed")
    if not token:
        return {}
    tag = _tag(token)
    return {FEATURE: tag, "updated_at": tag}


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


def _health(cfg: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return dict(_open(cfg).health())
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
        if not _is_configured(cfg):
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
        return _is_configured(cfg)

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
