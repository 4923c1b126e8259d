"""calibd as systemd runs it, on the real HIL stack: NOTIFY_SOCKET is a unix datagram socket
bound by the test and WATCHDOG_USEC is set, both in the daemon's environment.

READY=1 comes only once `online` is retained on {root}/daemon/state; WATCHDOG=1 pings follow;
SIGTERM during a deploy gives STOPPING=1, the drive halted short of its target (the
simulator's truth stands still), a `shutdown` event before `offline`, and exit status 0."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from tests.conftest import Broker
from tests.integration.stack import Stack, hil_stack

pytestmark = pytest.mark.integration

WATCHDOG_USEC = 1_000_000  # WatchdogSec=1: a ping every 0.5 s
TIME_SCALE = 50.0  # parked (z 23 m) to -10 m takes 13 s of wall time: SIGTERM lands in it
TARGET_Z_M = -10.0


@dataclass
class Notifications:
    """What the daemon sent to its NOTIFY_SOCKET: (monotonic time, fields) per datagram."""

    got: list[tuple[float, list[str]]] = field(default_factory=list)
    #: the retained {root}/daemon/state read the moment READY=1 arrived
    state_at_ready: dict[str, Any] | None = None

    def times(self, item: str) -> list[float]:
        return [t for t, fields in self.got if item in fields]

    def statuses(self) -> list[str]:
        return [f[7:] for _, fields in self.got for f in fields if f.startswith("STATUS=")]


@pytest.fixture
def notify_socket(monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """An abstract-namespace datagram socket, as systemd's; the daemon (and calibsim, which
    ignores them) inherit NOTIFY_SOCKET and WATCHDOG_USEC."""
    name = f"calibd-it-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.setblocking(False)
    monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
    monkeypatch.setenv("WATCHDOG_USEC", str(WATCHDOG_USEC))
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    yield sock
    sock.close()


async def _retained_state(broker: Broker, root: str) -> dict[str, Any]:
    """The retained daemon state as a new subscriber gets it now (`state` None: nothing)."""
    nothing: dict[str, Any] = {"state": None, "session": None}
    async with aiomqtt.Client(broker.host, broker.port) as client:
        await client.subscribe(f"{root}/daemon/state", qos=1)
        try:
            async with asyncio.timeout(1.0):
                async for msg in client.messages:
                    if not msg.retain or not isinstance(msg.payload, bytes):
                        return nothing
                    doc: dict[str, Any] = json.loads(msg.payload)
                    return doc
        except TimeoutError:
            return nothing
    return nothing


async def _listen(
    sock: socket.socket, notes: Notifications, broker: Broker, root: list[str]
) -> None:
    loop = asyncio.get_running_loop()
    while True:
        data = await loop.sock_recv(sock, 4096)
        fields = data.decode().split("\n")
        notes.got.append((time.monotonic(), fields))
        if "READY=1" in fields:
            # the topic root is known once hil_stack has made its config; READY=1 can come
            # before the stack has seen every status (a race seen in a full run)
            while not root:
                await asyncio.sleep(0.01)
            notes.state_at_ready = await _retained_state(broker, root[0])


async def _moving(stack: Stack) -> float:
    """Until the simulator shows the deploying source going down; its z then."""
    first = await stack.settled_truth(time.monotonic())
    later = await stack.settled_truth(time.monotonic() + 0.05)
    z0, z1 = first["position"]["z_m"], later["position"]["z_m"]
    assert z1 < z0, (first, later)
    return float(z1)


async def test_ready_pings_and_a_clean_stop_during_a_deploy(
    mosquitto: Broker, tmp_path: Path, notify_socket: socket.socket
) -> None:
    notes = Notifications()
    root: list[str] = []
    listener = asyncio.create_task(_listen(notify_socket, notes, mosquitto, root))
    try:
        async with hil_stack(mosquitto, tmp_path, time_scale=TIME_SCALE) as stack:
            p = stack.probe
            root.append(p.root)
            # READY=1 came with (or after) `online`; a fresh subscriber then got it retained
            await p.wait(lambda: notes.times("READY=1"), 10.0, "READY=1")
            await p.wait(lambda: notes.state_at_ready is not None, 5.0, "state at READY")
            state = p.last("daemon/state")
            assert notes.state_at_ready is not None
            assert notes.state_at_ready["state"] == "online", notes.state_at_ready
            assert notes.state_at_ready["session"] == state["session"]
            assert notes.statuses()[-1].startswith(f"online, session {state['session']}, 6 sys")
            (ready_at,) = notes.times("READY=1")
            # while starting it asked for more time, never pinged
            assert all(t >= ready_at for t in notes.times("WATCHDOG=1"))
            await p.wait(lambda: len(notes.times("WATCHDOG=1")) >= 2, 5.0, "watchdog pings")

            await stack.home()
            # unit A's own truth, read after the reply: the last truth before it may have been
            # sampled while the turntable still moved, with no unit under the port
            parked_z = (await stack.settled_truth(time.monotonic()))["units"]["A"]["z_m"]
            cmd_id = await p.send("acu", "deploy", {"unit": "A", "z_m": TARGET_Z_M})
            assert (await p.ack(cmd_id))["result"] == "accepted"
            await p.status("acu", lambda s: s["state"] == "DEPLOYING", 10.0)
            z_moving = await _moving(stack)

            stopped_at = time.monotonic()
            stack.daemon.proc.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(stack.daemon.proc.wait, 30)
            assert code == 0, stack.daemon.output()[-3000:]

            assert [t for t in notes.times("STOPPING=1") if t >= stopped_at]
            await p.wait(lambda: p.last("daemon/state")["state"] == "offline", 5.0, "offline")
            # the daemon's announcement that every drive stands came before `offline`
            kinds = [
                ("shutdown", m.payload)
                if m.topic.endswith("/events") and m.payload.get("event") == "shutdown"
                else ("offline", m.payload)
                for m in p.msgs
                if m.at >= stopped_at
                and (
                    (m.topic.endswith("/events") and m.payload.get("event") == "shutdown")
                    or (m.topic.endswith("/daemon/state") and m.payload["state"] == "offline")
                )
            ]
            assert [k for k, _ in kinds] == ["shutdown", "offline"], kinds
            assert "acu" in kinds[0][1]["standing"]
            assert kinds[0][1]["not_standing"] == []

            # the simulator: the source stands, short of the target, below where it was moving
            after = await stack.settled_truth(time.monotonic())
            later = await stack.settled_truth(time.monotonic() + 0.3)  # 15 s of physics
            z_after, z_later = after["position"]["z_m"], later["position"]["z_m"]
            assert z_after == z_later, (after, later)
            assert TARGET_Z_M + 1.0 < z_after < parked_z, (z_after, parked_z)
            assert z_after <= z_moving
    finally:
        listener.cancel()
        with pytest.raises(asyncio.CancelledError):
            await listener
