"""The HIL stack for integration tests: calibsim + calibd processes and a recording probe."""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from calibd.config import load_config
from tests.conftest import BIN, Broker, Proc, make_config, start_daemon, start_sim
from tests.mqtt_probe import Probe


class Stack:
    def __init__(
        self, broker: Broker, tmp: Path, config: Path, probe: Probe, sim: Proc, daemon: Proc
    ) -> None:
        self.broker = broker
        self.tmp = tmp
        self.config = config
        self.probe = probe
        self.sim = sim
        self.daemon = daemon

    async def online(self, timeout_s: float = 20.0) -> None:
        """The daemon is online and every configured system has published its status."""
        systems = ["house", *load_config(self.config).systems()]
        await self.probe.wait(
            lambda: (
                (self.probe.last("daemon/state") or {}).get("state") == "online"
                and all(self.probe.last(f"{s}/status") is not None for s in systems)
                and self.probe.last("house/status")["state"] == "READY"
            ),
            timeout_s,
            "daemon online",
        )

    def truth(self, system: str = "acu") -> dict[str, Any]:
        doc = self.probe.last(f"sim/{system}/truth")
        assert isinstance(doc, dict), f"no {system} truth from the simulator"
        return doc

    async def settled_truth(self, after: float, system: str = "acu") -> dict[str, Any]:
        """The simulator's truth of `system` published after monotonic time `after`."""
        suffix = f"/sim/{system}/truth"

        def fresh() -> dict[str, Any] | None:
            got = [m for m in self.probe.msgs if m.topic.endswith(suffix) and m.at > after]
            return got[-1].payload if got else None

        doc: dict[str, Any] = await self.probe.wait(fresh, 10.0, "fresh truth")
        return doc

    async def inject(self, fault: str, axis: str | None = None, system: str = "acu") -> None:
        doc: dict[str, Any] = {"fault": fault}
        if axis is not None:
            doc["axis"] = axis
        await self.probe.publish(f"sim/{system}/fault", doc)

    async def home(self) -> None:
        rep = await self.probe.run("acu", "home", timeout_s=40)
        assert rep["result"] == "completed", rep

    def acu(self) -> dict[str, Any]:
        doc = self.probe.last("acu/status")
        assert isinstance(doc, dict)
        return doc


@asynccontextmanager
async def hil_stack(
    broker: Broker,
    tmp: Path,
    *,
    time_scale: float = 200.0,
    extra: str = "",
    replace: dict[str, str] | None = None,
) -> AsyncIterator[Stack]:
    config = make_config(tmp, broker.port, time_scale=time_scale, extra=extra, replace=replace)
    root = load_config(config).mqtt.topic_root
    sim = await start_sim(config, tmp)
    daemon = start_daemon(config, tmp)
    stack: Stack | None = None
    try:
        async with Probe(broker.host, broker.port, root) as probe:
            stack = Stack(broker, tmp, config, probe, sim, daemon)
            await stack.online()
            yield stack
    finally:
        daemon.stop()
        if stack is not None and stack.daemon is not daemon:
            stack.daemon.stop()
        sim.stop()


async def restart(stack: Stack, name: str, *, kill: bool = True) -> None:
    """Kill -9 (or stop) the daemon and start it again; until it is online again."""
    p = stack.probe
    session = p.last("daemon/state")["session"]
    if kill:
        stack.daemon.kill9()
    else:
        assert stack.daemon.stop() == 0
    stack.daemon = Proc(
        [str(BIN / "calibd"), "run", "--config", str(stack.config)],
        stack.tmp / f"{name}.log",
        env={"PYTHONUNBUFFERED": "1"},
    )
    await p.wait(
        lambda: (
            p.last("daemon/state")["session"] == session + 1
            and p.last("daemon/state")["state"] == "online"
        ),
        20.0,
        f"{name} online",
    )


def export(config: Path) -> list[dict[str, Any]]:
    out = subprocess.run(
        [str(BIN / "calibd"), "log", "export", "--format", "json", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    records: list[dict[str, Any]] = json.loads(out.stdout)
    return records
