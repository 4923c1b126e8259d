"""Laser emission intervals in the deployment log: stored from the `laser` events with the record
open at their start, closed at a restart, exported in JSON and CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from calibd.core.outbox import Outgoing
from calibd.store.db import FILENAME
from calibd.store.export import CSV_COLUMNS, read_records, to_csv
from tests.unit.daemon.test_deployments import Rig, acu, status


def ts(minute: int) -> str:
    return f"2026-05-01T10:{minute:02d}:00.000Z"


def laser(change: str, started: int, rate_hz: float, intensity: float, **more: Any) -> Outgoing:
    doc = {
        "event": "laser",
        "system": "acu",
        "change": change,
        "rate_hz": rate_hz,
        "intensity": intensity,
        "started": ts(started),
        "command": "c-1",
        "unit": "D",
        "source": "laser-1",
        "ts": more.get("ended", ts(started)),
        **more,
    }
    return Outgoing("event", "acu", doc)


async def test_intervals_stored_with_their_deployment_and_exported(tmp_path: Path) -> None:
    rig = await Rig(tmp_path).start()
    rig.feed(
        status("acu", "DEPLOYING", True, ts(0), acu(16.0, "D"), "d1", "laser-1"),
        status("acu", "AT_POSITION", True, ts(1), acu(0.0, "D"), None, "laser-1"),
        laser("started", 2, 100.0, 0.01),
        laser("ended", 2, 100.0, 0.01, reason="scan_step", ended=ts(4)),
        laser("started", 4, 100.0, 0.02),
        laser("ended", 4, 100.0, 0.02, reason="scan_done", ended=ts(6)),
        status("acu", "MOVING", True, ts(7), acu(0.0, "D"), "m1", "laser-1"),
        status("acu", "AT_POSITION", True, ts(8), acu(-5.0, "D"), None, "laser-1"),
        laser("started", 9, 10.0, 1.0),  # left open: the daemon dies
    )
    await rig.stop()
    # the next daemon closes the interval left open
    again = await Rig(tmp_path, session=2).start()
    await again.stop()

    (record,) = read_records(tmp_path / FILENAME, None)
    assert [(e["intensity"], e["end_reason"]) for e in record["emissions"]] == [
        (0.01, "scan_step"),
        (0.02, "scan_done"),
        (1.0, "daemon_restart"),
    ]
    first = record["emissions"][0]
    assert (first["id"], first["rate_hz"], first["started"], first["ended"]) == (
        "acu-laser-1-1",
        100.0,
        ts(2),
        ts(4),
    )
    assert first["command_id"] == "c-1"
    assert record["emissions"][2]["ended"] > ts(9)

    rows = list(csv.DictReader(io.StringIO(to_csv([record]))))
    assert tuple(rows[0]) == CSV_COLUMNS
    # stop 1 carries two intervals (two rows), stop 2 one
    assert [(r["stop"], r["laser_intensity"], r["laser_end"]) for r in rows] == [
        ("1", "0.01", "scan_step"),
        ("1", "0.02", "scan_done"),
        ("2", "1.0", "daemon_restart"),
    ]


async def test_records_without_laser_have_no_emissions_key(tmp_path: Path) -> None:
    rig = await Rig(tmp_path).start()
    rig.feed(status("acu", "AT_POSITION", True, ts(1), acu(0.0, "A"), None, "AmC-1"))
    await rig.stop()
    (record,) = read_records(tmp_path / FILENAME, None)
    assert "emissions" not in record
    (row,) = csv.DictReader(io.StringIO(to_csv([record])))
    assert row["laser_rate_hz"] == "" and row["stop"] == "1"
