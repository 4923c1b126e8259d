"""Laser emission intervals in the store (migration 4, `laser_emissions`): one row per interval
of constant pulse rate and intensity, written as it happens from the ACU's `laser` events
(`started`, `ended`; calibd/subsystems/acu_laser.py), each tied to the deployment record open
at its start; read back into the deployment log's export.

The deployment log (`calibd/store/deployments.py`) feeds the events in and names the record.
An interval still open at a restart (the daemon stopped while the laser emitted) is closed at
the start with `end_reason` `daemon_restart`: the new daemon switches emission off before
anything else, so that is when it ended at the latest.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from calibd.core.timefmt import iso_now
from calibd.store.db import has_table
from calibd.store.writer import Writer

log = structlog.get_logger("calibd.store.emissions", subsystem="store")

_INSERT = (
    "INSERT INTO laser_emissions (id, deployment, system, unit, source, rate_hz, intensity,"
    " started, command_id, session) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_END = "UPDATE laser_emissions SET ended = ?, end_reason = ? WHERE id = ?"
_END_LEFT_OPEN = (
    "UPDATE laser_emissions SET ended = ?, end_reason = 'daemon_restart' WHERE ended IS NULL"
)
#: an interval as the export shows it
KEYS = ("id", "rate_hz", "intensity", "started", "ended", "end_reason", "command_id")
_SELECT = (
    "SELECT deployment, id, rate_hz, intensity, started, ended, end_reason, command_id"
    " FROM laser_emissions WHERE deployment = ? ORDER BY started, id"
)


class EmissionLog:
    def __init__(self, writer: Writer, session: int) -> None:
        self.writer = writer
        self.session = session
        self._counter = 0
        self._open: dict[str, str] = {}  # system -> id of its open interval

    def load(self) -> None:
        """At start: close the intervals a previous daemon left open."""
        self.writer.put(_END_LEFT_OPEN, (iso_now(),))

    def event(self, doc: Mapping[str, Any], deployment: str | None) -> None:
        """A `laser` event of `system`; `deployment`: the record open there now."""
        system = str(doc.get("system"))
        change = doc.get("change")
        if change == "started":
            if system in self._open:  # never ended (cannot happen): close it at this start
                self.writer.put(_END, (doc.get("started"), "superseded", self._open[system]))
            self._counter += 1
            ident = f"{system}-laser-{self.session}-{self._counter}"
            self._open[system] = ident
            self.writer.put(
                _INSERT,
                (
                    ident,
                    deployment,
                    system,
                    doc.get("unit"),
                    doc.get("source"),
                    float(doc["rate_hz"]),
                    float(doc["intensity"]),
                    str(doc["started"]),
                    doc.get("command"),
                    self.session,
                ),
            )
            if deployment is None:
                log.warning("emission_without_deployment", system=system, id=ident)
        elif change == "ended":
            ident_or_none = self._open.pop(system, None)
            if ident_or_none is None:
                log.warning("emission_end_without_start", system=system)
                return
            ended = str(doc.get("ended") or doc.get("ts") or iso_now())
            self.writer.put(_END, (ended, doc.get("reason"), ident_or_none))


def fetch_emissions(
    conn: sqlite3.Connection, deployments: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """The intervals of each deployment record (oldest first); empty for a store older than
    migration 4."""
    out: dict[str, list[dict[str, Any]]] = {d: [] for d in deployments}
    if not has_table(conn, "laser_emissions"):
        return out
    for deployment in deployments:
        for row in conn.execute(_SELECT, (deployment,)):
            out[deployment].append(dict(zip(KEYS, row[1:], strict=True)))
    return out
