"""The deployment log: one record per source excursion (a system leaving parked until it is
parked again) with every stop, written as it happens through the store's `Writer`.

It is an outbox tap: it follows the status of each deployment system (`deployed`, `state`,
`position`, `command`) and the `command` audit events (operator, program of each accepted id).
Each change is one `deployment` event and a fresh retained `deployments/summary`. The laser's
emission intervals (`laser` events) are stored with the record open at their start
(`calibd/store/emissions.py`).

A stop is the source at rest while deployed: AT_POSITION, HOLDING (the ROV's), STOPPED, FAULT.
It departs when the state changes or the system is parked.

After a restart (`load`), the first status of a system with an open record decides: deployed
-> the record continues (its open stop too if the state and position are the same), parked ->
it closes `parked_while_down`. The very first status of a system, published before its drives
were read (UNKNOWN, not homed), says nothing about `deployed` and is ignored.

A record opens only for a homed system (its position known) or a faulted one (e.g. a source
found out at a restart with no record: `position_mismatch`): a source a few centimetres off its
switch at power-on, before anything was homed, is not an excursion (homing parks it).

This module decides; the records themselves (in memory, their rows, the `deployment` events and
the summary) are `DeploymentBook` (`calibd/store/deployment_book.py`), which it extends.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import structlog

from calibd.core.outbox import Outbox, Outgoing
from calibd.core.timefmt import iso_now
from calibd.store.deployment_book import DeploymentBook, open_stop
from calibd.store.writer import Writer

log = structlog.get_logger("calibd.store.deployments", subsystem="store")

STOP_STATES = frozenset({"AT_POSITION", "HOLDING", "STOPPED", "FAULT"})
#: an open stop continues across a restart if every coordinate is this close
SAME_POSITION = 1e-3


class DeploymentLog(DeploymentBook):
    """The outbox tap that keeps the deployment records from the statuses and events."""

    def __init__(
        self,
        writer: Writer,
        outbox: Outbox,
        *,
        systems: Collection[str],
        session: int,
        recent: int = 20,
    ) -> None:
        super().__init__(writer, outbox, systems=systems, session=session, recent=recent)
        self._resume: set[str] = set()  # open records from the store, first status not seen
        self._seen: set[str] = set()  # systems whose first status was seen

    async def load(self) -> None:
        """Read the open records (with their stops) and the `recent` last closed ones; the first
        status of each system with an open record decides whether it continues."""
        await super().load()
        self._resume.update(self._open)

    def tap(self, item: Outgoing) -> None:
        """The outbox tap: cheap, never blocks, never raises."""
        try:
            if item.kind == "status" and item.system in self.systems:
                self._status(str(item.system), item.payload)
            elif item.kind == "event" and item.payload.get("event") == "command":
                self._command(item.payload)
            elif item.kind == "event" and item.payload.get("event") == "daq":
                self._daq(item.payload)
            elif item.kind == "event" and item.payload.get("event") == "laser":
                record = self._open.get(str(item.system))
                self.emissions.event(item.payload, None if record is None else record["id"])
            else:
                return  # including our own `deployment` events, coming back through put
            if self._dirty is not None:
                ts, self._dirty = self._dirty, None
                self._publish_summary(ts)
        except Exception:
            log.exception("deployment_log_failed", kind=item.kind, system=item.system)

    # ---- following the statuses ---------------------------------------------------------------

    def _status(self, system: str, doc: Mapping[str, Any]) -> None:
        first = system not in self._seen
        self._seen.add(system)
        state = str(doc.get("state"))
        if first and state == "UNKNOWN" and doc.get("homed") is not True:
            return  # published before the first reading of the drives
        deployed = doc.get("deployed")
        if not isinstance(deployed, bool):
            return  # not known: nothing changes
        ts = str(doc.get("ts") or iso_now())
        raw = doc.get("position")
        position: dict[str, Any] = dict(raw) if isinstance(raw, Mapping) else {}
        command = doc.get("command")
        cmd_id = command.get("id") if isinstance(command, Mapping) else None
        cmd_id = None if cmd_id is None else str(cmd_id)
        record = self._open.get(system)
        if record is not None and system in self._resume:
            self._resume.discard(system)
            if not deployed:
                self._close(record, ts, "parked_while_down")
                return
            stop = open_stop(record)
            if stop is not None and not (
                stop["state"] == state and same_position(stop["position"], position)
            ):
                self._depart(record, ts)
        if not deployed:
            if record is not None:
                self._close(record, ts, "parked")
            return
        if record is None:
            if doc.get("homed") is not True and state != "FAULT":
                return  # position unknown (power-on, before homing): no excursion to record
            record = self._begin(system, doc, ts, position, cmd_id)
        else:
            self._update(record, doc, ts, position, cmd_id)
        stop = open_stop(record)
        if stop is not None and stop["state"] != state:
            self._depart(record, ts)
            stop = None
        if stop is None and state in STOP_STATES:
            self._arrive(record, ts, state, position)


def same_position(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Same keys; numbers within SAME_POSITION, anything else (unit, None) equal."""
    if a.keys() != b.keys():
        return False
    for key, x in a.items():
        y = b[key]
        if _number(x) and _number(y):
            if abs(x - y) > SAME_POSITION:
                return False
        elif x != y:
            return False
    return True


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
