"""calibctl's text: positions, the systems table, the progress bar, ETA, program line, errors."""

from __future__ import annotations

import math
from typing import Any

import pytest

from calibd.ctl.render import (
    bar,
    daemon_line,
    fmt_eta,
    fmt_position,
    interlock_lines,
    interlocks_summary,
    program_line,
    reply_error,
    results_text,
    status_table,
)

ACU: dict[str, Any] = {
    "system": "acu",
    "state": "MOVING",
    "busy": True,
    "homed": True,
    "deployed": True,
    "source": "AmC-1",
    "position": {"z_m": 5.00031, "unit": "A"},
    "target": {"z_m": -5.0, "unit": "A"},
    "fault": None,
    "command": {"id": "c-1", "action": "move"},
}
HOUSE: dict[str, Any] = {
    "system": "house",
    "state": "READY",
    "busy": False,
    "homed": True,
    "deployed": False,
    "source": None,
    "target": None,
    "fault": None,
    "position": {
        "valves": {"acu": "open", "cls1": "closed"},
        "o2_ppm": 4.0,
        "radon_mbq_m3": 8.2,
        "estop_ok": True,
    },
}
GT_FAULT: dict[str, Any] = {
    "system": "gt",
    "state": "FAULT",
    "busy": False,
    "homed": True,
    "deployed": True,
    "source": "AmC-4",
    "position": {"theta_deg": 90.0, "arc_m": 27.1, "tension_n": {"top": 3.0}},
    "target": None,
    "fault": {"code": "snag", "message": "over-tension"},
}


@pytest.mark.parametrize(
    ("pos", "text"),
    [
        ({"z_m": 5.00031, "unit": "A"}, "z=5.000m unit=A"),
        ({"z_m": None, "unit": None}, "-"),
        ({"x_m": 2.0, "z_m": -3.0}, "x=2.000m z=-3.000m"),
        ({"theta_deg": 90.0, "tension_n": {"top": 3.0}}, "theta=90.00deg"),
        ({"x_m": 1.0, "y_m": -2.0, "z_m": 3.0}, "x=1.000m y=-2.000m z=3.000m"),
        (HOUSE["position"], "valves acu=open"),
        ({"valves": {"acu": "closed"}, "estop_ok": False}, "valves closed E-STOP OPEN"),
        (None, "-"),
    ],
)
def test_position(pos: Any, text: str) -> None:
    assert fmt_position(pos) == text


def test_status_table_rows_in_system_order_with_house_details() -> None:
    lines = status_table({"house": HOUSE, "gt": GT_FAULT, "acu": ACU})
    assert lines[0].split() == [
        "SYSTEM",
        "STATE",
        "HOMED",
        "DEPLOYED",
        "SOURCE",
        "POSITION",
        "TARGET",
        "FAULT",
        "BUSY",
    ]
    assert [line.split()[0] for line in lines[1:4]] == ["acu", "gt", "house"]
    acu = lines[1]
    assert "MOVING" in acu and "AmC-1" in acu and "z=5.000m unit=A" in acu
    assert "z=-5.000m unit=A" in acu and acu.endswith("yes (move)")
    assert "snag" in lines[2] and "theta=90.00deg" in lines[2]
    assert lines[4] == ("house: valves acu=open cls1=closed; O2 4.0 ppm; Rn 8.2 mBq/m3; e-stop ok")
    # the columns line up: every row has POSITION at the same offset
    col = lines[0].index("POSITION")
    assert lines[1][col:].startswith("z=5.000m")


@pytest.mark.parametrize(
    ("progress", "text"),
    [
        (0.0, "[" + "." * 30 + "]   0%"),
        (0.5, "[" + "#" * 15 + "." * 15 + "]  50%"),
        (1.0, "[" + "#" * 30 + "] 100%"),
        (1.7, "[" + "#" * 30 + "] 100%"),
        (None, "[" + "." * 30 + "]   0%"),
        (math.nan, "[" + "." * 30 + "]   0%"),
    ],
)
def test_bar(progress: Any, text: str) -> None:
    assert bar(progress) == text


