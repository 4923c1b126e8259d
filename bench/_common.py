"""What the benchmarks share: a private HIL rig and a small recording MQTT link.

`rig()` starts a private Mosquitto on a free port (calibd.devbroker: loopback, TCP_NODELAY, no
persistence), then `calibsim` and `calibd run` on a temporary copy of config/sim.toml (free
ports, private pty directory, state directory and topic root), and stops them on exit.
`Link` records status, replies and simulator events under that root and sends commands.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt

from calibd.devbroker import PrivateBroker, private_config

ROOT = Path(__file__).resolve().parent.parent
SIM_TOML = ROOT / "config" / "sim.toml"
BIN = Path(sys.executable).parent
NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
STARTUP_TIMEOUT_S = 30.0
REPLY_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Rig:
    """A running private stack: broker port, topic root, config file, work directory."""

    port: int
    root: str
    config: Path
    work: Path
    procs: tuple[subprocess.Popen[bytes], ...] = ()

    @property
    def sim_pid(self) -> int:
        return self.procs[0].pid

    @property
    def daemon_pid(self) -> int:
        if len(self.procs) < 2:
            raise RuntimeError("this rig runs no daemon")
        return self.procs[1].pid

    def check(self) -> None:
        """Raise if calibsim or the daemon has exited (with the tail of its log)."""
        for proc, log in zip(self.procs, ("calibsim.log", "calibd.log"), strict=False):
            if proc.poll() is not None:
                tail = (self.work / log).read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}:\n{tail}")


def start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as fh:
        return subprocess.Popen(
            args,
            stdout=fh,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


def wait_output(proc: subprocess.Popen[bytes], log: Path, text: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in log.read_text(errors="replace"):
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}:\n{tail}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{text!r} not seen in {log}")
        time.sleep(0.05)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextmanager
def rig(
    name: str, *, keep: bool, time_scale: float | None = None, daemon: bool = True
) -> Iterator[Rig]:
    """Broker + calibsim + `calibd run` (unless not `daemon`) on a private copy of
    config/sim.toml. Processes run in the repository root (config/programs is relative)."""
    work = Path(tempfile.mkdtemp(prefix=f"calibd-{name}-"))
    root = f"bench{os.getpid()}/calib"
    procs: list[subprocess.Popen[bytes]] = []
    broker: PrivateBroker | None = None
    try:
        try:
            broker = PrivateBroker(work)
        except FileNotFoundError as exc:
            raise SystemExit(f"{name}: {exc}") from None
        broker.start()
        config = private_config(
            SIM_TOML, work, mqtt_port=broker.port, topic_root=root, time_scale=time_scale
        )
        sim_log = work / "calibsim.log"
        sim = start([str(BIN / "calibsim"), "--config", str(config)], sim_log)
        procs.append(sim)
        wait_output(sim, sim_log, "calibsim: ready", STARTUP_TIMEOUT_S)
        if daemon:
            procs.append(
                start([str(BIN / "calibd"), "run", "--config", str(config)], work / "calibd.log")
            )
        yield Rig(broker.port, root, config, work, tuple(procs))
    finally:
        for proc in reversed(procs):
            stop(proc)
        if broker is not None:
            broker.stop()
        if keep:
            print(f"{name}: logs kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def client(port: int, tag: str) -> aiomqtt.Client:
    """An MQTT v5 client on the private broker, TCP_NODELAY."""
    return aiomqtt.Client(
        "127.0.0.1",
        port,
        identifier=f"{tag}-{os.getpid()}",
        protocol=aiomqtt.ProtocolVersion.V5,
        socket_options=NODELAY,
        timeout=10,
    )


async def wait_online(mqtt: aiomqtt.Client, root: str) -> None:
    """Until `{root}/daemon/state` says `online` (uses the client's message stream)."""
    await mqtt.subscribe(f"{root}/daemon/state", qos=1)
    async with asyncio.timeout(STARTUP_TIMEOUT_S):
        async for msg in mqtt.messages:
            if not isinstance(msg.payload, bytes) or not msg.payload:
                continue
            if json.loads(msg.payload).get("state") == "online":
                return


class Link:
    """Records `{root}/daemon/state`, every status, reply and simulator event; sends commands.

    `collect()` must run (in a task) for the waits to see anything."""

    TOPICS = ("daemon/state", "+/status", "+/reply", "sim/+/events")

    def __init__(self, mqtt: aiomqtt.Client, root: str) -> None:
        self.mqtt = mqtt
        self.root = root
        self.last: dict[str, Any] = {}
        self.replies: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        self.events: list[dict[str, Any]] = []
        self._changed = asyncio.Event()

    async def subscribe(self) -> None:
        for topic in self.TOPICS:
            await self.mqtt.subscribe(f"{self.root}/{topic}", qos=1)

    async def collect(self) -> None:
        prefix = len(self.root) + 1
        async for msg in self.mqtt.messages:
            if not isinstance(msg.payload, bytes) or not msg.payload:
                continue
            doc = json.loads(msg.payload)
            suffix = msg.topic.value[prefix:]
            if suffix.endswith("/reply") and isinstance(doc, dict):
                self.replies[str(doc.get("id"))].append(doc)
            elif suffix.startswith("sim/") and isinstance(doc, dict):
                self.events.append(doc)
            self.last[suffix] = doc
            self._changed.set()

    async def wait(self, pred: Callable[[], Any], timeout_s: float, what: str) -> Any:
        """The first truthy `pred()`, re-checked on every message; TimeoutError naming `what`."""
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    self._changed.clear()
                    res = pred()
                    if res:
                        return res
                    await self._changed.wait()
        except TimeoutError:
            raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}") from None

    async def online(self, stack: Rig, systems: list[str]) -> None:
        """Until the daemon is online, the house READY and every system has a status."""
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            stack.check()
            try:
                await self.wait(
                    lambda: (
                        (self.last.get("daemon/state") or {}).get("state") == "online"
                        and self.status("house").get("state") == "READY"
                        and all(self.status(s) for s in systems)
                    ),
                    1.0,
                    "daemon online",
                )
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise
            else:
                return

    def status(self, system: str) -> dict[str, Any]:
        doc = self.last.get(f"{system}/status")
        return doc if isinstance(doc, dict) else {}

    async def state(self, system: str, states: set[str], timeout_s: float) -> dict[str, Any]:
        """The system's status once its state is one of `states`."""
        try:
            doc: dict[str, Any] = await self.wait(
                lambda: self.status(system) if self.status(system).get("state") in states else None,
                timeout_s,
                f"{system} in {sorted(states)}",
            )
        except TimeoutError as exc:
            now = self.status(system)
            raise TimeoutError(
                f"{exc}; it is {now.get('state')}, fault {now.get('fault')}"
            ) from None
        return doc

    async def publish(self, suffix: str, doc: dict[str, Any]) -> None:
        await self.mqtt.publish(f"{self.root}/{suffix}", json.dumps(doc).encode(), qos=1)

    async def send(self, system: str, action: str, args: dict[str, Any] | None = None) -> str:
        cmd_id = f"bench-{uuid.uuid4().hex[:10]}"
        doc = {"id": cmd_id, "action": action, "args": args or {}, "operator": "bench"}
        await self.publish(f"{system}/cmd", doc)
        return cmd_id

    async def ack(self, cmd_id: str) -> dict[str, Any]:
        got: list[dict[str, Any]] = await self.wait(
            lambda: self.replies.get(cmd_id), REPLY_TIMEOUT_S, f"ack of {cmd_id}"
        )
        return got[0]

    async def final(self, cmd_id: str, timeout_s: float) -> dict[str, Any]:
        got: list[dict[str, Any]] = await self.wait(
            lambda: [r for r in self.replies.get(cmd_id, []) if r.get("final")],
            timeout_s,
            f"final reply of {cmd_id}",
        )
        return got[0]

    async def run(
        self, system: str, action: str, args: dict[str, Any] | None = None, timeout_s: float = 60
    ) -> dict[str, Any]:
        """Send; raise unless accepted and completed; the final reply."""
        cmd_id = await self.send(system, action, args)
        ack = await self.ack(cmd_id)
        if ack.get("result") != "accepted":
            raise RuntimeError(f"{system} {action} {args}: {ack}")
        rep = await self.final(cmd_id, timeout_s)
        if rep.get("result") != "completed":
            raise RuntimeError(f"{system} {action} {args}: {rep}")
        return rep


@asynccontextmanager
async def linked(stack: Rig, tag: str) -> AsyncIterator[Link]:
    """A Link on the rig's broker, recording until the block exits."""
    async with client(stack.port, tag) as mqtt, asyncio.TaskGroup() as tg:
        link = Link(mqtt, stack.root)
        await link.subscribe()
        collector = tg.create_task(link.collect())
        try:
            yield link
        finally:
            collector.cancel()
