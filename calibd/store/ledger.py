"""The command ledger: every command id the dispatcher has seen (so a duplicate is refused
across restarts too) and the audit trail of every command event (accepted, rejected, and each
final result, with the operator), written in batches by one task in durable transactions.

Producers never wait: `add_id` and `tap` put into a bounded queue from the event loop; `run`
drains it into the store's thread. A full queue is logged and the record dropped, never the
command (the in-memory duplicate check still holds until a restart).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import structlog

from calibd.core.outbox import Outgoing
from calibd.core.timefmt import iso_now
from calibd.store.db import Store

log = structlog.get_logger("calibd.store.ledger")
BATCH = 256

_ID = "INSERT OR IGNORE INTO command_ids (id, system, seen_at) VALUES (?, ?, ?)"
_AUDIT = (
    "INSERT INTO audit (ts, system, id, action, result, operator, error_code, error_message,"
    " args_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class CommandLedger:
    def __init__(self, store: Store, *, queue_size: int = 4096, remember: int = 10_000) -> None:
        self.store = store
        self.remember = remember
        self.dropped = 0
        self._queue: asyncio.Queue[tuple[str, tuple[Any, ...]]] = asyncio.Queue(queue_size)

    async def recent_ids(self) -> list[str]:
        """The last `remember` ids, oldest first (to seed the dispatcher's duplicate check)."""
        rows = await self.store.call(
            lambda c: c.execute(
                "SELECT id FROM command_ids ORDER BY rowid DESC LIMIT ?", (self.remember,)
            ).fetchall()
        )
        return [r[0] for r in reversed(rows)]

    def add_id(self, cmd_id: str, system: str | None) -> None:
        """A command id passed parsing (the dispatcher remembers it from now on)."""
        self._put(_ID, (cmd_id, system, iso_now()))

    def tap(self, item: Outgoing) -> None:
        """The outbox's tap: record every `command` event in the audit trail."""
        doc = item.payload
        if item.kind != "event" or doc.get("event") != "command":
            return
        error = doc.get("error") or {}
        args = doc.get("args")
        self._put(
            _AUDIT,
            (
                doc.get("ts") or iso_now(),
                doc.get("system"),
                doc.get("id"),
                doc.get("action"),
                doc.get("result"),
                doc.get("operator"),
                error.get("code"),
                error.get("message"),
                None if args is None else json.dumps(args, sort_keys=True),
            ),
        )

    def _put(self, sql: str, params: tuple[Any, ...]) -> None:
        try:
            self._queue.put_nowait((sql, params))
        except asyncio.QueueFull:
            self.dropped += 1
            log.error("ledger_full", dropped=self.dropped)

    async def run(self) -> None:
        """Write what arrives, in batches, each one durable transaction."""
        while True:
            batch = [await self._queue.get()]
            while len(batch) < BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self.store.transaction(batch)

    async def flush(self) -> None:
        """Write everything queued now (on a clean stop)."""
        batch: list[tuple[str, tuple[Any, ...]]] = []
        while not self._queue.empty():
            batch.append(self._queue.get_nowait())
        if batch:
            await self.store.transaction(batch)
