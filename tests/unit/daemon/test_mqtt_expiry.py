"""MQTT v5 Message Expiry is counted from when a command entered aiomqtt's incoming queue, so
time spent waiting in the daemon counts (an expired command is rejected `expired`, never run)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiomqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from calibd.config import MqttCfg
from calibd.core.commands import Inbound, parse
from calibd.core.errors import CommandError
from calibd.core.outbox import Outbox
from calibd.mqtt import Arrivals, MqttEdge, Topics, to_inbound

TOPICS = Topics("juno/calib")


class Clock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def _msg(expiry_s: int | None, mid: int = 1) -> aiomqtt.Message:
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    if expiry_s is not None:
        props.MessageExpiryInterval = expiry_s
    payload = json.dumps({"id": f"c-{mid}", "action": "home"}).encode()
    return aiomqtt.Message("juno/calib/acu/cmd", payload, 1, False, mid, props)


async def _through_queue(expiry_s: int, wait_s: float) -> tuple[Inbound, Clock]:
    """A command put into the edge's queue, read `wait_s` later, as the dispatcher gets it."""
    clock = Clock()
    arrivals = Arrivals(clock)
    queue = arrivals.queue_type(maxsize=8)
    queue.put_nowait(_msg(expiry_s))
    put_at = clock.now_s
    clock.now_s += wait_s
    msg = await queue.get()
    inbound = to_inbound(TOPICS, msg, arrivals.take(msg))
    assert inbound is not None
    assert inbound.received_at == put_at  # the arrival, not the read
    assert inbound.expiry_s == float(expiry_s)
    return inbound, clock


async def test_expired_while_queued_in_the_daemon_is_rejected() -> None:
    inbound, clock = await _through_queue(expiry_s=1, wait_s=2.0)
    with pytest.raises(CommandError) as exc:
        parse(inbound, now=clock())
    assert exc.value.code == "expired"


async def test_not_yet_expired_runs() -> None:
    inbound, clock = await _through_queue(expiry_s=5, wait_s=2.0)
    cmd = parse(inbound, now=clock())
    assert (cmd.id, cmd.action) == ("c-1", "home")


async def test_stamps_are_taken_once_and_a_dropped_message_has_none() -> None:
    clock = Clock()
    arrivals = Arrivals(clock)
    queue = arrivals.queue_type(maxsize=1)
    first, dropped = _msg(None, 1), _msg(None, 2)
    queue.put_nowait(first)
    clock.now_s += 1.0
    with pytest.raises(asyncio.QueueFull):  # aiomqtt catches it and drops the message
        queue.put_nowait(dropped)
    assert arrivals.take(first) == 1000.0
    clock.now_s += 1.0
    # taken: forgotten (a second take, or a message that never got in, reads as "now")
    assert arrivals.take(first) == 1002.0
    assert arrivals.take(dropped) == 1002.0
    # and without a v5 expiry nothing expires, however long it waited
    inbound = to_inbound(TOPICS, first, 0.0)
    assert inbound is not None and inbound.expiry_s is None
    assert parse(inbound, now=1e9).id == "c-1"


async def test_the_edge_gives_aiomqtt_its_stamping_queue() -> None:
    def handle(_: Inbound) -> None:
        raise AssertionError("nothing is received here")

    birth: dict[str, Any] = {"session": 1, "version": "test"}
    edge = MqttEdge(MqttCfg(inbound_queue=16), Outbox(), handle, birth=birth)
    client = edge._client()
    assert type(client._queue) is edge.arrivals.queue_type
    assert client._queue.maxsize == 16
