"""The ACU's UV laser over the real stack (Mosquitto, calibsim's controller on a pty, calibd):
on/off with the emission interlock, off first on a trip and on the e-stop, a laser fault that
latches, the emission intervals in the deployment log, and a program point that scans. One
stack for the module; every test leaves the ACU parked and unfaulted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.conftest import Broker
from tests.integration.stack import Stack, export, hil_stack

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]
Z_M = 17.0  # just inside the detector: short travels


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(
    mosquitto: Broker, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    # time_scale 200 (the default): the gate valve's 10 s timeout would be 50 ms of wall time;
    # on a loaded CI machine give it 30 s (150 ms)
    slack = {"valve_timeout_s = 10.0": "valve_timeout_s = 30.0"}
    async with hil_stack(mosquitto, tmp_path_factory.mktemp("laser"), replace=slack) as s:
        await s.home()
        yield s


def _laser(stack: Stack) -> dict[str, Any]:
    doc: dict[str, Any] = stack.acu()["laser"]
    return doc


def _light(stack: Stack) -> bool:
    """The simulator's truth: light leaves the head."""
    return bool(stack.truth()["laser"]["emission"])


async def _ok(stack: Stack, action: str, args: dict[str, Any] | None = None) -> None:
    rep = await stack.probe.run("acu", action, args, timeout_s=30)
    assert rep["result"] == "completed", rep


async def _refused(stack: Stack, action: str, args: dict[str, Any]) -> dict[str, Any]:
    cmd = await stack.probe.send("acu", action, args)
    ack = await stack.probe.ack(cmd)
    assert ack["result"] == "rejected", ack
    error: dict[str, Any] = ack["error"]
    return error


async def _emitting(stack: Stack, on: bool) -> None:
    await stack.probe.wait(lambda: _light(stack) is on, 10.0, f"laser light {on}")


async def _parked(stack: Stack) -> None:
    await _ok(stack, "retract")
    await stack.probe.status("acu", lambda s: s["state"] == "PARKED")


def _ended(stack: Stack) -> list[dict[str, Any]]:
    return [
        e for e in stack.probe.on("events") if e.get("event") == "laser" and e["change"] == "ended"
    ]


async def test_refused_while_parked_and_on_another_unit(stack: Stack) -> None:
    error = await _refused(stack, "laser_on", {"intensity": 0.01})
    assert error["code"] == "invalid_state", error  # PARKED
    await _ok(stack, "deploy", {"unit": "A", "z_m": Z_M})
    error = await _refused(stack, "laser_on", {"intensity": 0.01})
    assert error["code"] == "interlock" and error["message"].startswith("laser_emission:"), error
    assert not _light(stack)
    await _parked(stack)


async def test_on_off_status_telemetry_and_the_deployment_log(stack: Stack) -> None:
    p = stack.probe
    await _ok(stack, "deploy", {"unit": "D", "z_m": Z_M})
    await _ok(stack, "laser_on", {"intensity": 0.02, "rate_hz": 50.0})
    await _emitting(stack, True)
    truth = stack.truth()["laser"]
    assert truth["rate_hz"] == 50.0 and truth["transmission"] == pytest.approx(0.02, rel=3e-3)
    laser = (await p.status("acu", lambda s: s["laser"]["emission"] is True))["laser"]
    assert laser["rate_hz"] == 50.0 and laser["intensity"] == pytest.approx(0.02, rel=3e-3)
    assert laser["faults"] == [] and 15.0 < laser["head_temp_c"] < 40.0
    await p.wait(lambda: (p.last("acu/telemetry") or {}).get("laser", {}).get("emission"), 5.0)
    await _ok(stack, "laser_off")
    await _emitting(stack, False)
    await _parked(stack)
    record = [r for r in export(stack.config) if r["source"] == "laser-1"][-1]
    (emission,) = record["emissions"]
    assert (emission["rate_hz"], emission["end_reason"]) == (50.0, "laser_off")
    assert emission["intensity"] == pytest.approx(0.02, rel=3e-3)
    assert record["stops"][0]["arrived"] <= emission["started"] < emission["ended"]


