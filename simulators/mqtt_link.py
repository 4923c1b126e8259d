"""The simulator's own MQTT link: fault messages in, events and truth out, reconnecting."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from collections.abc import Callable

import aiomqtt

from simulators.config import MqttCfg

log = logging.getLogger(__name__)

NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
QUEUE_SIZE = 512
PUBLISH_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 5.0
BACKOFF_MIN_S = 0.2
BACKOFF_MAX_S = 5.0

# (system, decoded payload or None when not JSON, retained)
FaultHandler = Callable[[str, object, bool], None]


class MqttLink:
    """Subscribes ``{root}/sim/+/fault``; publishes what the rack queues."""

    def __init__(self, cfg: MqttCfg, on_fault: FaultHandler) -> None:
        self.cfg = cfg
        self.root = cfg.topic_root
        self.on_fault = on_fault
        self.connected = False
        self._queue: asyncio.Queue[tuple[str, bytes, int]] = asyncio.Queue(QUEUE_SIZE)

    def publish(self, topic: str, payload: dict[str, object], qos: int) -> None:
        """Queue a message (dropped when the queue is full)."""
        try:
            self._queue.put_nowait((topic, json.dumps(payload).encode(), qos))
        except asyncio.QueueFull:
            log.debug("mqtt queue full, dropping %s", topic)

    async def run(self) -> None:
        """Connect, serve, reconnect with backoff; forever (until cancelled)."""
        backoff_s = BACKOFF_MIN_S
        warned = False
        while True:
            try:
                await self._session()
            except* (aiomqtt.MqttError, TimeoutError, OSError) as group:
                level = logging.DEBUG if warned else logging.WARNING
                log.log(level, "mqtt %s:%s: %s", self.cfg.host, self.cfg.port, group.exceptions[0])
                warned = True
            finally:
                if self.connected:
                    warned = False
                    backoff_s = BACKOFF_MIN_S
                self.connected = False
            await asyncio.sleep(backoff_s)
            backoff_s = min(backoff_s * 2, BACKOFF_MAX_S)

    async def _session(self) -> None:
        client = aiomqtt.Client(
            self.cfg.host,
            self.cfg.port,
            identifier=f"calibsim-{os.getpid()}",
            protocol=aiomqtt.ProtocolVersion.V5,
            socket_options=NODELAY,
            timeout=CONNECT_TIMEOUT_S,
        )
        async with client:
            await client.subscribe(f"{self.root}/sim/+/fault", qos=1)
            self.connected = True
            log.info("mqtt connected to %s:%s", self.cfg.host, self.cfg.port)
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._receive(client), name="calibsim.mqtt.receive")
                tg.create_task(self._send(client), name="calibsim.mqtt.send")

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for msg in client.messages:
            parts = str(msg.topic).split("/")
            if len(parts) < 3:
                continue
            system = parts[-2]
            raw = msg.payload if isinstance(msg.payload, bytes | str) else b""
            try:
                payload: object = json.loads(raw)
            except ValueError:
                payload = None
            self.on_fault(system, payload, bool(msg.retain))

    async def _send(self, client: aiomqtt.Client) -> None:
        while True:
            topic, payload, qos = await self._queue.get()
            async with asyncio.timeout(PUBLISH_TIMEOUT_S):
                await client.publish(topic, payload, qos=qos)
