"""The MQTT edge: will -> lost, clean stop -> offline, broker restart, v5 Response Topic."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from tests.conftest import Broker
from tests.integration.stack import hil_stack
from tests.mqtt_probe import Probe

pytestmark = pytest.mark.integration


async def test_kill9_publishes_lost_and_clean_stop_offline(
    mosquitto: Broker, tmp_path: Path
) -> None:
    async with hil_stack(mosquitto, tmp_path) as stack:
        p = stack.probe
        online = p.last("daemon/state")
        assert online["session"] >= 1 and online["version"]
        stack.daemon.kill9()
        lost = await p.wait(
            lambda: (p.last("daemon/state") or {}).get("state") == "lost", 10.0, "lost"
        )
        assert lost
        # the retained state says lost to a newcomer too
        async with Probe(mosquitto.host, mosquitto.port, stack.probe.root) as late:
            await late.wait(lambda: late.last("daemon/state"), 5.0, "retained state")
            assert late.last("daemon/state")["state"] == "lost"
        # a new daemon: session increases; SIGTERM -> offline
        from tests.conftest import start_daemon

        stack.daemon = start_daemon(stack.config, tmp_path, "calibd2")
        await p.wait(
            lambda: (p.last("daemon/state") or {}).get("state") == "online", 20.0, "online"
        )
        assert p.last("daemon/state")["session"] == online["session"] + 1
        stack.daemon.proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(stack.daemon.proc.wait, 10) == 0
        await p.wait(lambda: p.last("daemon/state")["state"] == "offline", 5.0, "offline")


async def test_broker_restart_reconnects_and_republishes(
    own_broker: Broker, tmp_path: Path
) -> None:
    async with hil_stack(own_broker, tmp_path) as stack:
        seq_before = stack.acu()["seq"]
        await stack.probe.__aexit__(None, None, None)
        own_broker.restart()  # no persistence: every retained message is gone
        async with Probe(own_broker.host, own_broker.port, stack.probe.root) as probe:
            stack.probe = probe
            await probe.wait(
                lambda: (
                    probe.last("acu/status")
                    and probe.last("house/status")
                    and (probe.last("daemon/state") or {}).get("state") == "online"
                ),
                20.0,
                "re-published retained state",
            )
            assert probe.last("acu/status")["seq"] >= seq_before
            # and commands work again
            rep = await probe.run("acu", "status")
            assert rep["result"] == "completed"


async def test_reply_goes_to_response_topic(mosquitto: Broker, tmp_path: Path) -> None:
    async with hil_stack(mosquitto, tmp_path) as stack:
        p = stack.probe
        corr = await p.request("acu", {"id": "rt-1", "action": "status"}, "client/me/inbox")
        got = await p.wait(
            lambda: [m for m in p.msgs if m.topic.endswith("/client/me/inbox")],
            5.0,
            "reply on response topic",
        )
        await p.wait(
            lambda: len([m for m in p.msgs if m.topic.endswith("/client/me/inbox")]) >= 2,
            5.0,
            "final",
        )
        got = [m for m in p.msgs if m.topic.endswith("/client/me/inbox")]
        assert [m.payload["result"] for m in got] == ["accepted", "completed"]
        assert all(m.correlation == corr for m in got)
        assert not p.replies("rt-1")  # nothing on the default reply topic
        # a Response Topic onto the daemon's own topics is refused: the reply goes to the default
        # reply topic, nothing is published on acu/status, nothing ran
        status_before = len([m for m in p.msgs if m.topic.endswith("/acu/status")])
        await p.request("acu", {"id": "rt-2", "action": "home"}, "acu/status")
        rep = await p.wait(lambda: p.replies("rt-2"), 5.0, "refusal on the default reply topic")
        assert rep[0]["result"] == "rejected"
        assert rep[0]["error"]["code"] == "bad_request"
        assert "client/<user>" in rep[0]["error"]["message"]
        on_status = [m for m in p.msgs if m.topic.endswith("/acu/status")][status_before:]
        assert all("result" not in m.payload for m in on_status)
        assert p.last("acu/status")["state"] != "HOMING"
