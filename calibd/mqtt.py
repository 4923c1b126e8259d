"""The MQTT edge: the only daemon module that imports aiomqtt.

Commands in (routed to the dispatcher as plain `Inbound` values), everything else out (from the
outbox). MQTT v5 with TCP_NODELAY; the will publishes `lost`, a clean stop `offline`; reconnect
with exponential backoff, re-subscribe and re-publish every retained status after each connect.
A command's v5 Message Expiry runs from its arrival in the client's queue (`Arrivals`).
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import weakref
from collections.abc import Callable
from typing import Any

import aiomqtt
import structlog
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from calibd.cfg_mqtt import tls_context_of
from calibd.config import MqttCfg
from calibd.core.commands import Inbound, ReplyRoute
from calibd.core.outbox import Outbox, Outgoing
from drivers.aio import cancel_safe

log = structlog.get_logger("calibd.mqtt", subsystem="mqtt")
NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


class Topics:
    """Topic names of the contract, in one place."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/")
        self.daemon_state = f"{self.root}/daemon/state"
        self.events = f"{self.root}/events"
        self.interlocks = f"{self.root}/interlocks"
        self.global_cmd = f"{self.root}/cmd"
        self.global_reply = f"{self.root}/reply"

    def status(self, system: str) -> str:
        return f"{self.root}/{system}/status"

    def telemetry(self, system: str) -> str:
        return f"{self.root}/{system}/telemetry"

    def reply(self, system: str | None) -> str:
        return self.global_reply if system is None else f"{self.root}/{system}/reply"

    def subscriptions(self) -> list[str]:
        return [f"{self.root}/+/cmd", self.global_cmd, f"{self.root}/+/expert/cmd"]

    def response_topic_error(self, topic: str) -> str | None:
        """Why a command's Response Topic may not be used, or None. Under the root only a reply
        topic or a client inbox `{root}/client/...` is allowed, so that no command can make the
        daemon publish onto its own status, events or command topics (the broker's ACL lets the
        daemon write those); outside the root the broker's ACL decides."""
        if any(c in topic for c in "#+\0"):
            return f"response topic {topic!r} contains a wildcard"
        if not topic.startswith(self.root + "/"):
            return None
        parts = topic[len(self.root) + 1 :].split("/")
        if parts[0] == "client" and len(parts) >= 2 and all(parts[1:]):
            return None
        if topic == self.global_reply or (len(parts) == 2 and parts[1] == "reply"):
            return None
        return f"response topic {topic!r}: under {self.root}/ use {self.root}/client/<user>/..."

    def parse_cmd(self, topic: str) -> tuple[str | None, bool] | None:
        """(system or None for global, expert?) for a command topic, else None."""
        if topic == self.global_cmd:
            return None, False
        if not topic.startswith(self.root + "/"):
            return None
        parts = topic[len(self.root) + 1 :].split("/")
        if len(parts) == 2 and parts[1] == "cmd":
            return parts[0], False
        if len(parts) == 3 and parts[1:] == ["expert", "cmd"]:
            return parts[0], True
        return None


