"""Shared fixtures: the fake Tautulli (`host-sim-bench serve-fake`, a subprocess on 127.0.0.1),
`host-sim` itself (the index every engine import must equal), and the vendored CrossWatch
engine run offline in a subprocess per scenario (`engine_run.py`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import crosswatch_tautulli

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
API_KEY_WRONG = "0" * 32

# A small generated library: few enough plays for seconds-long runs, enough rewatches that
# event mode and newest-per-item differ.
FAKE_ARGS = ["--plays", "240", "--seed", "7", "--movies", "12", "--shows", "3",
             "--episodes-per-show", "5", "--users", "2"]


def _cargo_bin(package: str, name: str) -> Path:
    """Builds `package` (dev profile, as `cargo test` does) and returns its binary `name`."""
    out = subprocess.run(
        ["cargo", "build", "--locked", "-p", package, "--message-format=json-render-diagnostics"],
        cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True,
    ).stdout
    for line in out.splitlines():
        m = json.loads(line)
        if (m.get("reason") == "compiler-artifact" and "bin" in m["target"]["kind"]
                and m["target"]["name"] == name):
            return Path(m["executable"])
    raise RuntimeError(f"cargo built no binary {name} for {package}")


@pytest.fixture(scope="session")
def host_sim() -> Path:
    exe = os.environ.get("HOST_SIM")
    return Path(exe) if exe else _cargo_bin("host-sim", "host-sim")


@pytest.fixture(scope="session")
def bench_exe() -> Path:
    """`host-sim-bench`, whose hidden `serve-fake` serves a generated library."""
    exe = os.environ.get("HOST_SIM_BENCH")
    return Path(exe) if exe else _cargo_bin("host-sim", "host-sim-bench")


@pytest.fixture(scope="session")
def plugin_path() -> Path:
    """The plugin file this package loads (the one bundled in the wheel)."""
    return Path(crosswatch_tautulli.load_plugin().path)


@pytest.fixture(scope="session")
def engine_dir() -> Path:
    env = os.environ.get("CROSSWATCH_SRC")
    candidates = [Path(env)] if env else [p / "shared" / "vendor" / "crosswatch" for p in ROOT.parents]
    for c in candidates:
        if (c / "cw_platform").is_dir():
            return c
    pytest.skip("the CrossWatch engine's source is not here (set CROSSWATCH_SRC)")


class Fake:
    """A running `host-sim-bench serve-fake`; `stats()` counts the requests since the last call."""

    def __init__(self, exe: Path, extra: list[str], base: list[str]):
        self.proc = subprocess.Popen(
            [str(exe), "serve-fake", *base, *extra],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        info = json.loads(self.proc.stdout.readline())
        self.url, self.api_key = info["url"], info["api_key"]

    def _say(self, line: str) -> dict:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def stats(self) -> dict:
        return self._say("stats")["requests"]

    def release(self) -> dict:
        return self._say("release")

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


@pytest.fixture
def start_fake(bench_exe):
    fakes: list[Fake] = []

    def start(*extra: str, base: list[str] = FAKE_ARGS) -> Fake:
        fakes.append(Fake(bench_exe, list(extra), base))
        return fakes[-1]

    yield start
    for f in fakes:
        f.close()


@pytest.fixture
def fake(start_fake) -> Fake:
    return start_fake()


def tautulli_block(fake: Fake, **history) -> dict:
    """The block as the engine sends it, with its defaults (per_page 100, verify_ssl false,
    timeout 10.0)."""
    return {"server_url": fake.url, "api_key": fake.api_key, "verify_ssl": False,
            "timeout": 10.0, "max_retries": 3, "history": {"per_page": 100, "max_pages": 5000, **history}}


def pair(source="TAUTULLI", target="CROSSWATCH", **history) -> dict:
    return {"source": source, "target": target, "mode": "one-way", "enabled": True,
            "features": {"history": {"enable": True, "add": True, **history}}}


@pytest.fixture
def engine(engine_dir, tmp_path):
    """`engine(config, runs)` runs the scenario in a fresh engine process; answers per run."""

    def run(config: dict, runs: list[dict]) -> list[dict]:
        spec = {"engine": str(engine_dir), "config_base": str(tmp_path / "config"), "config": config, "runs": runs}
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
        p = subprocess.run([sys.executable, str(HERE / "engine_run.py")], input=json.dumps(spec),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, timeout=300)
        assert p.returncode == 0, p.stderr[-4000:]
        return json.loads(p.stdout)

    run.root = tmp_path
    return run


def host_sim_index(host_sim: Path, plugin: Path, tmp: Path, block: dict) -> dict:
    cfg = tmp / "host-sim.json"
    cfg.write_text(json.dumps({"tautulli": block}))
    out = subprocess.run([str(host_sim), "--config", str(cfg), "--plugin", str(plugin), "--json", "--no-progress", "index"],
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out)
