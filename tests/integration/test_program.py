"""Calibration programs over the real stack: the weekly program unattended; the DAQ handshake with
pause, a trip that suspends, resume after reset, abort; invalid programs refused with every
problem; a daemon killed during a run reports the interrupted program and resumes it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Broker
from tests.integration.stack import export, hil_stack, restart
from tests.mqtt_probe import Probe

pytestmark = pytest.mark.integration

HANDSHAKE = {'daq = "dwell"': 'daq = "handshake"'}
SHORT = """
name = "short"
title = "three AmC points on the axis"

[[steps]]
system = "acu"
source = "AmC"
daq_s = 60.0
points = [{z_m = 12.0}, {z_m = 10.0}, {z_m = 8.0}]
"""


def _program(tmp: Path, text: str = SHORT, name: str = "short") -> str:
    path = tmp / f"{name}.toml"
    path.write_text(text)
    return str(path)


async def _global(p: Probe, action: str, args: dict[str, Any] | None = None) -> str:
    return await p.send(None, action, args)


async def _start(p: Probe, program: str) -> str:
    cmd = await _global(p, "program.run", {"program": program})
    ack = await p.ack(cmd, None, timeout_s=10)
    assert ack["result"] == "accepted", ack
    final = await p.final(cmd, None)
    assert final["result"] == "completed" and final["run"], final
    return str(final["run"])


async def _program_state(p: Probe, *states: str, timeout_s: float = 30.0) -> dict[str, Any]:
    doc: dict[str, Any] = await p.wait(
        lambda: (d := p.last("program/status")) and d["state"] in states and d,
        timeout_s,
        f"program {'/'.join(states)}",
    )
    return doc


async def _daq_request(p: Probe, n: int, timeout_s: float = 30.0) -> dict[str, Any]:
    """The n-th (1-based) DAQ request of the test."""
    got: list[dict[str, Any]] = await p.wait(
        lambda: len(p.on("daq/request")) >= n and p.on("daq/request"), timeout_s, f"daq {n}"
    )
    return got[n - 1]


async def _daq_done(p: Probe, request: dict[str, Any]) -> None:
    await p.publish("daq/done", {"id": request["id"], "ok": True})


async def test_the_weekly_program_runs_unattended(mosquitto: Broker, tmp_path: Path) -> None:
    async with hil_stack(mosquitto, tmp_path, time_scale=300.0) as stack:
        p = stack.probe
        await stack.home()
        started = time.monotonic()
        run = await _start(p, "weekly")
        done = await _program_state(p, "COMPLETED", "SUSPENDED", "FAILED", timeout_s=120)
        wall_s = time.monotonic() - started
        assert done["state"] == "COMPLETED", done
        # 5 AmC points, the laser's one (its 10-intensity scan)
        assert done["progress"] == 1.0 and done["done_points"] == done["points"] == 6, done
        assert stack.acu()["state"] == "PARKED"
        print(f"weekly at time_scale 300: {wall_s:.1f} s wall")
        # every point is in the deployment log with its DAQ window
        records = [r for r in export(stack.config) if r["program"] == run]
        assert [r["source"] for r in records] == ["AmC-1", "laser-1"], records
        windows = [s["daq"] for r in records for s in r["stops"] if "daq" in s]
        assert len(windows) == 6 and all(w["ok"] and w["start"] < w["end"] for w in windows)
        # the scan: one emission interval per intensity, in the laser's record
        reasons = [e["end_reason"] for e in records[1]["emissions"]]
        assert reasons == ["scan_step"] * 9 + ["scan_done"], reasons
        assert {w["mode"] for w in windows} == {"dwell"}
        # and the operator's trail: the run, every command the program sent, in the audit log
        runs = [e for e in p.on("events") if e.get("event") == "program"]
        assert [e["state"] for e in runs] == ["RUNNING", "COMPLETED"], runs


async def test_daq_handshake_pause_trip_resume_abort(mosquitto: Broker, tmp_path: Path) -> None:
    async with hil_stack(mosquitto, tmp_path, replace=HANDSHAKE) as stack:
        p = stack.probe
        await stack.home()
        run = await _start(p, _program(tmp_path))
        first = await _daq_request(p, 1)
        assert first["source"] == "AmC-1" and first["kind"] == "AmC" and first["daq_s"] == 60.0
        assert first["position"]["z_m"] == pytest.approx(12.0, abs=0.001), first
        assert (first["step"], first["point"], first["run"]) == (1, 1, run)

        # pause: it takes effect once the point's DAQ is done; the source stays at the point
        pause = await _global(p, "program.pause")
        assert (await p.ack(pause, None))["result"] == "accepted"
        await asyncio.sleep(0.3)
        assert p.last("program/status")["state"] == "RUNNING"
        assert not [r for r in p.replies(pause, None) if r["final"]]
        await _daq_done(p, first)
        assert (await p.final(pause, None))["result"] == "completed"
        status = await _program_state(p, "PAUSED")
        assert status["done_points"] == 1 and "paused by pytest" in status["reason"], status
        assert stack.acu()["state"] == "AT_POSITION"
        again = await _global(p, "program.pause")
        assert (await p.ack(again, None))["error"]["code"] == "invalid_state"

        resume = await _global(p, "program.resume")
        assert (await p.final(resume, None))["result"] == "completed"
        second = await _daq_request(p, 2)
        assert second["position"]["z_m"] == pytest.approx(10.0, abs=0.001)

        # a trip during the DAQ suspends the program with its reason
        await stack.inject("snag", "A")
        suspended = await _program_state(p, "SUSPENDED")
        assert "snag" in suspended["reason"] and "point 2" in suspended["reason"], suspended
        refused = await _global(p, "program.resume")
        ack = await p.ack(refused, None)
        assert ack["error"]["code"] == "invalid_state" and "reset" in ack["error"]["message"]
        await stack.inject("clear")
        await p.wait(
            lambda: 1.0 < (p.last("acu/telemetry")["units"]["A"]["tension_n"] or 0) < 5.0,
            5.0,
            "tension back",
        )
        assert (await p.run("acu", "reset"))["result"] == "completed"
        resume = await _global(p, "program.resume")
        assert (await p.final(resume, None))["result"] == "completed"
        repeated = await _daq_request(p, 3)  # the interrupted point, again
        assert repeated["point"] == 2 and repeated["position"]["z_m"] == pytest.approx(10, abs=1e-3)
        await _daq_done(p, repeated)
        third = await _daq_request(p, 4)
        assert third["point"] == 3

        # abort: stop and retract
        abort = await _global(p, "program.abort")
        assert (await p.final(abort, None, timeout_s=60))["result"] == "completed"
        aborted = p.last("program/status")
        assert aborted["state"] == "ABORTED" and "aborted by pytest" in aborted["reason"]
        assert (await p.status("acu", lambda s: s["state"] == "PARKED"))["deployed"] is False
        records = [r for r in export(stack.config) if r["program"] == run]
        assert len(records) == 1 and records[0]["outcome"] == "parked", records
        windows = [s["daq"] for s in records[0]["stops"] if "daq" in s]
        # point 2's first window failed (the snag), its repetition was taken
        assert [(w["point"], w["ok"], w.get("mode")) for w in windows] == [
            (1, True, "handshake"),
            (2, False, None),
            (2, True, "handshake"),
        ], windows
        assert "snag" in windows[1]["message"]


BAD = """
name = "bad"

