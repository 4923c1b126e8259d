"""The ROV over the real stack (Mosquitto, Modbus TCP, pty serial, calibsim physics): the whole
cycle against the simulator's true vehicle position, bad input, and an injected fault."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Broker
from tests.integration.stack import Stack, hil_stack

pytestmark = pytest.mark.integration

TIME_SCALE = 20.0  # the navigation loop polls at ~50 Hz: 0.4 s of physics per poll
ACCURACY_M = 0.05


def _args(target: tuple[float, float, float]) -> dict[str, float]:
    return dict(zip(("x_m", "y_m", "z_m"), target, strict=True))


def _xyz(doc: dict[str, Any]) -> tuple[float, float, float]:
    p = doc["position"]
    return (p["x_m"], p["y_m"], p["z_m"])


async def _truth_after(stack: Stack, after: float) -> dict[str, Any]:
    def fresh() -> dict[str, Any] | None:
        got = [m for m in stack.probe.msgs if m.topic.endswith("/sim/rov/truth") and m.at > after]
        return got[-1].payload if got else None

    doc: dict[str, Any] = await stack.probe.wait(fresh, 10.0, "fresh rov truth")
    return doc


async def _assert_holding_at(stack: Stack, target: tuple[float, float, float]) -> None:
    p = stack.probe
    status = await p.status("rov", lambda s: s["state"] == "HOLDING", timeout_s=5)
    assert status["deployed"] is True and status["uss_fix"] is True
    assert status["target"] == dict(zip(("x_m", "y_m", "z_m"), target, strict=True))
    # the latest status after a fresh truth: both describe the vehicle holding station
    truth = await _truth_after(stack, p.msgs[-1].at)
    status = p.last("rov/status")
    believed, true = _xyz(status), _xyz(truth)
    assert math.dist(believed, true) <= ACCURACY_M, (believed, true)
    assert math.dist(true, target) <= ACCURACY_M, (true, target)
    assert truth["thrusters_on"] is True


async def _home(stack: Stack) -> None:
    rep = await stack.probe.run("rov", "home", timeout_s=30)
    assert rep["result"] == "completed", rep["error"]


async def test_home_deploy_move_retract(mosquitto: Broker, tmp_path: Path) -> None:
    async with hil_stack(mosquitto, tmp_path, time_scale=TIME_SCALE) as stack:
        p = stack.probe
        await p.status("rov", lambda s: s["state"] == "UNKNOWN")
        await _home(stack)
        parked = await p.status("rov", lambda s: s["state"] == "PARKED")
        assert parked["homed"] is True and parked["deployed"] is False

        target = (1.0, -0.5, 15.5)
        rep = await p.run("rov", "deploy", _args(target), 60)
        assert rep["result"] == "completed", rep["error"]
        assert p.last("house/status")["position"]["valves"]["rov"] == "open"
        await _assert_holding_at(stack, target)

        target = (-0.8, 1.2, 14.0)
        rep = await p.run("rov", "move", _args(target), 60)
        assert rep["result"] == "completed", rep["error"]
        await _assert_holding_at(stack, target)

        rep = await p.run("rov", "retract", timeout_s=60)
        assert rep["result"] == "completed", rep["error"]
        final = await p.status("rov", lambda s: s["state"] == "PARKED")
        assert final["deployed"] is False
        assert p.last("house/status")["position"]["valves"]["rov"] == "closed"
        truth = await _truth_after(stack, p.msgs[-1].at)
        assert truth["parked"] is True and truth["thrusters_on"] is False

        transitions = [
            (e["src"], e["dst"])
            for e in p.on("events")
            if e.get("event") == "transition" and e["system"] == "rov"
        ]
        for step in [
            ("HOMING", "PARKED"),
            ("PARKED", "LAUNCHING"),
            ("LAUNCHING", "NAVIGATING"),
            ("NAVIGATING", "HOLDING"),
            ("HOLDING", "NAVIGATING"),
            ("HOLDING", "RETURNING"),
            ("RETURNING", "RECOVERING"),
            ("RECOVERING", "PARKED"),
        ]:
            assert step in transitions, (step, transitions)


async def _rejected(stack: Stack, action: str, args: Any, code: str) -> None:
    cmd_id = await stack.probe.send("rov", action, args)
    ack = await stack.probe.ack(cmd_id, "rov")
    assert ack["result"] == "rejected", ack
    assert ack["error"]["code"] == code, (action, args, ack["error"])


async def test_bad_input_then_thruster_fault_and_reset(mosquitto: Broker, tmp_path: Path) -> None:
    async with hil_stack(mosquitto, tmp_path, time_scale=TIME_SCALE) as stack:
        p = stack.probe
        await p.status("rov", lambda s: s["state"] == "UNKNOWN")
        # bad input is refused before anything moves, whatever the state
        await _rejected(stack, "deploy", {"x_m": 0.0, "y_m": 0.0, "z_m": -17.3}, "out_of_range")
        await _rejected(stack, "deploy", {"x_m": 12.2, "y_m": 12.2, "z_m": 1.0}, "out_of_range")
        await _rejected(stack, "deploy", {"x_m": 0.1, "y_m": 0.0, "z_m": 17.0}, "out_of_range")
        await _rejected(stack, "deploy", {"x_m": 1.0, "y_m": 0.0}, "bad_request")
        await _rejected(stack, "deploy", {"x_m": "1", "y_m": 0.0, "z_m": 1.0}, "bad_request")
        await _rejected(stack, "fly", {}, "unknown_action")
        await _rejected(stack, "move", {"x_m": 1.0, "y_m": 0.0, "z_m": 10.0}, "invalid_state")
        await _rejected(stack, "deploy", {"x_m": 1.0, "y_m": 0.0, "z_m": 10.0}, "invalid_state")
        truth = p.last("sim/rov/truth")
        assert truth["paid_out_m"] < 0.02 and truth["thrusters_on"] is False

        await _home(stack)
        target = (0.5, 0.5, 15.8)
        rep = await p.run("rov", "deploy", _args(target), 60)
        assert rep["result"] == "completed", rep["error"]
        await _rejected(stack, "deploy", {"x_m": 1.0, "y_m": 0.0, "z_m": 10.0}, "invalid_state")

        # a thruster fault: FAULT, thrust zeroed, winch halted, motion refused
        await stack.inject("drive_alarm", "vehicle", system="rov")
        fault = await p.status("rov", lambda s: s["state"] == "FAULT", timeout_s=5)
        assert fault["fault"]["code"] == "thruster_fault", fault
        truth = await _truth_after(stack, p.msgs[-1].at)
        assert truth["thrusters_on"] is False
        assert all(f == 0.0 for f in truth["thrust_n"])
        winch = p.last("rov/telemetry")["winch"]
        assert winch["moving"] is False
        await _rejected(stack, "move", {"x_m": 1.0, "y_m": 0.0, "z_m": 10.0}, "interlock")

        await stack.inject("clear", system="rov")
        rep = await p.run("rov", "reset")
        assert rep["result"] == "completed", rep["error"]
        stopped = await p.status("rov", lambda s: s["state"] == "STOPPED")
        assert stopped["fault"] is None and stopped["deployed"] is True

        rep = await p.run("rov", "retract", timeout_s=60)
        assert rep["result"] == "completed", rep["error"]
        await p.status("rov", lambda s: s["state"] == "PARKED")
