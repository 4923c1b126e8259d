"""Program runs in the store: every change of a run written as it happens, so a restarted
daemon knows which program was interrupted and where (`program_runs`, migration 3)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from calibd.core.timefmt import iso_now
from calibd.store.db import Store
from calibd.store.writer import Writer

#: run states after which nothing is left to do
TERMINAL = frozenset({"COMPLETED", "ABORTED", "FAILED"})

_COLUMNS = (
    "run",
    "program",
    "path",
    "digest",
    "operator",
    "state",
    "move",
    "done_points",
    "reason",
    "started",
    "updated",
)
_UPSERT = (
    f"INSERT INTO program_runs ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"  # noqa: S608
    " ON CONFLICT (run) DO UPDATE SET state = excluded.state, move = excluded.move,"
    " done_points = excluded.done_points, reason = excluded.reason, updated = excluded.updated"
)


@dataclass(frozen=True)
class RunRecord:
    run: str
    program: str
    path: str
    digest: str  # sha256 of the program file: a changed file is not resumed
    operator: str | None
    state: str
    move: int  # index of the plan's move being (or next to be) carried out
    done_points: int
    reason: str | None
    started: str
    updated: str

    def advanced(self, **changes: Any) -> RunRecord:
        return replace(self, updated=iso_now(), **changes)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class RunLog:
    """Writes runs through the store's writer; reads the last one at start."""

    def __init__(self, writer: Writer) -> None:
        self.writer = writer

    def save(self, record: RunRecord) -> None:
        self.writer.put(_UPSERT, tuple(getattr(record, c) for c in _COLUMNS))

    async def durable(self) -> None:
        """Wait until what was saved is committed (before a reply says it happened)."""
        await self.writer.sync()


async def last_run(store: Store) -> RunRecord | None:
    """The most recently started run, if any."""
    sql = (
        f"SELECT {', '.join(_COLUMNS)} FROM program_runs ORDER BY started DESC, rowid DESC LIMIT 1"  # noqa: S608
    )
    row = await store.call(lambda c: c.execute(sql).fetchone())
    return None if row is None else RunRecord(*row)