[[steps]]
system = "acu"
source = "AmC"
daq_s = 60.0
points = [{z_m = 12.0}, {z_m = -40.0}]

[[steps]]
system = "acu"
source = "Cs137"
daq_s = 60.0
points = [{z_m = 0.0}]
"""


async def test_bad_programs_are_refused_with_every_problem(
    mosquitto: Broker, tmp_path: Path
) -> None:
    async with hil_stack(mosquitto, tmp_path) as stack:
        p = stack.probe
        # not homed yet: the live checks refuse it
        cmd = await _global(p, "program.run", {"program": _program(tmp_path)})
        ack = await p.ack(cmd, None, timeout_s=10)
        assert ack["error"]["code"] == "invalid_state" and "not homed" in ack["error"]["message"]
        await stack.home()
        cmd = await _global(p, "program.run", {"program": _program(tmp_path, BAD, "bad")})
        ack = await p.ack(cmd, None, timeout_s=10)
        assert ack["result"] == "rejected" and ack["error"]["code"] == "bad_request", ack
        problems = ack["problems"]
        assert any("-40" in x and "point 2" in x for x in problems), problems
        assert any("Cs137" in x for x in problems), problems
        for args in ({"program": "no-such-program"}, {"name": "weekly"}, {}):
            cmd = await _global(p, "program.run", args)
            assert (await p.ack(cmd, None, timeout_s=10))["error"]["code"] == "bad_request"
        cmd = await _global(p, "program.resume")
        assert (await p.ack(cmd, None))["error"]["code"] == "invalid_state"
        assert p.last("program/status")["state"] == "IDLE"
        assert stack.acu()["state"] == "PARKED"  # nothing moved


async def test_a_restarted_daemon_reports_and_resumes_the_interrupted_program(
    mosquitto: Broker, tmp_path: Path
) -> None:
    async with hil_stack(mosquitto, tmp_path, replace=HANDSHAKE) as stack:
        p = stack.probe
        await stack.home()
        run = await _start(p, _program(tmp_path))
        await _daq_done(p, await _daq_request(p, 1))
        await _daq_request(p, 2)
        await restart(stack, "calibd-restarted")
        status = await _program_state(p, "SUSPENDED")
        assert status["run"] == run and "interrupted by a daemon restart" in status["reason"]
        assert status["point"] == 2 and status["done_points"] == 1, status
        acu = await p.status("acu", lambda s: s["seq"] > 1 and s["state"] != "UNKNOWN")
        assert acu["state"] == "AT_POSITION", acu  # restored where it was
        resume = await _global(p, "program.resume")
        assert (await p.final(resume, None))["result"] == "completed"
        repeated = await _daq_request(p, 3)
        assert repeated["point"] == 2
        await _daq_done(p, repeated)
        await _daq_done(p, await _daq_request(p, 4))
        done = await _program_state(p, "COMPLETED", timeout_s=60)
        assert done["done_points"] == 3
        assert (await p.status("acu", lambda s: s["state"] == "PARKED"))["deployed"] is False
