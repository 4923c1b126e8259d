"""A test-side MQTT client: records everything under a topic root, sends commands, waits."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


@dataclass
class Msg:
    topic: str
    payload: Any
    retain: bool
    at: float
    correlation: bytes | None = None


class Probe:
    def __init__(self, host: str, port: int, root: str) -> None:
        self.root = root
        self.client = aiomqtt.Client(
            host,
            port,
            protocol=aiomqtt.ProtocolVersion.V5,
            socket_options=NODELAY,
            identifier=f"probe-{uuid.uuid4().hex[:8]}",
        )
        self.msgs: list[Msg] = []
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    async def __aenter__(self) -> Probe:
        await self.client.__aenter__()
        await self.client.subscribe(f"{self.root}/#", qos=1)
        self._task = asyncio.create_task(self._collect())
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                if asyncio.current_task() and asyncio.current_task().cancelling():  # type: ignore[union-attr]
                    raise
        async with asyncio.timeout(5):
            await self.client.__aexit__(et, e, tb)

    async def _collect(self) -> None:
        async for m in self.client.messages:
            raw = m.payload if isinstance(m.payload, bytes) else str(m.payload).encode()
            try:
                payload: Any = json.loads(raw) if raw else None
            except ValueError:
                payload = raw
            corr = getattr(m.properties, "CorrelationData", None) if m.properties else None
            self.msgs.append(Msg(m.topic.value, payload, bool(m.retain), time.monotonic(), corr))
            self._changed.set()

    def on(self, suffix: str) -> list[Any]:
        topic = f"{self.root}/{suffix}"
        return [m.payload for m in self.msgs if m.topic == topic]

    def last(self, suffix: str) -> Any:
        got = self.on(suffix)
        return got[-1] if got else None

    async def wait(self, pred: Callable[[], Any], timeout_s: float = 20.0, what: str = "") -> Any:
        deadline = time.monotonic() + timeout_s
        while True:
            res = pred()
            if res:
                return res
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"timed out waiting for {what or pred}")
            self._changed.clear()
            try:
                async with asyncio.timeout(min(remaining, 0.2)):
                    await self._changed.wait()
            except TimeoutError:
                pass

    async def status(
        self, system: str, pred: Callable[[dict[str, Any]], bool], timeout_s: float = 20.0
    ) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            doc = self.last(f"{system}/status")
            return doc if isinstance(doc, dict) and pred(doc) else None

        result: dict[str, Any] = await self.wait(check, timeout_s, f"{system} status")
        return result

    async def publish(self, suffix: str, payload: Any, **kw: Any) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        await self.client.publish(f"{self.root}/{suffix}", data, qos=1, **kw)

    def replies(self, cmd_id: str | None, system: str | None = "acu") -> list[dict[str, Any]]:
        suffix = "reply" if system is None else f"{system}/reply"
        return [r for r in self.on(suffix) if isinstance(r, dict) and r.get("id") == cmd_id]

    async def send(
        self,
        system: str | None,
        action: str,
        args: dict[str, Any] | None = None,
        *,
        cmd_id: str | None = None,
        **extra: Any,
    ) -> str:
        cmd_id = cmd_id or f"c-{uuid.uuid4().hex[:10]}"
        doc = {"id": cmd_id, "action": action, "args": args or {}, "operator": "pytest", **extra}
        await self.publish("cmd" if system is None else f"{system}/cmd", doc)
        return cmd_id

    async def ack(
        self, cmd_id: str, system: str | None = "acu", timeout_s: float = 5.0
    ) -> dict[str, Any]:
        got: list[dict[str, Any]] = await self.wait(
            lambda: self.replies(cmd_id, system), timeout_s, f"ack of {cmd_id}"
        )
        return got[0]

    async def final(
        self, cmd_id: str, system: str | None = "acu", timeout_s: float = 30.0
    ) -> dict[str, Any]:
        got: list[dict[str, Any]] = await self.wait(
            lambda: [r for r in self.replies(cmd_id, system) if r["final"]],
            timeout_s,
            f"final reply of {cmd_id}",
        )
        return got[0]

    async def run(
        self, system: str, action: str, args: dict[str, Any] | None = None, timeout_s: float = 30.0
    ) -> dict[str, Any]:
        """Send, expect `accepted`, return the final reply."""
        cmd_id = await self.send(system, action, args)
        ack = await self.ack(cmd_id, system)
        assert ack["result"] == "accepted", ack
        return await self.final(cmd_id, system, timeout_s)

    async def request(self, system: str, doc: dict[str, Any], reply_topic: str) -> bytes:
        """Publish with a v5 Response Topic + Correlation Data; return the correlation bytes."""
        corr = uuid.uuid4().bytes
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.ResponseTopic = f"{self.root}/{reply_topic}"
        props.CorrelationData = corr
        await self.publish(f"{system}/cmd", doc, properties=props)
        return corr
