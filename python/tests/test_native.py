"""The extension as a host: loading the plugin, error codes, index batches into a dict,
and the GIL released while the plugin waits on Tautulli."""

from __future__ import annotations

import json
import threading
import time

import pytest

import crosswatch_tautulli
from crosswatch_tautulli import Plugin, PluginError


def _cfg(fake, **history):
    return json.dumps({"tautulli": {"server_url": fake.url, "api_key": fake.api_key, "history": history}})


def test_the_bundled_plugin_loads_and_speaks_the_contract():
    p = crosswatch_tautulli.load_plugin()
    assert p.path.name == "libtautulli_plugin.so"
    assert p.path.parent.name == "crosswatch_tautulli"
    assert p.contract_version().split(".")[0] == crosswatch_tautulli.CONTRACT_VERSION.split(".")[0]
    m = p.manifest()
    assert (m["name"], m["type"], m["capabilities"]["read_only"]) == ("TAUTULLI", "sync", True)


def test_a_missing_file_is_a_plugin_error(tmp_path):
    with pytest.raises(PluginError) as e:
        Plugin.load(str(tmp_path / "nope.so"))
    assert e.value.code == "internal"


def test_plugin_error_codes_reach_python(fake):
    p = crosswatch_tautulli.load_plugin()
    with pytest.raises(PluginError) as e:
        p.open_source(json.dumps({"tautulli": {"server_url": fake.url}}), "")
    assert e.value.code == "config_invalid"
    src = p.open_source(_cfg(fake), "")
    with pytest.raises(PluginError) as e:
        src.index("watchlist", "{}")
    assert e.value.code == "unsupported_feature"
    with pytest.raises(PluginError) as e:
        src.add("history", "[]", False)
    assert e.value.code == "read_only"
    wrong = p.open_source(json.dumps({"tautulli": {"server_url": fake.url, "api_key": "0" * 32, "max_retries": 0}}), "")
    with pytest.raises(PluginError) as e:
        wrong.index("history", "{}")
    assert e.value.code == "auth_failed"
    assert "0" * 32 not in str(e.value)


def test_index_streams_into_a_dict_with_progress(fake):
    src = crosswatch_tautulli.load_plugin().open_source(_cfg(fake), "")
    steps = []
    index, report = src.index("history", "{}", lambda phase, done, total: steps.append(phase))
    assert isinstance(index, dict) and len(index) == report["items"] > 0
    assert report["complete"] is True and report["semantics"] == "present"
    key, item = next(iter(index.items()))
    assert isinstance(item, dict) and item["watched_at"].endswith("Z")
    assert "emit" in steps


def test_reads_release_the_gil(start_fake):
    fake = start_fake("--metadata-latency-ms", "40")
    src = crosswatch_tautulli.load_plugin().open_source(_cfg(fake), "")
    done = threading.Event()
    result = {}

    def read():
        result["index"], result["report"] = src.index("history", "{}")
        done.set()

    t = threading.Thread(target=read)
    started = time.perf_counter()
    t.start()
    spins = 0
    while not done.is_set():
        spins += 1  # pure Python: runs only while the read does not hold the GIL
    t.join()
    elapsed = time.perf_counter() - started
    assert result["report"]["metadata_calls"] > 0
    assert elapsed > 0.1, elapsed
    # A read holding the GIL would leave this loop a few switch intervals (5 ms each).
    assert spins > 100_000, (spins, elapsed)
