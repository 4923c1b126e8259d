"""Fault injection and events over a real Mosquitto (skipped when it is not installed)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from simulators.config import load_config
from simulators.rack import Rack
from simulators.stepper_map import HALT

from .conftest import free_port, write_config

MOSQUITTO = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin")


@pytest.fixture
def broker_port(tmp_path: Path) -> Iterator[int]:
    if MOSQUITTO is None:
        pytest.skip("mosquitto not installed")
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "set_tcp_nodelay true\n" + ("user root\n" if os.geteuid() == 0 else "")
    )
    with subprocess.Popen(
        [MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as proc:
        try:
            deadline = time.monotonic() + 5.0
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    assert proc.poll() is None, "mosquitto died"
                    assert time.monotonic() < deadline, "mosquitto did not listen"
                    time.sleep(0.02)
            yield port
        finally:
            proc.terminate()
            proc.wait(timeout=5)


async def test_fault_events_and_truth_over_mqtt(tmp_path: Path, broker_port: int) -> None:
    cfg = load_config(write_config(tmp_path, mqtt_port=broker_port), env={})
    seen: dict[str, list[Any]] = {}

    def got(topic_end: str, pred: Any) -> bool:
        return any(pred(p) for p in seen.get(topic_end, []))

    async with (
        Rack(cfg) as rack,
        aiomqtt.Client("127.0.0.1", broker_port, protocol=aiomqtt.ProtocolVersion.V5) as client,
    ):
        await client.subscribe("test/calib/sim/#", qos=1)
        assert rack.link is not None
        async with asyncio.timeout(3.0):
            while not rack.link.connected:
                await asyncio.sleep(0.01)
        await client.publish("test/calib/sim/acu/fault", b'{"fault": "snag", "axis": "A"}', qos=1)
        await client.publish("test/calib/sim/acu/fault", b'{"fault": "melt", "axis": "A"}', qos=1)
        async with asyncio.timeout(3.0):
            async for msg in client.messages:
                topic = str(msg.topic).removeprefix("test/calib/sim/")
                assert isinstance(msg.payload, bytes)
                seen.setdefault(topic, []).append(json.loads(msg.payload))
                if got("acu/events", lambda p: p["event"] == "fault_injected") and not got(
                    "acu/events", lambda p: p["event"] == "stopped"
                ):
                    assert rack.acu is not None
                    rack.acu.units["A"].drive.command(HALT, rack.clock.now_s())
                if (
                    got("acu/events", lambda p: p["event"] == "stopped")
                    and got("acu/events", lambda p: p["event"] == "error")
                    and "acu/truth" in seen
                    and "house/truth" in seen
                ):
                    break
    stopped = next(p for p in seen["acu/events"] if p["event"] == "stopped")
    assert stopped["fault"] == "snag"
    assert stopped["reaction_ms"] > 0
    truth = seen["acu/truth"][-1]
    assert set(truth) == {"system", "ts", "position", "tension_n", "turntable_deg", "units"}
    assert seen["house/truth"][-1]["valves"] == {"acu": "closed"}
