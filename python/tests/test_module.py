"""The `_mod_TAUTULLI.py` surface: the engine's own manifest tests, and each hook's answer
without a running engine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import crosswatch_tautulli.provider as mod
from crosswatch_tautulli.config import plugin_config

HERE = Path(__file__).resolve().parent


def test_the_engines_own_manifest_tests_pass_for_this_module(engine_dir, tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    p = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tautulli_shim", "-p", "no:cacheprovider",
         f"--junitxml={tmp_path / 'engine.xml'}", "providers/tests/test_manifests.py"],
        cwd=engine_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300,
    )
    assert p.returncode == 0, p.stdout[-4000:]
    # get_manifest shape, OPS contract, TAUTULLIModule requires its config.
    suite = ElementTree.parse(tmp_path / "engine.xml").getroot().find("testsuite")
    counts = {k: int(suite.get(k)) for k in ("tests", "failures", "errors", "skipped")}
    assert counts == {"tests": 3, "failures": 0, "errors": 0, "skipped": 0}, p.stdout[-2000:]


def test_module_surface():
    assert isinstance(mod.__VERSION__, str) and hasattr(mod, "ctx")
    for hook in ("name", "label", "features", "capabilities", "build_index", "add", "remove",
                 "health", "is_configured", "index_semantics", "activities"):
        assert callable(getattr(mod.OPS, hook)), hook
    caps = mod.OPS.capabilities()
    assert caps["history"]["rewatches"]["read"] is True
    assert mod.get_manifest()["capabilities"]["history"]["rewatches"]["read"] is True
    assert mod.OPS.is_configured({"tautulli": {"server": "h", "api_key": "k"}}) is True
    assert mod.OPS.is_configured({"tautulli": {"server_url": "h", "api_key": " "}}) is False


def test_host_keys_become_plugin_options(tmp_path, monkeypatch):
    monkeypatch.setenv("CONFIG_BASE", str(tmp_path))
    base = {"tautulli": {"server_url": "127.0.0.1:9", "api_key": "k", "instances": {"x": {}},
                         "history": {"rewatches": False}}}
    on = plugin_config({**base, "_cw_history_rewatches": True})["tautulli"]
    off = plugin_config(base)["tautulli"]
    assert on["history"]["rewatches"] is True and off["history"]["rewatches"] is False
    assert "instances" not in on and not any(k.startswith("_cw_") for k in on)
    assert Path(on["state_dir"]).is_relative_to(tmp_path / ".cw_state" / "tautulli")
    other = plugin_config({"tautulli": {"server_url": "127.0.0.1:10", "api_key": "k"}})["tautulli"]
    assert other["state_dir"] != on["state_dir"], "one state folder per Tautulli"
    assert "127.0.0.1" not in on["state_dir"] and "k" not in Path(on["state_dir"]).parts


def test_writes_never_raise_and_refuse_each_item(fake):
    cfg = {"tautulli": {"server_url": fake.url, "api_key": fake.api_key}}
    items = [{"type": "movie", "title": "A", "ids": {"tmdb": "1"}}, {"type": "movie", "title": "B", "ids": {"imdb": "tt2"}}]
    fake.stats()  # clears the fake's request log
    for op in (mod.OPS.add, mod.OPS.remove):
        r = op(cfg, items, feature="history", dry_run=False)
        assert r["ok"] is False and r["count"] == 0 and r["reason"] == "read_only"
        assert [u["hint"] for u in r["unresolved"]] == ["read_only", "read_only"]
        assert [u["item"]["title"] for u in r["unresolved"]] == ["A", "B"]
    # Even a broken config answers instead of raising.
    assert mod.OPS.add({}, items, feature="history")["reason"] in {"read_only", "config_invalid"}
    assert fake.stats() == {}, "a write must send Tautulli nothing"


def test_health_maps_the_plugins_codes(fake):
    ok = mod.OPS.health({"tautulli": {"server_url": fake.url, "api_key": fake.api_key}}, emit=None)
    assert (ok["ok"], ok["status"]) == (True, "ok")
    bad = mod.OPS.health({"tautulli": {"server_url": fake.url, "api_key": "0" * 32, "max_retries": 0}})
    assert bad["status"] == "auth_failed"
    down = mod.OPS.health({"tautulli": {"server_url": "127.0.0.1:9", "api_key": "k" * 32, "max_retries": 0, "timeout": 1}})
    assert down["status"] == "down"


def test_index_semantics_follow_each_instances_last_read(fake, start_fake, tmp_path, monkeypatch):
    monkeypatch.setenv("CONFIG_BASE", str(tmp_path))
    other = start_fake()
    short = {"tautulli": {"server_url": fake.url, "api_key": fake.api_key,
                          "history": {"read": "paged", "per_page": 10, "max_pages": 2}}}
    whole = {"tautulli": {"server_url": other.url, "api_key": other.api_key}}
    assert mod.OPS.index_semantics(short, feature="history") == "present"  # nothing read yet
    assert len(mod.OPS.build_index(short, feature="history")) > 0
    assert len(mod.OPS.build_index(whole, feature="history")) > 0
    assert mod.OPS.index_semantics(short, feature="history") == "delta"
    assert mod.OPS.index_semantics(whole, feature="history") == "present"


def test_the_readmes_one_line_module_installs_this_provider(tmp_path):
    pkg = tmp_path / "providers" / "sync"
    pkg.mkdir(parents=True)
    (tmp_path / "providers" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "_mod_TAUTULLI.py").write_text(
        "import sys, crosswatch_tautulli.provider as _m; sys.modules[__name__] = _m\n")
    check = ("import importlib, crosswatch_tautulli.provider as ours;"
             "m = importlib.import_module('providers.sync._mod_TAUTULLI');"
             "from providers.sync import _mod_TAUTULLI as again;"
             "assert m is ours and again is ours and m.OPS.name() == 'TAUTULLI', m")
    subprocess.run([sys.executable, "-c", check], cwd=tmp_path, check=True)


def test_a_web_page_where_the_api_should_be_is_down_for_the_engine():
    """The plugin says `config` for an HTML page where the API should be; the engine only
    acts on ok/degraded/down/auth_failed, so the provider answers `down` and keeps the
    plugin's own status in the details."""
    import http.server
    import threading

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"<html><body>Welcome to nginx!</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET  # the client sends its commands as a form

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        h = mod.OPS.health({"tautulli": {"server_url": url, "api_key": "k" * 32, "max_retries": 0, "timeout": 2}})
    finally:
        server.shutdown()
    assert h["ok"] is False
    assert h["status"] == "down"
    assert h["details"]["plugin_status"] == "config"
