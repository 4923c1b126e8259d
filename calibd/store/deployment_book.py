"""The deployment records, in memory and in the store: each change to a record (opened, its
stops arriving and departing, a DAQ window, closed) is written through the store's `Writer`, is
one `deployment` event and makes the retained `deployments/summary` stale.

`DeploymentBook` keeps the open record of each system, the `recent` last closed ones and the
operator/program of the accepted commands; the deployment log (`calibd/store/deployments.py`)
extends it and decides, from the statuses, when a record opens, stops or closes.
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

#: the deployment log's logger (this is its record keeping)
log = structlog.get_logger("calibd.store.deployments", subsystem="store")

SUMMARY_TOPIC = "deployments/summary"
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


class DeploymentBook:
    """The records and their rows; `DeploymentLog` feeds it the statuses and events."""

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
        self._closed.extend(closed)
        self._publish_summary(iso_now())

    def open_record(self, system: str) -> dict[str, Any] | None:
        record = self._open.get(system)
        return None if record is None else _copy(record)

    # ---- changing a record ---------------------------------------------------------------------

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
        stop = None if record is None else open_stop(record)
        if record is None or stop is None:
            log.warning("daq_without_stop", system=doc.get("system"), id=doc.get("id"))
            return
        window = {k: doc[k] for k in _DAQ_KEYS if k in doc}
        stop["daq"] = window
        n = len(record["stops"])
        self.writer.put(_DAQ, (json.dumps(window), record["id"], n))
        self._changed("daq", record, str(doc.get("ts") or iso_now()), stop=n, daq=window)

    def _close(self, record: Record, ts: str, outcome: str) -> None:
        if open_stop(record) is not None:
            self._depart(record, ts)
        record["ended"], record["outcome"] = ts, outcome
        system = record["system"]
        del self._open[system]
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


def open_stop(record: Record) -> dict[str, Any] | None:
    """The stop the record's source is at now (None: not at rest, or no stop yet)."""
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