@pytest.mark.parametrize(
    ("eta", "text"),
    [(45.2, "45s"), (123.0, "2m03s"), (3725, "1h02m"), (None, "-"), (-1, "-"), (math.inf, "-")],
)
def test_eta(eta: Any, text: str) -> None:
    assert fmt_eta(eta) == text


def test_program_line_running_and_suspended() -> None:
    doc = {
        "program": "weekly",
        "run": "r-7",
        "state": "RUNNING",
        "step": 2,
        "steps": 4,
        "point": 3,
        "points": 15,
        "done_points": 7,
        "progress": 0.47,
        "eta_s": 123.0,
        "reason": None,
        "system": "acu",
        "source": "AmC-1",
    }
    line = program_line(doc)
    assert line.startswith("program weekly (r-7)  RUNNING  step 2/4  point 3  7/15 points  [")
    assert " 47%  ETA 2m03s  acu AmC-1" in line
    suspended = program_line({**doc, "state": "SUSPENDED", "reason": "snag on acu"})
    assert suspended.endswith("reason: snag on acu")
    done = program_line({**doc, "state": "COMPLETED", "progress": 1.0}, with_bar=False)
    assert "ETA" not in done and "[" not in done
    assert program_line({"program": None, "state": "IDLE"}) == "program: IDLE (none has run)"
    assert program_line(None).startswith("program: none")


def test_reply_error_lines() -> None:
    rejected = {
        "result": "rejected",
        "error": {"code": "out_of_range", "message": "z_m 99.0 outside [-17.4, 17.4]"},
    }
    assert reply_error("acu deploy", rejected) == [
        "calibctl: acu deploy rejected: out_of_range: z_m 99.0 outside [-17.4, 17.4]"
    ]
    bad = {
        "result": "rejected",
        "error": {"code": "bad_request", "message": "program weekly is invalid"},
        "problems": ["steps[1].points[2]: z_m 30 outside", "no source AmC mounted"],
    }
    assert reply_error("program.run", bad) == [
        "calibctl: program.run rejected: bad_request: program weekly is invalid",
        "  - steps[1].points[2]: z_m 30 outside",
        "  - no source AmC mounted",
    ]
    # a message that repeats the problems is cut before them
    bad["error"] = {"code": "invalid_state", "message": "program w: 1 problem(s): acu is X"}
    bad["problems"] = ["acu is X"]
    assert reply_error("program.run", bad) == [
        "calibctl: program.run rejected: invalid_state: program w: 1 problem(s)",
        "  - acu is X",
    ]


def test_daemon_interlocks_and_results() -> None:
    daemon = {"state": "online", "version": "0.1.0", "session": 3, "started_at": "T"}
    assert daemon_line(daemon) == "daemon: online (calibd 0.1.0, session 3, started T)"
    assert daemon_line(None).startswith("daemon: unknown")
    board = {
        "active": [
            {"id": "estop", "system": "daemon", "severity": "trip", "message": "m1", "latched": 1},
            {"id": "o2_high", "system": "house", "severity": "inhibit", "message": "m2"},
            {"id": "uss", "system": "cls1", "severity": "trip", "message": "m3"},
        ]
    }
    assert interlocks_summary(board) == "interlocks: 3 active (1 inhibit, 2 trip)"
    assert interlocks_summary({"active": []}) == "interlocks: none active"
    lines = interlock_lines(board)
    assert lines[0].split() == ["SEVERITY", "ID", "SYSTEM", "LATCHED", "MESSAGE"]
    assert lines[1].split() == ["trip", "estop", "daemon", "latched", "m1"]
    assert results_text({"rov": "tripped", "acu": "tripped"}) == "acu=tripped rov=tripped"