class Arrivals:
    """When each incoming message entered aiomqtt's queue (`Client(queue_type=...)`, noted in
    its `put_nowait`), so a v5 Message Expiry counts the time spent waiting in it. Stamps are
    keyed weakly by message (gone with it; the queue is bounded by `inbound_queue`)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._at: weakref.WeakKeyDictionary[aiomqtt.Message, float] = weakref.WeakKeyDictionary()
        arrivals = self

        class StampedQueue(asyncio.Queue[aiomqtt.Message]):
            def put_nowait(self, item: aiomqtt.Message) -> None:
                at = arrivals.clock()
                super().put_nowait(item)  # QueueFull: aiomqtt drops it, nothing noted
                arrivals._at[item] = at

        self.queue_type: type[asyncio.Queue[aiomqtt.Message]] = StampedQueue

    def take(self, msg: aiomqtt.Message) -> float:
        """When `msg` entered the queue (now, for a message that did not come through it)."""
        at = self._at.pop(msg, None)
        return self.clock() if at is None else at


def to_inbound(
    topics: Topics, msg: aiomqtt.Message, received_at: float | None = None
) -> Inbound | None:
    """The command in `msg` (None: not a command topic); `received_at` (monotonic): when it
    arrived, from `Arrivals.take` (default now)."""
    parsed = topics.parse_cmd(msg.topic.value)
    if parsed is None:
        return None
    system, expert = parsed
    props = msg.properties
    expiry = getattr(props, "MessageExpiryInterval", None) if props is not None else None
    response_topic = getattr(props, "ResponseTopic", None) if props is not None else None
    correlation = getattr(props, "CorrelationData", None) if props is not None else None
    payload = msg.payload if isinstance(msg.payload, bytes) else str(msg.payload).encode()
    route_error = topics.response_topic_error(response_topic) if response_topic else None
    if route_error is not None:
        log.warning("response_topic_refused", topic=msg.topic.value, reason=route_error)
        response_topic = None
    return Inbound(
        system=system,
        payload=payload,
        retained=bool(msg.retain),
        expiry_s=float(expiry) if expiry is not None else None,
        received_at=time.monotonic() if received_at is None else received_at,
        route=ReplyRoute(response_topic or None, correlation),
        expert=expert,
        route_error=route_error,
    )


class MqttEdge:
    def __init__(
        self,
        cfg: MqttCfg,
        outbox: Outbox,
        handle: Callable[[Inbound], None],
        *,
        birth: dict[str, Any],
        watch: dict[str, Callable[[bytes], None]] | None = None,
    ) -> None:
        #: the password file is read once (`calibd run` already did, reporting a bad file)
        self.cfg = cfg if cfg.password_file is None else cfg.with_secrets()
        self._tls = tls_context_of(cfg.tls) if cfg.tls is not None else None
        self.outbox = outbox
        self.handle = handle
        #: non-command topics (absolute) whose payloads go to a callback, e.g. the run permit
        self.watch = dict(watch or {})
        self.topics = Topics(cfg.topic_root)
        self.birth = birth
        self.connected = asyncio.Event()
        #: set when the systems have read their hardware once: `online` is said only after it
        #: (a command sent the moment the daemon is online is judged on real readings)
        self.ready = asyncio.Event()
        self.connects = 0
        self.arrivals = Arrivals()

    def _state(self, state: str) -> bytes:
        return json.dumps({**self.birth, "state": state}).encode()

    def _client(self) -> aiomqtt.Client:
        will = aiomqtt.Will(self.topics.daemon_state, self._state("lost"), qos=1, retain=True)
        return aiomqtt.Client(
            self.cfg.host,
            self.cfg.port,
            identifier=f"{self.cfg.client_id}-{self.birth['session']}",
            username=self.cfg.username,
            password=self.cfg.password.get_secret_value() if self.cfg.password else None,
            tls_context=self._tls,
            protocol=aiomqtt.ProtocolVersion.V5,
            will=will,
            keepalive=self.cfg.keepalive_s,
            timeout=self.cfg.publish_timeout_s,
            socket_options=NODELAY,
            max_queued_incoming_messages=self.cfg.inbound_queue,
            queue_type=self.arrivals.queue_type,
        )

    async def run(self) -> None:
        """Connect, serve, reconnect with backoff; publish `offline` when cancelled."""
        backoff_s = self.cfg.reconnect_initial_s
        while True:
            client = self._client()
            try:
                async with asyncio.timeout(self.cfg.publish_timeout_s * 2):
                    await client.__aenter__()
            except (aiomqtt.MqttError, TimeoutError, OSError) as exc:
                log.warning("mqtt_connect_failed", error=str(exc), retry_in_s=backoff_s)
                await asyncio.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, self.cfg.reconnect_max_s)
                continue
            backoff_s = self.cfg.reconnect_initial_s
            try:
                try:
                    await self._serve(client)
                except* aiomqtt.MqttError as group:
                    log.warning("mqtt_connection_lost", error=str(group.exceptions[0]))
            except asyncio.CancelledError:
                self.connected.clear()
                await self._goodbye(client)
                raise
            self.connected.clear()
            await self._force_close(client)
            await asyncio.sleep(backoff_s)

    async def _serve(self, client: aiomqtt.Client) -> None:
        # subscribe first: a client that sees `online` may send a command at once
        opts = SubscribeOptions(qos=1, retainAsPublished=True)
        for topic in [*self.topics.subscriptions(), *self.watch]:
            await cancel_safe(client.subscribe(topic, options=opts))
        await self.ready.wait()
        online = self._state("online")
        await cancel_safe(client.publish(self.topics.daemon_state, online, qos=1, retain=True))
        for system, doc in self.outbox.latest_statuses().items():
            await self._publish(client, Outgoing("status", system, doc))
        board = self.outbox.latest_interlocks()
        if board is not None:
            await self._publish(client, Outgoing("interlocks", None, board))
        for topic, doc in self.outbox.latest_retained().items():
            await self._publish(client, Outgoing("retained", None, doc, topic=topic))
        self.connects += 1
        self.connected.set()
        log.info("mqtt_connected", host=self.cfg.host, port=self.cfg.port, connects=self.connects)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._rx(client), name="mqtt:rx")
            tg.create_task(self._tx(client), name="mqtt:tx")

    async def _rx(self, client: aiomqtt.Client) -> None:
        async for msg in client.messages:
            received_at = self.arrivals.take(msg)
            watcher = self.watch.get(msg.topic.value)
            if watcher is not None:
                payload = msg.payload if isinstance(msg.payload, bytes) else b""
                watcher(payload)
                continue
            inbound = to_inbound(self.topics, msg, received_at)
            if inbound is None or not inbound.payload:
                continue  # not a command topic, or the echo of a retained command we cleared
            if msg.retain and msg.payload:
                # never leave a retained command on the broker to be replayed to others
                await cancel_safe(client.publish(msg.topic.value, b"", qos=1, retain=True))
            self.handle(inbound)

    async def _tx(self, client: aiomqtt.Client) -> None:
        while True:
            item = await self.outbox.get()
            await self._publish(client, item)

    async def _publish(self, client: aiomqtt.Client, item: Outgoing) -> None:
        topic, qos, retain, props = self._route(item)
        payload = json.dumps(item.payload, separators=(",", ":")).encode()
        await cancel_safe(client.publish(topic, payload, qos=qos, retain=retain, properties=props))

    def _route(self, item: Outgoing) -> tuple[str, int, bool, Properties | None]:
        t = self.topics
        if item.kind == "status":
            assert item.system is not None
            return t.status(item.system), 1, True, None
        if item.kind == "telemetry":
            assert item.system is not None
            return t.telemetry(item.system), 0, False, None
        if item.kind == "event":
            return t.events, 1, False, None
        if item.kind == "interlocks":
            return t.interlocks, 1, True, None
        if item.kind in ("retained", "message"):
            assert item.topic is not None
            return f"{t.root}/{item.topic}", 1, item.kind == "retained", None
        route = item.route or ReplyRoute()
        if route.response_topic:
            props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            if route.correlation_data is not None:
                props.CorrelationData = route.correlation_data
            return route.response_topic, 1, False, props
        return t.reply(item.system), 1, False, None

    async def _goodbye(self, client: aiomqtt.Client) -> None:
        """Clean stop: drain what is queued (briefly), publish `offline`, disconnect."""
        try:
            async with asyncio.timeout(2.0):
                while (item := self.outbox.get_nowait()) is not None:
                    await self._publish(client, item)
                await client.publish(
                    self.topics.daemon_state, self._state("offline"), qos=1, retain=True
                )
                await client.__aexit__(None, None, None)
        except (aiomqtt.MqttError, TimeoutError) as exc:
            log.warning("mqtt_goodbye_incomplete", error=str(exc))

    @staticmethod
    async def _force_close(client: aiomqtt.Client) -> None:
        try:
            async with asyncio.timeout(1.0):
                await client.__aexit__(None, None, None)
        except (aiomqtt.MqttError, TimeoutError):
            pass
