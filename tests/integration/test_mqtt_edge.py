"""The MQTT edge: will -> lost, clean stop -> offline, broker restart, v5 Response Topic and
Message Expiry."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

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
    """The broker restarts empty (no persistence: a retained marker published before is gone);
    a fresh subscriber then gets the daemon's retained state, interlock board and statuses,
    which only the daemon's re-publication after its reconnect can have put there (`daemon/state`
    and `interlocks` are published only on connect and on change)."""
    assert "persistence false" in own_broker.conf.read_text()
    async with hil_stack(own_broker, tmp_path) as stack:
        p = stack.probe
        root = p.root
        session = p.last("daemon/state")["session"]
        board = await p.wait(lambda: p.last("interlocks"), 5.0, "interlock board")
        seq_before = stack.acu()["seq"]
        await p.publish("client/pytest/marker", {"before": "restart"}, retain=True)
        await p.wait(lambda: p.last("client/pytest/marker"), 5.0, "marker")
        await p.__aexit__(None, None, None)
        own_broker.restart()
        # a watcher until the daemon is back and has re-published (live or retained, all of it
        # after the restart: the watcher connected after it)
        wanted = ("daemon/state", "interlocks", "acu/status", "house/status")
        async with Probe(own_broker.host, own_broker.port, root) as watcher:
            await watcher.wait(
                lambda: (
                    (watcher.last("daemon/state") or {}).get("state") == "online"
                    and all(watcher.last(s) for s in wanted)
                ),
                20.0,
                "daemon reconnected",
            )
        # then a fresh subscriber: what it gets at once, flagged retained, is the broker's store
        async with Probe(own_broker.host, own_broker.port, root) as fresh:
            stack.probe = fresh

            def retained(suffix: str) -> Any:
                got = [m for m in fresh.msgs if m.topic == f"{root}/{suffix}" and m.retain]
                return got[0].payload if got else None

            await fresh.wait(
                lambda: all(retained(s) for s in wanted), 5.0, "re-published retained state"
            )
            state = retained("daemon/state")
            assert state["state"] == "online" and state["session"] == session, state
            # the board the daemon had, re-published as it was (nothing changed meanwhile)
            assert retained("interlocks") == board, (retained("interlocks"), board)
            assert retained("acu/status")["seq"] >= seq_before
            assert retained("house/status")["state"] == "READY"
            # and commands work again
            rep = await fresh.run("acu", "status")
            assert rep["result"] == "completed"
            # the broker's store really started empty (any retained message came before the
            # reply above, on the same connection)
            assert retained("client/pytest/marker") is None


async def test_reply_goes_to_response_topic(mosquitto: Broker, tmp_path: Path) -> None:
    """v5 properties: Response Topic + Correlation Data route the replies; a Message Expiry
    Interval is honoured without getting in the way of a command in time."""
    async with hil_stack(mosquitto, tmp_path) as stack:
        p = stack.probe
        expiry = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        expiry.MessageExpiryInterval = 30
        await p.publish("acu/cmd", {"id": "exp-1", "action": "status"}, properties=expiry)
        assert (await p.ack("exp-1"))["result"] == "accepted"
        assert (await p.final("exp-1"))["result"] == "completed"
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
