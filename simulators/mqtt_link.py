"""The simulator's own MQTT link: fault messages in, events and truth out, reconnecting.

It logs in with `[mqtt.sim]` (the rack's own account; its password file read once, here) and
TLS per `[mqtt.tls]`; without `[mqtt.sim]` anonymously (dev and tests). A refused login is
logged as an error and retried: the simulated hardware keeps serving meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import ssl
from collections.abc import Callable
from pathlib import Path

import aiomqtt

from simulators.config import ConfigError, MqttCfg

log = logging.getLogger(__name__)

NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
QUEUE_SIZE = 512
PUBLISH_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 5.0
BACKOFF_MIN_S = 0.2
BACKOFF_MAX_S = 5.0

#: CONNACK reason codes of a refused login (Mosquitto 2.0 sends 135 for a wrong password too)
LOGIN_REFUSED = (4, 5, 134, 135)

# (system, decoded payload or None when not JSON, retained)
FaultHandler = Callable[[str, object, bool], None]


def login(cfg: MqttCfg) -> tuple[str | None, str | None]:
    """(user name, password) of `[mqtt.sim]`; ConfigError when its password file is unusable."""
    account = cfg.sim
    if account is None:
        return None, None
    if account.password_file is None:
        return account.username, account.password
    path = Path(account.password_file)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"mqtt.sim.password_file: cannot read {path}: {exc}") from None
    if not lines or not lines[0]:
        raise ConfigError(f"mqtt.sim.password_file: {path} is empty")
    return account.username, lines[0]


def tls_context(cfg: MqttCfg) -> ssl.SSLContext | None:
    """TLS 1.2+ with the broker's certificate and host name verified, per `[mqtt.tls]`."""
    tls = cfg.tls
    if tls is None:
        return None
    try:
        ctx = ssl.create_default_context(cafile=tls.ca_file)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if tls.cert_file is not None:
            ctx.load_cert_chain(tls.cert_file, tls.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"mqtt.tls: {exc}") from None
    return ctx


def _refused_login(exc: BaseException) -> bool:
    rc = getattr(exc, "rc", None)
    return isinstance(exc, aiomqtt.MqttCodeError) and getattr(rc, "value", rc) in LOGIN_REFUSED


class MqttLink:
    """Subscribes ``{root}/sim/+/fault``; publishes what the rack queues."""

    def __init__(self, cfg: MqttCfg, on_fault: FaultHandler) -> None:
        self.cfg = cfg
        self.root = cfg.topic_root
        self.on_fault = on_fault
        self.username, self._password = login(cfg)
        self._tls = tls_context(cfg)
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
                exc = group.exceptions[0]
                if _refused_login(exc):
                    log.log(
                        logging.DEBUG if warned else logging.ERROR,
                        "mqtt %s:%s refused the login of %r (%s): check [mqtt.sim];"
                        " no fault injection until it accepts",
                        self.cfg.host,
                        self.cfg.port,
                        self.username,
                        exc,
                    )
                else:
                    level = logging.DEBUG if warned else logging.WARNING
                    log.log(level, "mqtt %s:%s: %s", self.cfg.host, self.cfg.port, exc)
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
            username=self.username,
            password=self._password,
            tls_context=self._tls,
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
