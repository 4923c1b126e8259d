"""The command ledger: every command id the dispatcher has seen (so a duplicate is refused
across restarts too) and the audit trail of every command event (accepted, rejected, and each
final result, with the operator), written through the store's `Writer`.

Producers never wait: `add_id` and `tap` put into the writer's bounded queue. A full queue is
logged and the record dropped, never the command (the in-memory duplicate check still holds
until a restart).
"""

from __future__ import annotations

import json

from calibd.core.outbox import Outgoing
from calibd.core.timefmt import iso_now
from calibd.store.writer import Writer

_ID = "INSERT OR IGNORE INTO command_ids (id, system, seen_at) VALUES (?, ?, ?)"
_AUDIT = (
    "INSERT INTO audit (ts, system, id, action, result, operator, error_code, error_message,"
    " args_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class CommandLedger:
    def __init__(self, writer: Writer, *, remember: int = 10_000) -> None:
        self.writer = writer
        self.store = writer.store
        self.remember = remember

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
        self.writer.put(_ID, (cmd_id, system, iso_now()))

    def tap(self, item: Outgoing) -> None:
        """The outbox's tap: record every `command` event in the audit trail."""
        doc = item.payload
        if item.kind != "event" or doc.get("event") != "command":
            return
        error = doc.get("error") or {}
        args = doc.get("args")
        self.writer.put(
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