async def test_a_trip_switches_emission_off(stack: Stack) -> None:
    await _ok(stack, "deploy", {"unit": "D", "z_m": Z_M})
    await _ok(stack, "laser_on", {"intensity": 0.05})
    await _emitting(stack, True)
    await stack.inject("snag", "D")
    status = await stack.probe.status("acu", lambda s: s["state"] == "FAULT")
    assert status["fault"]["code"] == "snag"
    await _emitting(stack, False)
    await stack.probe.wait(lambda: _ended(stack), 5.0, "interval ended")
    assert _ended(stack)[-1]["reason"] == "trip: snag"
    error = await _refused(stack, "laser_on", {"intensity": 0.05})
    assert error["code"] == "invalid_state", error  # FAULT
    await stack.inject("clear")
    await _reset(stack)
    await _parked(stack)


async def _reset(stack: Stack) -> None:
    """`reset` until the cause is gone (a cleared snag's tension takes a few polls)."""
    for _ in range(50):
        cmd = await stack.probe.send("acu", "reset")
        if (await stack.probe.ack(cmd))["result"] == "accepted":
            final = await stack.probe.final(cmd)
            if final["result"] == "completed":
                return
        await asyncio.sleep(0.1)
    raise AssertionError("reset refused for 5 s")


async def test_the_estop_switches_emission_off(stack: Stack) -> None:
    p = stack.probe
    await _ok(stack, "deploy", {"unit": "D", "z_m": Z_M})
    await _ok(stack, "laser_on", {"intensity": 0.05})
    await _emitting(stack, True)
    cmd = await p.send(None, "estop")
    assert (await p.final(cmd, None))["result"] == "completed"
    await _emitting(stack, False)
    await p.status("acu", lambda s: s["state"] == "FAULT" and s["fault"]["code"] == "estop")
    assert _ended(stack)[-1]["reason"] == "trip: estop"
    cmd = await p.send(None, "reset")
    final = await p.final(cmd, None)
    assert final["results"]["acu"] == "reset", final
    await p.status("acu", lambda s: s["state"] == "STOPPED")
    await _parked(stack)


async def test_a_laser_fault_latches_until_it_is_gone(stack: Stack) -> None:
    p = stack.probe
    await _ok(stack, "deploy", {"unit": "D", "z_m": Z_M})
    await _ok(stack, "laser_on", {"intensity": 0.05})
    await stack.inject("laser_interlock", "laser")
    status = await p.status("acu", lambda s: s["state"] == "FAULT")
    assert status["fault"]["code"] == "laser_interlock"
    await _emitting(stack, False)
    rep = await p.run("acu", "reset")
    assert rep["result"] == "failed" and "laser_interlock" in rep["error"]["message"], rep
    await stack.inject("clear", "laser")
    await _ok(stack, "reset")
    assert _laser(stack)["faults"] == []
    await _parked(stack)


PROGRAM = """
name = "laser-point"
title = "one laser point with a three-step intensity scan"

[[steps]]
system = "acu"
source = "laser"
daq_s = 40.0
intensities = [0.01, 0.02, 0.04]
rate_hz = 20.0
points = [{z_m = 17.0}]
"""


async def test_a_program_laser_point_scans(stack: Stack, tmp_path: Path) -> None:
    p = stack.probe
    path = tmp_path / "laser-point.toml"
    path.write_text(PROGRAM)
    cmd = await p.send(None, "program.run", {"program": str(path)})
    final = await p.final(cmd, None, timeout_s=10)
    assert final["result"] == "completed", final
    run = final["run"]
    done = await p.wait(
        lambda: (d := p.last("program/status")) and d["state"] != "RUNNING" and d, 60.0, "done"
    )
    assert done["state"] == "COMPLETED", done
    scans = [e for e in p.on("events") if e.get("event") == "command" and e.get("program") == run]
    assert any(e["action"] == "laser_scan" for e in scans), scans
    record = next(r for r in export(stack.config) if r["program"] == run)
    emissions = record["emissions"]
    assert [e["intensity"] for e in emissions] == pytest.approx([0.01, 0.02, 0.04], rel=3e-3)
    assert [e["end_reason"] for e in emissions] == ["scan_step", "scan_step", "scan_done"]
    assert {e["rate_hz"] for e in emissions} == {20.0}
    (stop,) = [s for s in record["stops"] if "daq" in s]
    assert stop["daq"]["ok"] and stop["daq"]["start"] <= emissions[0]["started"]
    assert stack.acu()["state"] == "PARKED" and not _light(stack)
