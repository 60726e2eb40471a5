"""The real CrossWatch engine (vendored, run offline) with this module as its TAUTULLI
provider, reading the fake Tautulli on loopback: the cases a user meets."""

from __future__ import annotations

import pytest

from conftest import host_sim_index, pair, tautulli_block


def _config(engine, fake, **history):
    return {"tautulli": tautulli_block(fake, **history),
            "crosswatch": {"root_dir": str(engine.root / "tracker")}}


def _events(run, name):
    return [e for e in run["events"] if e.get("event") == name]


def _same_items(tracker: dict, index: dict):
    assert sorted(tracker) == sorted(index)
    for k, want in index.items():
        got = tracker[k]
        assert (got.get("type"), got.get("watched_at")) == (want["type"], want["watched_at"]), k
        assert {i: v for i, v in (got.get("ids") or {}).items() if v} == want["ids"], k


@pytest.fixture
def expected(host_sim, plugin_path, tmp_path):
    def index(fake, **history):
        return host_sim_index(host_sim, plugin_path, tmp_path, tautulli_block(fake, **history))
    return index


def test_dry_run_writes_nothing_import_equals_host_sim_rerun_adds_nothing(engine, fake, expected):
    dry, first, again = engine(_config(engine, fake), [
        {"dry_run": True, "pairs": [pair()]}, {"pairs": [pair()]}, {"pairs": [pair()]}])
    assert not dry["tracker"]
    want = expected(fake)
    assert len(want) > 20
    _same_items(first["tracker"], want)
    assert [e["adds"] for e in _events(first, "one:plan")] == [len(want)]
    assert again["tracker"] == first["tracker"]
    assert [e["adds"] for e in _events(again, "one:plan")] == [0]
    assert not _events(again, "apply:add:done")


def test_a_rewatch_pair_imports_every_play_and_a_normal_pair_then_keeps_the_newest(engine, fake, expected):
    cfg = _config(engine, fake)
    rewatch, normal = engine(cfg, [
        {"pairs": [pair(rewatches=True)]},
        {"pairs": [pair()], "crosswatch": {"root_dir": str(engine.root / "tracker2")}}])
    every = expected(fake, rewatches=True)
    newest = expected(fake)
    assert len(every) > len(newest)
    assert all("@" in k for k in every)
    _same_items(rewatch["tracker"], every)
    _same_items(normal["tracker"], newest)


def test_a_cut_short_read_with_removals_on_removes_nothing(engine, fake):
    full, short = engine(_config(engine, fake), [
        {"pairs": [pair(remove=True)]},
        {"pairs": [pair(remove=True)], "tautulli": {"history": {"read": "paged", "per_page": 10, "max_pages": 2}}}])
    assert len(full["tracker"]) > 20
    assert sorted(short["tracker"]) == sorted(full["tracker"])


def test_an_incremental_run_after_a_capture_and_a_dry_run_imports_everything(engine, fake, expected):
    capture, dry, run = engine(_config(engine, fake, mode="incremental"), [
        {"capture": True}, {"dry_run": True, "pairs": [pair()]}, {"pairs": [pair()]}])
    want = expected(fake)
    assert capture["capture_items"] == len(want)
    assert not dry["tracker"]
    _same_items(run["tracker"], want)


def test_a_failed_engine_write_leaves_the_checkpoint_where_it_was(engine, start_fake, expected):
    # A large catalog, so the plays held back include items never played before (the
    # engine adds missing keys; a newer play of a key it holds is not a change to it).
    fake = start_fake("--hold-back", "40", base=["--plays", "120", "--seed", "7", "--movies", "150",
                                                "--shows", "2", "--episodes-per-show", "3"])
    cfg = _config(engine, fake, mode="incremental")
    (first,) = engine(cfg, [{"pairs": [pair()]}])
    fake.release()
    (failed,) = engine(cfg, [{"pairs": [pair()], "fail_tracker_writes": True}])
    assert failed["tracker"] == first["tracker"]
    assert any(e.get("event") == "feature:error" or "error" in str(e.get("event")) for e in failed["events"]), \
        [e.get("event") for e in failed["events"]]
    (after,) = engine(cfg, [{"pairs": [pair()]}])
    want = expected(fake)
    assert len(want) > len(first["tracker"])
    assert sorted(after["tracker"]) == sorted(want)


def test_a_wrong_key_skips_the_pair_with_auth_failed(engine, fake):
    cfg = _config(engine, fake)
    cfg["tautulli"]["api_key"] = "0" * 32
    (run,) = engine(cfg, [{"pairs": [pair()]}])
    assert [e["reason"] for e in _events(run, "pair:skip")] == ["auth_failed"]
    assert not run["tracker"]


def test_tautulli_down_is_down(engine, fake):
    cfg = _config(engine, fake)
    cfg["tautulli"].update(server_url="http://127.0.0.1:9", max_retries=0, timeout=1.0)
    (run,) = engine(cfg, [{"pairs": [pair()]}])
    health = [e for e in _events(run, "health") if e.get("provider") == "TAUTULLI"]
    assert [e["status"] for e in health] == ["down"]
    assert not run["tracker"]


def test_crosswatch_to_tautulli_is_refused_and_sends_nothing(engine, fake):
    cfg = _config(engine, fake)
    (imported,) = engine(cfg, [{"pairs": [pair()]}])
    assert imported["tracker"]
    fake.stats()  # clears the fake's request log
    # Tautulli read for a user with no plays (the fake's `Local`, id 0; an id Tautulli does
    # not know fails the read): every Tracker item is then one to add to it.
    (back,) = engine(cfg, [{"pairs": [pair(source="CROSSWATCH", target="TAUTULLI")],
                            "tautulli": {"history": {"user_id": "0"}}}])
    n = len(imported["tracker"])
    assert [e["adds"] for e in _events(back, "one:plan")] == [n]
    done = _events(back, "apply:add:done")
    assert [(e["added"], e["unresolved"], e["errors"]) for e in done] == [(0, n, 0)], done
    assert not _events(back, "feature:error")
    # Reads only (health, and the target's index): Tautulli was asked to change nothing.
    commands = set(fake.stats())
    assert commands <= {"get_tautulli_info", "get_users", "get_history", "get_metadata",
                        "get_plays_by_date"}, commands
    assert back["tracker"] == imported["tracker"]
