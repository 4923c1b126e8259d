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
"""

from __future__ import annotations

import json
import sqlite3
from collections import OrderedDict, deque
from collections.abc import Collection, Mapping
from typing import Any

import structlog

from calibd.core.outbox import Outbox, Outgoing
from calibd.core.timefmt import iso_now
from calibd.store.emissions import EmissionLog
from calibd.store.export import Record, fetch_records
from calibd.store.writer import Writer

log = structlog.get_logger("calibd.store.deployments", subsystem="store")

STOP_STATES = frozenset({"AT_POSITION", "HOLDING", "STOPPED", "FAULT"})
SUMMARY_TOPIC = "deployments/summary"
#: an open stop continues across a restart if every coordinate is this close
SAME_POSITION = 1e-3
#: accepted command ids whose operator/program are remembered
REMEMBER_COMMANDS = 4096

_INSERTED = ("id", "system", "unit", "source", "operator", "program")
_INSERT = (
    "INSERT INTO deployments (id, system, unit, source, operator, program, command_ids,"
    " session, started) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SET_COMMANDS = "UPDATE deployments SET command_ids = ? WHERE id = ?"
_SET_WHO = "UPDATE deployments SET operator = ?, program = ? WHERE id = ?"
_SET_WHAT = "UPDATE deployments SET source = ?, unit = ? WHERE id = ?"
_CLOSE = "UPDATE deployments SET ended = ?, outcome = ? WHERE id = ?"
_ARRIVE = "INSERT INTO stops (deployment, n, state, position, arrived) VALUES (?, ?, ?, ?, ?)"
_DEPART = "UPDATE stops SET departed = ? WHERE deployment = ? AND n = ?"
_DAQ = "UPDATE stops SET daq = ? WHERE deployment = ? AND n = ?"
#: what a stop keeps of a program's `daq` event
_DAQ_KEYS = ("id", "run", "step", "point", "ok", "start", "end", "mode", "message")


class DeploymentLog:
    def __init__(
        self,
        writer: Writer,
        outbox: Outbox,
        *,
        systems: Collection[str],
        session: int,
        recent: int = 20,
    ) -> None:
        self.writer = writer
        self.store = writer.store
        self.outbox = outbox
        self.systems = frozenset(systems) - {"house"}
        self.session = session
        self.recent = recent
        self._open: dict[str, Record] = {}
        self._closed: deque[Record] = deque(maxlen=recent)  # newest first
        self._total = 0
        self._counter = 0
        self._resume: set[str] = set()  # open records from the store, first status not seen
        self._seen: set[str] = set()  # systems whose first status was seen
        self._who: OrderedDict[str, tuple[str | None, str | None]] = OrderedDict()
        self._dirty: str | None = None  # ts of the last change not yet in the summary
        #: the laser's emission intervals, each tied to the record open at its start
        self.emissions = EmissionLog(writer, session)

    async def load(self) -> None:
        """Read the open records (with their stops) and the `recent` last closed ones."""
        prefix = f"-{self.session}-"
        self.emissions.load()

        def read(conn: sqlite3.Connection) -> tuple[list[Record], list[Record], int, int]:
            opened = [r for r in fetch_records(conn, "open") if r["system"] in self.systems]
            closed = fetch_records(conn, "closed", limit=self.recent)
            total = conn.execute("SELECT COUNT(*) FROM deployments").fetchone()[0]
            ids = conn.execute("SELECT id FROM deployments WHERE session = ?", (self.session,))
            numbers = [_suffix(i, prefix) for (i,) in ids]
            return opened, closed, int(total), max(numbers, default=0)

        opened, closed, self._total, self._counter = await self.store.call(read)
        for record in opened:
            system = record["system"]
            if system in self._open:  # kept: the newest; the other stays open in the store
                log.warning(
                    "deployment_open_twice", kept=record["id"], other=self._open[system]["id"]
                )
            self._open[system] = record
            self._resume.add(system)
        self._closed.extend(closed)
        self._publish_summary(iso_now())

    def open_record(self, system: str) -> dict[str, Any] | None:
        record = self._open.get(system)
        return None if record is None else _copy(record)

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
            stop = _open_stop(record)
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
        stop = _open_stop(record)
        if stop is not None and stop["state"] != state:
            self._depart(record, ts)
            stop = None
        if stop is None and state in STOP_STATES:
            self._arrive(record, ts, state, position)

    def _begin(
        self,
        system: str,
        doc: Mapping[str, Any],
        ts: str,
        position: dict[str, Any],
        cmd_id: str | None,
    ) -> Record:
        self._counter += 1
        operator, program = (None, None) if cmd_id is None else self._who.get(cmd_id, (None, None))
        record: Record = {
            "id": f"{system}-{self.session}-{self._counter}",
            "source": _text(doc.get("source")),
            "system": system,
            "unit": _text(position.get("unit")),
            "operator": operator,
            "program": program,
            "command_ids": [] if cmd_id is None else [cmd_id],
            "session": self.session,
            "started": ts,
            "ended": None,
            "outcome": None,
            "stops": [],
        }
        self._open[system] = record
        self._total += 1
        self.writer.put(
            _INSERT,
            (*(record[k] for k in _INSERTED), json.dumps(record["command_ids"]), self.session, ts),
        )
        fields = {k: record[k] for k in ("source", "unit", "operator", "program")}
        self._changed("opened", record, ts, command=cmd_id, **fields)
        return record

    def _update(
        self,
        record: Record,
        doc: Mapping[str, Any],
        ts: str,
        position: dict[str, Any],
        cmd_id: str | None,
    ) -> None:
        if cmd_id is not None and cmd_id not in record["command_ids"]:
            record["command_ids"].append(cmd_id)
            self.writer.put(_SET_COMMANDS, (json.dumps(record["command_ids"]), record["id"]))
            self._dirty = ts
        source, unit = _text(doc.get("source")), _text(position.get("unit"))
        if (record["source"] is None and source) or (record["unit"] is None and unit):
            record["source"] = record["source"] or source
            record["unit"] = record["unit"] or unit
            self.writer.put(_SET_WHAT, (record["source"], record["unit"], record["id"]))
            self._dirty = ts

    def _arrive(self, record: Record, ts: str, state: str, position: dict[str, Any]) -> None:
        stop = {"position": position, "arrived": ts, "departed": None, "state": state}
        record["stops"].append(stop)
        n = len(record["stops"])
        self.writer.put(_ARRIVE, (record["id"], n, state, json.dumps(position), ts))
        self._changed("arrived", record, ts, stop=n, state=state, position=dict(position))

    def _depart(self, record: Record, ts: str) -> None:
        stop = record["stops"][-1]
        stop["departed"] = ts
        n = len(record["stops"])
        self.writer.put(_DEPART, (ts, record["id"], n))
        self._changed(
            "departed", record, ts, stop=n, state=stop["state"], position=dict(stop["position"])
        )

    def _daq(self, doc: Mapping[str, Any]) -> None:
        """A program's DAQ window at the current stop of a system."""
        record = self._open.get(str(doc.get("system")))
        stop = None if record is None else _open_stop(record)
        if record is None or stop is None:
            log.warning("daq_without_stop", system=doc.get("system"), id=doc.get("id"))
            return
        window = {k: doc[k] for k in _DAQ_KEYS if k in doc}
        stop["daq"] = window
        n = len(record["stops"])
        self.writer.put(_DAQ, (json.dumps(window), record["id"], n))
        self._changed("daq", record, str(doc.get("ts") or iso_now()), stop=n, daq=window)

    def _close(self, record: Record, ts: str, outcome: str) -> None:
        if _open_stop(record) is not None:
            self._depart(record, ts)
        record["ended"], record["outcome"] = ts, outcome
        system = record["system"]
        del self._open[system]
        self._resume.discard(system)
        self._closed.appendleft(record)
        self.writer.put(_CLOSE, (ts, outcome, record["id"]))
        self._changed("closed", record, ts, outcome=outcome, stops=len(record["stops"]))

    # ---- commands, events, summary ------------------------------------------------------------

    def _command(self, doc: Mapping[str, Any]) -> None:
        cmd_id = doc.get("id")
        if doc.get("result") != "accepted" or cmd_id is None:
            return
        cmd_id = str(cmd_id)
        who = (_text(doc.get("operator")), _text(doc.get("program")))
        self._who[cmd_id] = who
        self._who.move_to_end(cmd_id)
        if len(self._who) > REMEMBER_COMMANDS:
            self._who.popitem(last=False)
        # the status naming the command may have come first: it opened the record without them
        record = self._open.get(str(doc.get("system")))
        if (
            record is not None
            and record["command_ids"][:1] == [cmd_id]
            and record["operator"] is None
            and record["program"] is None
            and who != (None, None)
        ):
            record["operator"], record["program"] = who
            self.writer.put(_SET_WHO, (*who, record["id"]))
            self._dirty = str(doc.get("ts") or iso_now())

    def _changed(self, change: str, record: Record, ts: str, **fields: Any) -> None:
        system = record["system"]
        payload = {
            "event": "deployment",
            "change": change,
            "system": system,
            "ts": ts,
            "record": record["id"],
            **fields,
        }
        self.outbox.put(Outgoing("event", system, payload))
        self._dirty = ts

    def _publish_summary(self, ts: str) -> None:
        opened = sorted(self._open.values(), key=lambda r: (r["started"], r["id"]))
        doc = {
            "ts": ts,
            "open": [_copy(r) for r in opened],
            "recent": [_copy(r) for r in self._closed],
            "total": self._total,
        }
        self.outbox.retained(SUMMARY_TOPIC, doc)


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


def _open_stop(record: Record) -> dict[str, Any] | None:
    stops: list[dict[str, Any]] = record["stops"]
    return stops[-1] if stops and stops[-1]["departed"] is None else None


def _copy(record: Record) -> Record:
    stops = [{**s, "position": dict(s["position"])} for s in record["stops"]]
    return {**record, "command_ids": list(record["command_ids"]), "stops": stops}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _suffix(record_id: str, prefix: str) -> int:
    """The counter of an id `{system}{prefix}{n}` (0 if it has another form)."""
    head, _, tail = record_id.rpartition("-")
    return int(tail) if head and f"{head}-".endswith(prefix) and tail.isdigit() else 0
