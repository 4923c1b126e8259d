"""`calibd log export`: the deployment log read out of the database, JSON and CSV, --since."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from calibd.__main__ import main
from calibd.store.db import FILENAME, Store
from calibd.store.export import CSV_COLUMNS, ExportError, read_records, to_csv, to_json
from calibd.store.migrations import MIGRATIONS
from tests.unit.daemon.test_deployments import Rig, accepted, acu, status

CONFIG = Path(__file__).resolve().parents[3] / "config" / "sim.toml"
KEYS = {
    "id",
    "source",
    "system",
    "unit",
    "operator",
    "program",
    "command_ids",
    "session",
    "started",
    "ended",
    "outcome",
    "stops",
}


def ts(day: str) -> str:
    """`MM-DDTHH` of 2026 as the daemon writes it."""
    return f"2026-{day}:00:00.000Z"


async def build(path: Path) -> Rig:
    """A closed ACU excursion (Jan 1), one spanning into March (ACU), an open GT record
    without stops (Jan 2), a closed ROV excursion in March. The store stays open (the daemon
    is running); everything is committed."""
    rig = await Rig(path).start()
    rig.feed(
        accepted("a1", "acu", "jo", program="p1"),
        status("acu", "DEPLOYING", True, ts("01-01T00"), acu(16.0), "a1", "AmC-1"),
        status("acu", "AT_POSITION", True, ts("01-01T01"), acu(5.0), None, "AmC-1"),
        accepted("a2", "acu", "jo"),
        status("acu", "MOVING", True, ts("01-01T02"), acu(5.0), "a2", "AmC-1"),
        status("acu", "AT_POSITION", True, ts("01-01T03"), acu(-2.5), None, "AmC-1"),
        status("acu", "RETRACTING", True, ts("01-01T04"), acu(-2.0), "a3", "AmC-1"),
        status("acu", "PARKED", False, ts("01-01T05"), acu(17.4), None, "AmC-1"),
        status("acu", "DEPLOYING", True, ts("01-01T10"), acu(16.0, "B"), "a4", "Ge-68"),
        status("gt", "DEPLOYING", True, ts("01-02T00"), {"theta_deg": 1.0}, "g1", "Cs-137"),
        status("acu", "PARKED", False, ts("03-01T00"), acu(17.4, "B"), None, "Ge-68"),
        status("rov", "LAUNCHING", True, ts("03-05T00"), {"x_m": 0.0, "y_m": 0.0, "z_m": 17.0}),
        status("rov", "HOLDING", True, ts("03-05T01"), {"x_m": 1.0, "y_m": 2.0, "z_m": 3.0}),
        status("rov", "PARKED", False, ts("03-06T00"), {"x_m": 0.0, "y_m": 0.0, "z_m": 17.0}),
    )
    await rig.writer.flush()
    return rig


async def test_json_holds_every_record_with_its_stops(tmp_path: Path) -> None:
    rig = await build(tmp_path)
    records = read_records(tmp_path / FILENAME, None)  # read while the store is open
    await rig.stop()
    assert [r["id"] for r in records] == ["acu-1-1", "acu-1-2", "gt-1-3", "rov-1-4"]
    assert all(set(r) == KEYS for r in records)
    first = records[0]
    assert (first["source"], first["unit"], first["operator"], first["program"]) == (
        "AmC-1",
        "A",
        "jo",
        "p1",
    )
    assert first["command_ids"] == ["a1", "a2", "a3"] and first["outcome"] == "parked"
    assert first["stops"] == [
        {
            "position": {"z_m": 5.0, "unit": "A"},
            "arrived": ts("01-01T01"),
            "departed": ts("01-01T02"),
            "state": "AT_POSITION",
        },
        {
            "position": {"z_m": -2.5, "unit": "A"},
            "arrived": ts("01-01T03"),
            "departed": ts("01-01T04"),
            "state": "AT_POSITION",
        },
    ]
    assert records[2]["ended"] is None and records[2]["stops"] == []
    text = to_json(records)
    assert text.startswith('[\n  {\n    "id": "acu-1-1"') and json.loads(text) == records


async def test_csv_has_one_row_per_stop(tmp_path: Path) -> None:
    rig = await build(tmp_path)
    await rig.stop()
    text = to_csv(read_records(tmp_path / FILENAME, None))
    reader = csv.DictReader(io.StringIO(text))
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    rows = list(reader)
    picked = [
        (r["id"], r["stop"], r["state"], r["x_m"], r["y_m"], r["z_m"], r["theta_deg"]) for r in rows
    ]
    assert picked == [
        ("acu-1-1", "1", "AT_POSITION", "", "", "5.0", ""),
        ("acu-1-1", "2", "AT_POSITION", "", "", "-2.5", ""),
        ("acu-1-2", "", "", "", "", "", ""),
        ("gt-1-3", "", "", "", "", "", ""),
        ("rov-1-4", "1", "HOLDING", "1.0", "2.0", "3.0", ""),
    ]
    first = rows[0]
    assert (first["unit"], first["source"], first["command_ids"], first["ended"]) == (
        "A",
        "AmC-1",
        "a1 a2 a3",
        ts("01-01T05"),
    )
    assert (first["arrived"], first["departed"], rows[3]["outcome"]) == (
        ts("01-01T01"),
        ts("01-01T02"),
        "",
    )


async def test_since_keeps_started_open_or_ended_after(tmp_path: Path) -> None:
    rig = await build(tmp_path)
    await rig.stop()
    db = tmp_path / FILENAME
    since = datetime(2026, 2, 1, tzinfo=UTC)
    assert [r["id"] for r in read_records(db, since)] == ["acu-1-2", "gt-1-3", "rov-1-4"]
    at_end = datetime(2026, 3, 6, tzinfo=UTC)  # the ROV ended exactly then: kept
    assert [r["id"] for r in read_records(db, at_end)] == ["gt-1-3", "rov-1-4"]
    later = datetime(2026, 3, 7, tzinfo=UTC)
    assert [r["id"] for r in read_records(db, later)] == ["gt-1-3"]


async def test_read_errors_are_clear_and_create_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "none" / FILENAME
    with pytest.raises(ExportError, match="no such database"):
        read_records(missing, None)
    assert not missing.parent.exists()
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database at all" * 200)
    with pytest.raises(ExportError, match="cannot read the deployment log"):
        read_records(junk, None)
    old = Store(tmp_path / FILENAME, MIGRATIONS[:1])  # a schema before the deployment log
    await old.open()
    await old.close()
    with pytest.raises(ExportError, match=r"no deployment log .*schema version 1"):
        read_records(tmp_path / FILENAME, None)


def run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    code = exc.value.code
    assert isinstance(code, int)
    return code


async def test_cli_exports_to_stdout_and_to_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    rig = await build(state)
    await rig.stop()
    assert run(["log", "export", "--format", "json", "--state-dir", str(state)]) == 0
    out = capsys.readouterr().out
    assert [r["id"] for r in json.loads(out)] == ["acu-1-1", "acu-1-2", "gt-1-3", "rov-1-4"]
    target = tmp_path / "log.csv"
    argv = ["log", "export", "--format", "csv", "--since", "2026-02-01T01:00:00+01:00"]
    assert run([*argv, "--state-dir", str(state), "--output", str(target)]) == 0
    assert capsys.readouterr().out == ""
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert [r["id"] for r in rows] == ["acu-1-2", "gt-1-3", "rov-1-4"]
    # the state directory from the environment, and from --config
    monkeypatch.setenv("CALIBD_STATE__DIR", str(state))
    assert run(["log", "export", "--format", "csv", "--since", "2026-03-07T00:00:00Z"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[1].startswith("gt-1-3,gt,,Cs-137,")
    monkeypatch.delenv("CALIBD_STATE__DIR")
    config = tmp_path / "calibd.toml"
    config.write_text(CONFIG.read_text().replace('dir = "./state"', f'dir = "{state}"'))
    assert run(["log", "export", "--format", "json", "--config", str(config)]) == 0
    exported: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    assert len(exported) == 4


async def test_cli_errors_are_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "nowhere"
    assert run(["log", "export", "--format", "json", "--state-dir", str(state)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and not state.exists()
    assert captured.err.count("\n") == 1
    assert captured.err.startswith(f"calibd log export: {state / FILENAME}: no such database")
    rig = await build(tmp_path)
    await rig.stop()
    argv = ["log", "export", "--format", "json", "--state-dir", str(tmp_path)]
    assert run([*argv, "--since", "last tuesday"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--since 'last tuesday' is not an ISO 8601 time" in err
    assert run([*argv, "--output", str(tmp_path / "no" / "such" / "dir.json")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write" in err
