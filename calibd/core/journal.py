"""What the store knows about where each system's drives are, kept ahead of the hardware.

`SystemJournal.record` persists a snapshot of a system at every state transition: FSM state,
whether it was homed, its position and target, and per drive axis the encoder range the drive
may occupy (one point at rest). A drive is never sent outside that range before the range has
been widened durably (`JournaledDrive` is the write-ahead: it extends the range, waits for the
commit, then commands the move). So whatever happens to the daemon, the store holds a range
that contains every drive (until someone moves a drive behind the daemon's back, or its power
fails: exactly what restart recovery must detect).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from calibd.core.timefmt import iso_now
from drivers.base import Drive, DriveStatus

UPSERT = (
    "INSERT INTO snapshots (system, ts, doc) VALUES (?, ?, ?)"
    " ON CONFLICT (system) DO UPDATE SET ts = excluded.ts, doc = excluded.doc"
)


@dataclass(frozen=True)
class AxisNow:
    """One drive as the latest poll read it."""

    rev: float | None
    homed: bool
    parked: bool
    counts_per_rev: int
    moving: bool = False

    @classmethod
    def of(cls, status: DriveStatus | None, counts_per_rev: int) -> AxisNow:
        if status is None:
            return cls(None, False, False, counts_per_rev)
        return cls(
            status.encoder_rev, status.homed, status.home_switch, counts_per_rev, status.moving
        )


class Sink(Protocol):
    """Where journals write: the store's Writer (a statement queue, a write-ahead barrier)."""

    def put(self, sql: str, params: tuple[Any, ...]) -> None: ...

    async def sync(self) -> None: ...


class SystemJournal:
    def __init__(
        self,
        system: str,
        sink: Sink,
        persisted: dict[str, Any] | None,
        *,
        first_start: bool = False,
    ) -> None:
        self.system = system
        self.sink = sink
        #: the snapshot found in the store at start (consumed by restart recovery)
        self.persisted = persisted
        #: a new state directory: no record is expected (else a missing one is a mismatch)
        self.first_start = first_start
        self.doc: dict[str, Any] = {}
        self.ranges: dict[str, list[float]] = {}

    def record(self, doc: Mapping[str, Any], axes: Mapping[str, AxisNow]) -> None:
        """A new state: its snapshot; each standing drive's range collapses to where it is, a
        drive still moving (e.g. halting after a trip) keeps its range, widened to its
        reading."""
        ranges: dict[str, list[float]] = {}
        for name, a in axes.items():
            if a.rev is None:
                continue
            span = self.ranges.get(name)
            if a.moving and span is not None:
                ranges[name] = [min(span[0], a.rev), max(span[1], a.rev)]
            else:
                ranges[name] = [a.rev, a.rev]
        self.ranges = ranges
        self.doc = {
            **doc,
            "axes": {
                name: {"homed": a.homed, "parked": a.parked, "rev": a.rev}
                for name, a in axes.items()
            },
        }
        self._put()

    def settle(self, axes: Mapping[str, AxisNow]) -> None:
        """Collapse the range of every drive that now stands (after a stop or a halt)."""
        changed = False
        for name, a in axes.items():
            span = self.ranges.get(name)
            if a.moving or a.rev is None or span is None or span[0] == span[1]:
                continue
            self.ranges[name] = [a.rev, a.rev]
            changed = True
        if changed:
            self._put()

    async def extend(self, axis: str, target_rev: float) -> None:
        """Widen `axis`'s range to `target_rev` durably before the drive is sent there."""
        span = self.ranges.get(axis)
        if span is not None and span[0] <= target_rev <= span[1]:
            return
        if span is None:
            self.ranges[axis] = [target_rev, target_rev]
        else:
            span[0], span[1] = min(span[0], target_rev), max(span[1], target_rev)
        self._put()
        await self.sink.sync()

    def _put(self) -> None:
        doc = {**self.doc, "ranges": self.ranges, "ts": iso_now()}
        self.sink.put(UPSERT, (self.system, doc["ts"], json.dumps(doc)))


class JournaledDrive:
    """A drive whose moves are journaled before they are commanded (see module doc)."""

    def __init__(self, inner: Drive, axis: str, journal: SystemJournal) -> None:
        self.inner = inner
        self.axis = axis
        self.journal = journal
        self.name = inner.name

    async def read_status(self) -> DriveStatus:
        return await self.inner.read_status()

    async def move_to(self, target_rev: float, speed_rev_s: float, accel_rev_s2: float) -> None:
        await self.journal.extend(self.axis, target_rev)
        await self.inner.move_to(target_rev, speed_rev_s, accel_rev_s2)

    async def stop(self) -> None:
        await self.inner.stop()

    async def halt(self) -> None:
        await self.inner.halt()

    async def home(self, speed_rev_s: float) -> None:
        # homing runs to the switch, where the position becomes 0
        await self.journal.extend(self.axis, 0.0)
        await self.inner.home(speed_rev_s)

    async def reset_alarm(self) -> None:
        await self.inner.reset_alarm()
