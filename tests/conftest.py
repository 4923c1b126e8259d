"""Shared fixtures: a private Mosquitto, free ports, per-test configs, calibsim and calibd."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from calibd.devbroker import PrivateBroker, mosquitto_exe, private_config

Broker = PrivateBroker

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SIM_TOML = ROOT / "config" / "sim.toml"


def start_broker(workdir: Path) -> Broker:
    if mosquitto_exe() is None:
        pytest.fail("mosquitto is missing: `make test` installs it (or: apt-get install mosquitto)")
    return PrivateBroker(workdir).start()


@pytest.fixture(scope="session")
def mosquitto() -> Iterator[Broker]:
    """One private broker for the session (tests isolate themselves by topic root)."""
    d = Path(tempfile.mkdtemp(prefix="calibd-mqtt-"))
    broker = start_broker(d)
    yield broker
    broker.stop()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Broker]:
    """A broker for one test (for tests that restart it)."""
    broker = start_broker(tmp_path)
    yield broker
    broker.stop()


def make_config(
    tmp: Path,
    mqtt_port: int,
    *,
    time_scale: float = 200.0,
    root: str | None = None,
    extra: str = "",
    replace: dict[str, str] | None = None,
) -> Path:
    """config/sim.toml with free ports, pty links and state in `tmp`, and the given time_scale."""
    topic_root = root or f"t{os.getpid()}x{time.monotonic_ns() % 10**9}/calib"
    path = private_config(
        SIM_TOML, tmp, mqtt_port=mqtt_port, topic_root=topic_root, time_scale=time_scale
    )
    text = path.read_text().replace("move_margin_s = 5.0", "move_margin_s = 2.0")
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text + extra)
    return path


class Proc:
    """A child process (calibsim or calibd) with its output kept in a file."""

    def __init__(self, args: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.log_path = log_path
        self._fh = log_path.open("wb")
        self.proc = subprocess.Popen(
            args, stdout=self._fh, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def wait_output(self, text: str, timeout_s: float = 15.0) -> None:
        deadline = time.monotonic() + timeout_s
        while text not in self.output():
            if self.proc.poll() is not None:
                raise RuntimeError(f"exited {self.proc.returncode}:\n{self.output()[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{text!r} not seen:\n{self.output()[-3000:]}")
            await asyncio.sleep(0.05)

    def kill9(self) -> None:
        self.proc.kill()
        self.proc.wait(5)
        self._fh.close()

    def stop(self, timeout_s: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if not self._fh.closed:
            self._fh.close()
        return self.proc.returncode


@pytest.fixture
def config_path(tmp_path: Path, mosquitto: Broker) -> Path:
    return make_config(tmp_path, mosquitto.port)


async def start_sim(config: Path, tmp: Path) -> Proc:
    sim = Proc([str(BIN / "calibsim"), "--config", str(config)], tmp / "calibsim.log")
    try:
        await sim.wait_output("calibsim: ready")
    except BaseException:
        sim.stop()
        raise
    return sim


def start_daemon(config: Path, tmp: Path, name: str = "calibd") -> Proc:
    return Proc(
        [str(BIN / "calibd"), "run", "--config", str(config)],
        tmp / f"{name}.log",
        env={"PYTHONUNBUFFERED": "1"},
    )


@pytest.fixture
async def sim(config_path: Path, tmp_path: Path) -> AsyncIterator[Proc]:
    proc = await start_sim(config_path, tmp_path)
    yield proc
    proc.stop()
