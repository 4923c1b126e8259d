"""The deployment log read out of the database: records with their stops (`fetch_records`, also
used by the daemon at start), and `calibd log export` as JSON or CSV.

The export opens the database read-only (`mode=ro`): it never creates a file and never writes,
and the daemon may keep running (WAL lets a reader see every committed record).
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from calibd.core.timefmt import iso
from calibd.store.db import has_table, open_read_only
from calibd.store.emissions import fetch_emissions

Record = dict[str, Any]

#: position keys of every system, one CSV column each (empty where a system has no such key)
POSITION_KEYS = ("x_m", "y_m", "z_m", "theta_deg")
#: one laser emission interval per row (a stop with several: one row each)
LASER_COLUMNS = ("laser_rate_hz", "laser_intensity", "laser_started", "laser_ended", "laser_end")
_LASER_KEYS = ("rate_hz", "intensity", "started", "ended", "end_reason")
CSV_COLUMNS = (
    "id",
    "system",
    "unit",
    "source",
    "operator",
    "program",
    "started",
    "ended",
    "outcome",
    "command_ids",
    "stop",
    "state",
    "arrived",
    "departed",
    *POSITION_KEYS,
    "daq_start",
    "daq_end",
    "daq_request",
    *LASER_COLUMNS,
)
_RECORD = (
    "id, source, system, unit, operator, program, command_ids, session, started, ended, outcome"
)
Which = Literal["all", "since", "open", "closed"]
_SELECTS: dict[Which, str] = {
    "all": "FROM deployments ORDER BY started, id LIMIT ?",
    "since": (
        "FROM deployments WHERE started >= ? OR ended IS NULL OR ended >= ?"
        " ORDER BY started, id LIMIT ?"
    ),
    "open": "FROM deployments WHERE ended IS NULL ORDER BY started, id LIMIT ?",
    "closed": "FROM deployments WHERE ended IS NOT NULL ORDER BY ended DESC, id DESC LIMIT ?",
}


class ExportError(Exception):
    """The deployment log cannot be read; the message names the file and why."""


def fetch_records(
    conn: sqlite3.Connection, which: Which = "all", params: Sequence[Any] = (), limit: int = -1
) -> list[Record]:
    """The records `which` selects (`_SELECTS`: all, since a time, open, newest closed first),
    with their stops."""
    select = _SELECTS[which]  # module constants only: no text from outside reaches the SQL
    args = (*params, limit)
    records: list[Record] = []
    by_id: dict[str, Record] = {}
    for row in conn.execute(f"SELECT {_RECORD} {select}", args):
        record = {
            "id": row[0],
            "source": row[1],
            "system": row[2],
            "unit": row[3],
            "operator": row[4],
            "program": row[5],
            "command_ids": json.loads(row[6] or "[]"),
            "session": row[7],
            "started": row[8],
            "ended": row[9],
            "outcome": row[10],
            "stops": [],
        }
        records.append(record)
        by_id[record["id"]] = record
    if not records:
        return records
    of_these = f"WHERE deployment IN (SELECT id {select}) ORDER BY deployment, n"
    columns = {row[1] for row in conn.execute("PRAGMA table_info(stops)")}
    daq = "daq" if "daq" in columns else "NULL"  # a store older than migration 3
    stops = conn.execute(
        f"SELECT deployment, state, position, arrived, departed, {daq} FROM stops {of_these}",  # noqa: S608
        args,
    )
    for deployment, state, position, arrived, departed, window in stops:
        stop = {
            "position": json.loads(position),
            "arrived": arrived,
            "departed": departed,
            "state": state,
        }
        if window is not None:
            stop["daq"] = json.loads(window)
        by_id[deployment]["stops"].append(stop)
    return records


def open_export(db_path: Path, table: str, what: str) -> sqlite3.Connection:
    """The store at `db_path`, opened read-only, holding `table`; ExportError naming the file
    and why not (`what`: what the reader was after, e.g. "deployment log")."""
    if not db_path.is_file():
        raise ExportError(
            f"{db_path}: no such database (wrong state directory? see --state-dir, --config,"
            " CALIBD_STATE__DIR)"
        )
    try:
        conn = open_read_only(db_path)
    except sqlite3.Error as exc:
        raise ExportError(f"{db_path}: cannot open the database read-only: {exc}") from exc
    try:
        if not has_table(conn, table):
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            raise ExportError(
                f"{db_path}: no {what} in this database (schema version {version});"
                " start calibd once to bring it up to date"
            )
    except sqlite3.Error as exc:
        conn.close()
        raise ExportError(f"{db_path}: cannot read the {what}: {exc}") from exc
    except BaseException:
        conn.close()
        raise
    return conn


def read_records(db_path: Path, since: datetime | None) -> list[Record]:
    """Records started at/after `since`, still open, or ended at/after it; oldest first."""
    conn = open_export(db_path, "deployments", "deployment log")
    try:
        if since is None:
            records = fetch_records(conn)
        else:
            ts = iso(since)
            records = fetch_records(conn, "since", (ts, ts))
        emissions = fetch_emissions(conn, [r["id"] for r in records])
    except sqlite3.Error as exc:
        raise ExportError(f"{db_path}: cannot read the deployment log: {exc}") from exc
    except ValueError as exc:  # a stored JSON column that does not parse
        raise ExportError(f"{db_path}: a deployment record does not parse: {exc}") from exc
    finally:
        conn.close()
    for record in records:  # the laser's intervals, on the records that have some
        if emissions[record["id"]]:
            record["emissions"] = emissions[record["id"]]
    return records


def to_json(records: Sequence[Record]) -> str:
    """A JSON array of the records (indent 2), newline-terminated."""
    return json.dumps(list(records), indent=2) + "\n"


def to_csv(records: Sequence[Record]) -> str:
    """One row per stop (a record without stops: one row, stop columns empty); a stop with laser
    emission intervals has one row per interval (an interval outside every stop: a row of its
    own, stop columns empty)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for record in records:
        head = [
            record["id"],
            record["system"],
            record["unit"],
            record["source"],
            record["operator"],
            record["program"],
            record["started"],
            record["ended"],
            record["outcome"],
            " ".join(record["command_ids"]),
        ]
        stops = record["stops"]
        emissions = _per_stop(stops, record.get("emissions") or [])
        blank_stop = [""] * (len(CSV_COLUMNS) - len(head) - len(LASER_COLUMNS))
        if not stops and not emissions.get(0):
            writer.writerow([*head, *blank_stop, *_laser(None)])
        for emission in emissions.get(0, []):
            writer.writerow([*head, *blank_stop, *_laser(emission)])
        for n, stop in enumerate(stops, start=1):
            position = stop["position"] if isinstance(stop["position"], dict) else {}
            window = stop.get("daq") or {}
            row = [
                *head,
                n,
                stop["state"],
                stop["arrived"],
                stop["departed"],
                *(_cell(position.get(key)) for key in POSITION_KEYS),
                *(_cell(window.get(key)) for key in ("start", "end", "id")),
            ]
            here: list[dict[str, Any] | None] = [*emissions.get(n, [])]
            for interval in here or [None]:
                writer.writerow([*row, *_laser(interval)])
    return out.getvalue()


def _per_stop(
    stops: Sequence[dict[str, Any]], emissions: Sequence[dict[str, Any]]
) -> dict[int, list[dict[str, Any]]]:
    """Each interval under the (1-based) stop during which it started; 0: none."""
    out: dict[int, list[dict[str, Any]]] = {}
    for emission in emissions:
        start = emission["started"]
        n = next(
            (
                k
                for k, s in enumerate(stops, start=1)
                if s["arrived"] <= start and (s["departed"] is None or start <= s["departed"])
            ),
            0,
        )
        out.setdefault(n, []).append(emission)
    return out


def _laser(emission: dict[str, Any] | None) -> list[str]:
    if emission is None:
        return [""] * len(LASER_COLUMNS)
    return [_cell(emission.get(key)) for key in _LASER_KEYS]


def _cell(value: Any) -> str:
    return "" if value is None else str(value)
