"""calibctl's own short-lived MQTT v5 link (not the daemon's edge): commands with a private
Response Topic, retained reads with a barrier, and one ordered stream of everything received.

It logs in as the operator's own broker account (`Auth`: user name, password, TLS). The inbox is
`{root}/client/{user}/{random}`, which the broker's ACL lets only that user (and the daemon's
replies) write. A login the broker refuses, a certificate that does not verify, and a publish the
ACL drops (a v5 PUBACK "not authorized") are errors with exit code 2, not waits.

A reader task (owned by the link, cancelled and awaited when it closes) moves every message
into a queue; `next()` takes from that queue under a deadline, so a timeout never loses one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import ssl
import uuid
from dataclasses import dataclass
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from calibd.ctl.errors import UNAVAILABLE, USAGE, CtlError

NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
#: connecting, subscribing, publishing and disconnecting each get this long
IO_TIMEOUT_S = 5.0
#: paho's own log lines (e.g. "failed to receive on socket") stay out of the operator's
#: terminal: every failure becomes one CtlError line
QUIET = logging.getLogger("calibctl.mqtt")
QUIET.addHandler(logging.NullHandler())
QUIET.propagate = False


#: CONNACK reason codes of a refused login (v5: 134 bad user name or password, 135 not
#: authorized, which Mosquitto 2.0 sends for both)
LOGIN_REFUSED = (4, 5, 134, 135)


@dataclass(frozen=True)
class Auth:
    """Who calibctl logs in as, and TLS (None: plain TCP). No user name: anonymous (dev)."""

    username: str | None = None
    password: str | None = None
    tls: ssl.SSLContext | None = None


@dataclass(frozen=True)
class Inbound:
    """One received message: `doc` is the parsed JSON (None if empty or not JSON)."""

    topic: str
    doc: Any
    retain: bool
    correlation: bytes | None = None


def _inbound(msg: aiomqtt.Message) -> Inbound:
    raw = msg.payload if isinstance(msg.payload, bytes | bytearray) else str(msg.payload).encode()
    try:
        doc: Any = json.loads(raw) if raw else None
    except ValueError:
        doc = None
    corr = getattr(msg.properties, "CorrelationData", None) if msg.properties else None
    return Inbound(msg.topic.value, doc, bool(msg.retain), corr)


class CtlLink:
    """A short-lived operator connection to the broker under `root`."""

    def __init__(
        self,
        host: str,
        port: int,
        root: str,
        operator: str = "calibctl",
        *,
        auth: Auth | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.root = root.rstrip("/")
        self.operator = operator
        self.auth = auth or Auth()
        user = self.auth.username or "anonymous"
        self.inbox = f"{self.root}/client/{user}/{uuid.uuid4().hex[:12]}"
        self.client = aiomqtt.Client(
            host,
            port,
            protocol=aiomqtt.ProtocolVersion.V5,
            socket_options=NODELAY,
            identifier=f"calibctl-{uuid.uuid4().hex[:8]}",
            username=self.auth.username,
            password=self.auth.password,
            tls_context=self.auth.tls,
            timeout=IO_TIMEOUT_S,
            logger=QUIET,
        )
        self._queue: asyncio.Queue[Inbound | CtlError] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self._syncs = 0
        self._publishing = asyncio.Lock()
        self._refused = 0
        self._count_refusals()

    def _count_refusals(self) -> None:
        """aiomqtt drops the PUBACK's reason code; count the failures (one publish at a time,
        so a change across one publish is that publish's refusal)."""
        paho = self.client._client  # noqa: SLF001
        inner = paho.on_publish

        def on_publish(*args: Any) -> None:
            reason = args[3] if len(args) > 3 else None
            if getattr(reason, "is_failure", False):
                self._refused += 1
            if inner is not None:
                inner(*args)

        paho.on_publish = on_publish

    # ---- connection -------------------------------------------------------------------------

    async def __aenter__(self) -> CtlLink:
        try:
            async with asyncio.timeout(IO_TIMEOUT_S):
                await self.client.__aenter__()
        except (aiomqtt.MqttError, TimeoutError, OSError) as exc:
            raise self._connect_error(exc) from None
        self._reader = asyncio.create_task(self._read(), name="calibctl-reader")
        try:
            await self.subscribe(f"{self.inbox}/#")
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            if self._reader is not None:
                self._reader.cancel()
                try:
                    await self._reader
                except asyncio.CancelledError:
                    task = asyncio.current_task()
                    if task is not None and task.cancelling():
                        raise
        finally:  # a clean DISCONNECT, also when interrupted
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError, OSError):
                async with asyncio.timeout(IO_TIMEOUT_S):
                    await self.client.__aexit__(None, None, None)

    def _connect_error(self, exc: BaseException) -> CtlError:
        where = f"the MQTT broker at {self.host}:{self.port}"
        rc = getattr(exc, "rc", None)
        if isinstance(exc, aiomqtt.MqttCodeError) and getattr(rc, "value", rc) in LOGIN_REFUSED:
            who = self.auth.username
            return CtlError(
                f"{where} refused the login"
                + (f" of {who!r}" if who else " without a user name")
                + f" ({exc}): check --username and --password-file (docs/calibctl.md)",
                USAGE,
            )
        cause = exc.__context__ if isinstance(exc, aiomqtt.MqttError) else exc
        if isinstance(cause, ssl.SSLCertVerificationError):
            return CtlError(
                f"{where}: TLS: its certificate does not verify ({cause.verify_message}):"
                " --tls-ca names the CA that signed it, and it must name the host you connect to",
                USAGE,
            )
        if isinstance(exc, TimeoutError):
            hint = f"no answer within {IO_TIMEOUT_S:g} s (a TLS port without --tls-ca?)"
            return CtlError(f"cannot reach {where}: {hint}", UNAVAILABLE)
        return CtlError(f"cannot reach {where}: {exc}", UNAVAILABLE)

    async def _read(self) -> None:
        try:
            async for msg in self.client.messages:
                self._queue.put_nowait(_inbound(msg))
        except aiomqtt.MqttError as exc:
            self._queue.put_nowait(CtlError(f"lost the MQTT broker: {exc}", UNAVAILABLE))

    def _lost(self, exc: BaseException) -> CtlError:
        why = str(exc) or "timeout"
        return CtlError(f"MQTT broker {self.host}:{self.port}: {why}", UNAVAILABLE)

    # ---- receiving --------------------------------------------------------------------------

    async def subscribe(self, *filters: str) -> None:
        try:
            async with asyncio.timeout(IO_TIMEOUT_S):
                for topic in filters:
                    await self.client.subscribe(topic, qos=1)
        except (aiomqtt.MqttError, TimeoutError) as exc:
            raise self._lost(exc) from None

    async def next(self, timeout_s: float) -> Inbound | None:
        """The next message received, or None when none came within `timeout_s`."""
        try:
            async with asyncio.timeout(max(timeout_s, 0.0)):
                item = await self._queue.get()
        except TimeoutError:
            return None
        if isinstance(item, CtlError):
            self._queue.put_nowait(item)  # every later call fails the same way
            raise item
        return item

    async def sync(self, timeout_s: float = IO_TIMEOUT_S) -> list[Inbound]:
        """Every message received until a marker published now comes back: after `subscribe`,
        all the retained messages of those filters (the broker queues them first)."""
        self._syncs += 1
        marker = f"{self.inbox}/sync/{self._syncs}"
        await self.publish(marker, b"{}")
        got: list[Inbound] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            msg = await self.next(deadline - loop.time())
            if msg is None:
                raise CtlError(f"no echo from the broker within {timeout_s:g} s", UNAVAILABLE)
            if msg.topic == marker:
                return got
            got.append(msg)

    async def retained(self, *filters: str) -> list[Inbound]:
        """Subscribe to `filters` and return what is retained there (and anything else that
        arrived meanwhile)."""
        await self.subscribe(*filters)
        return await self.sync()

    # ---- sending ----------------------------------------------------------------------------

    async def publish(self, topic: str, payload: bytes, properties: Any = None) -> None:
        async with self._publishing:
            refused = self._refused
            try:
                async with asyncio.timeout(IO_TIMEOUT_S):
                    await self.client.publish(topic, payload, qos=1, properties=properties)
            except (aiomqtt.MqttError, TimeoutError) as exc:
                raise self._lost(exc) from None
            if self._refused != refused:
                who = self.auth.username or "anonymous"
                raise CtlError(
                    f"the broker refused {topic}: the account {who!r} may not publish there"
                    " (its role; docs/broker.md)",
                    USAGE,
                )

    def topic(self, system: str | None, *, expert: bool = False) -> str:
        if system is None:
            return f"{self.root}/cmd"
        return f"{self.root}/{system}/{'expert/cmd' if expert else 'cmd'}"

    async def send(
        self, system: str | None, action: str, args: dict[str, Any], *, expert: bool = False
    ) -> str:
        """Publish a command (replies to our inbox, correlation = the id); return its id."""
        cmd_id = f"ctl-{uuid.uuid4().hex[:12]}"
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.ResponseTopic = self.inbox
        props.CorrelationData = cmd_id.encode()
        doc = {"id": cmd_id, "action": action, "args": args, "operator": self.operator}
        await self.publish(self.topic(system, expert=expert), json.dumps(doc).encode(), props)
        return cmd_id

    def is_reply(self, msg: Inbound) -> bool:
        return msg.topic == self.inbox and isinstance(msg.doc, dict)

    # ---- the simple calls `calibd demo` uses ------------------------------------------------

    async def command(
        self, system: str | None, action: str, args: dict[str, Any], timeout_s: float = 3600.0
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Send a command; return (immediate reply, final reply or None if rejected)."""
        cmd_id = await self.send(system, action, args)
        first: dict[str, Any] | None = None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while (msg := await self.next(deadline - loop.time())) is not None:
            if not self.is_reply(msg) or msg.doc.get("id") != cmd_id:
                continue
            if first is None:
                first = msg.doc
                if msg.doc["result"] == "rejected":
                    return msg.doc, None
                if not msg.doc["final"]:
                    continue
            return first, msg.doc
        raise TimeoutError

    async def statuses(self, system: str | None, wait_s: float = 1.0) -> dict[str, dict[str, Any]]:
        """Every system status received within `wait_s` (the retained ones first)."""
        topic = f"{self.root}/{system or '+'}/status"
        await self.subscribe(topic)
        out: dict[str, dict[str, Any]] = {}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while (msg := await self.next(deadline - loop.time())) is not None:
            name = system_of(self.root, msg.topic)
            if name is not None and (system is None or name == system) and msg.doc:
                out[name] = msg.doc
        return out


def system_of(root: str, topic: str) -> str | None:
    """`{root}/acu/status` -> `acu`; None for any other topic (also `{root}/program/status`)."""
    prefix = f"{root}/"
    if not (topic.startswith(prefix) and topic.endswith("/status")):
        return None
    name = topic[len(prefix) : -len("/status")]
    return None if "/" in name or name in ("program", "") else name
