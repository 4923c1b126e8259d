"""In-process bus from subsystems to the MQTT edge: bounded, never blocks a producer.

Subsystems put typed messages here; only the MQTT edge maps them to topics. Statuses are
coalesced (the latest one per system is what gets published, at the position in the FIFO of
its first pending change), telemetry is dropped first when the queue is full.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import structlog

from calibd.core.commands import ReplyRoute

Kind = Literal["status", "event", "telemetry", "reply", "interlocks", "retained", "message"]
log = structlog.get_logger("calibd.outbox", subsystem="mqtt")


@dataclass(frozen=True)
class Outgoing:
    kind: Kind
    system: str | None
    payload: dict[str, Any]
    route: ReplyRoute | None = None
    #: kinds "retained" and "message" (QoS 1, not retained): the topic under the root
    topic: str | None = None


class Outbox:
    def __init__(self, maxsize: int = 4096) -> None:
        self._maxsize = maxsize
        self._fifo: deque[Outgoing | str] = deque()  # str: "status of this system is due"
        self._latest: dict[str, dict[str, Any]] = {}
        self._pending: set[str] = set()
        self._wake = asyncio.Event()
        self._interlocks: dict[str, Any] | None = None
        self._retained: dict[str, dict[str, Any]] = {}
        #: see every status and every item put, in order (the store records the command audit
        #: and the deployment log from them); a tap must not block and must not raise
        self.taps: list[Callable[[Outgoing], None]] = []
        self.dropped = 0

    def status(self, system: str, payload: dict[str, Any]) -> None:
        if self.taps:
            self._tap(Outgoing("status", system, payload))
        self._latest[system] = payload
        if system not in self._pending:
            self._pending.add(system)
            self._append(system)

    def put(self, item: Outgoing) -> None:
        if self.taps:
            self._tap(item)
        self._append(item)

    def _tap(self, item: Outgoing) -> None:
        for tap in self.taps:
            tap(item)

    def latest_statuses(self) -> dict[str, dict[str, Any]]:
        return dict(self._latest)

    def interlocks(self, payload: dict[str, Any]) -> None:
        """The interlock board changed (retained; re-published after every reconnect)."""
        self._interlocks = payload
        self._append(Outgoing("interlocks", None, payload))

    def latest_interlocks(self) -> dict[str, Any] | None:
        return self._interlocks

    def retained(self, topic: str, payload: dict[str, Any]) -> None:
        """A retained document on `{root}/{topic}` (re-published after every reconnect)."""
        self._retained[topic] = payload
        self._append(Outgoing("retained", None, payload, topic=topic))

    def latest_retained(self) -> dict[str, dict[str, Any]]:
        return dict(self._retained)

    def _append(self, item: Outgoing | str) -> None:
        if len(self._fifo) >= self._maxsize:
            self._make_room()
        self._fifo.append(item)
        self._wake.set()

    def _make_room(self) -> None:
        for i, old in enumerate(self._fifo):
            if isinstance(old, Outgoing) and old.kind == "telemetry":
                del self._fifo[i]
                self.dropped += 1
                return
        old = self._fifo.popleft()
        if isinstance(old, str):
            self._pending.discard(old)
        self.dropped += 1
        log.warning("outbox_full_dropped", kind=getattr(old, "kind", "status"))

    async def get(self) -> Outgoing:
        while (item := self.get_nowait()) is None:
            self._wake.clear()
            await self._wake.wait()
        return item

    def get_nowait(self) -> Outgoing | None:
        if not self._fifo:
            return None
        item = self._fifo.popleft()
        if isinstance(item, str):
            self._pending.discard(item)
            return Outgoing("status", item, self._latest[item])
        return item
