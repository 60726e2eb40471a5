"""Runs the real CrossWatch engine's Orchestrator in this process, offline, with this
package's module installed as its TAUTULLI provider. One scenario per process (the engine
keeps module-level state), driven by JSON on stdin, answered as JSON on stdout:

    {"engine": DIR, "config_base": DIR, "config": {...},
     "runs": [{"dry_run": bool, "capture": bool, "fail_tracker_writes": bool,
               "pairs": [...], "tautulli": {... merged over config.tautulli}}]}

Each run answers the events the engine emitted (name and a few fields), the capture's index
size when `capture` is set, and the Tracker's history.json items afterwards.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from pathlib import Path


def _install(engine: Path) -> None:
    sys.path.insert(0, str(engine))
    os.chdir(engine)
    import crosswatch_tautulli.provider as ours

    # What the one-line `providers/sync/_mod_TAUTULLI.py` of the README does.
    sys.modules["providers.sync._mod_TAUTULLI"] = ours


def _point_state(base: Path) -> None:
    import cw_platform.orchestrator._blackbox as bb
    import cw_platform.orchestrator._phantoms as ph
    import cw_platform.orchestrator._snapshots as sn
    import cw_platform.orchestrator._unresolved as un

    state = base / ".cw_state"
    state.mkdir(parents=True, exist_ok=True)
    un.STATE_DIR = state
    bb.STATE_DIR = state
    ph._DIR = state
    sn._STATE_DIR = state


def main() -> None:
    spec = json.load(sys.stdin)
    engine = Path(spec["engine"])
    base = Path(spec["config_base"])
    os.environ["CONFIG_BASE"] = str(base)
    base.mkdir(parents=True, exist_ok=True)
    (base / "config.json").write_text(json.dumps(spec["config"]))
    _install(engine)
    _point_state(base)
    from cw_platform.config_base import load_config
    from cw_platform.orchestrator import Orchestrator

    out = []
    for run in spec["runs"]:
        cfg = load_config()
        cfg["pairs"] = run.get("pairs", cfg.get("pairs", []))
        cfg.setdefault("runtime", {})["snapshot_ttl_sec"] = 0
        for block in ("tautulli", "crosswatch"):
            cfg[block] = {**cfg.get(block, {}), **run.get(block, {})}
        if "history" in run.get("tautulli", {}):
            cfg["tautulli"]["history"] = {**spec["config"]["tautulli"].get("history", {}), **run["tautulli"]["history"]}
        events: list[dict] = []

        def progress(line, events=events):
            with contextlib.suppress(Exception):
                ev = json.loads(line) if isinstance(line, str) and line.startswith("{") else None
                if isinstance(ev, dict):
                    events.append(ev)

        result: dict = {"events": events}
        if run.get("capture"):
            os.environ["CW_CAPTURE_MODE"] = "1"
            try:
                from providers.sync import _mod_TAUTULLI as mod

                result["capture_items"] = len(mod.OPS.build_index(cfg, feature="history"))
            finally:
                os.environ.pop("CW_CAPTURE_MODE", None)
            out.append(result)
            continue
        restore = None
        if run.get("fail_tracker_writes"):
            from providers.sync import _mod_CROSSWATCH as cw

            restore = cw.OPS.add

            def boom(*a, **k):
                raise RuntimeError("tracker write failed (test)")

            cw.OPS.add = boom
        noise = io.StringIO()
        try:
            with contextlib.redirect_stdout(noise):
                Orchestrator(cfg).run(dry_run=bool(run.get("dry_run")), write_state_json=True, progress=progress)
        finally:
            if restore is not None:
                cw.OPS.add = restore
        root = Path(cfg["crosswatch"]["root_dir"])
        hist = root / "history.json"
        result["tracker"] = json.loads(hist.read_text())["items"] if hist.exists() else None
        out.append(result)
    json.dump(out, sys.__stdout__)


if __name__ == "__main__":
    main()
