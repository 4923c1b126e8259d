"""The Cable Loop Systems over real Mosquitto, Modbus TCP and pty serial, checked against the
simulator's true source position."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Broker
from tests.integration.stack import Stack, hil_stack

pytestmark = pytest.mark.integration

ACCURACY_M = 0.02


def _truths(stack: Stack, system: str, after: float) -> list[dict[str, Any]]:
    return [
        m.payload
        for m in stack.probe.msgs
        if m.topic.endswith(f"/sim/{system}/truth") and m.at > after
    ]


async def _settled(stack: Stack, system: str) -> dict[str, Any]:
    after = stack.probe.msgs[-1].at
    got: list[dict[str, Any]] = await stack.probe.wait(
        lambda: _truths(stack, system, after), 10.0, "fresh truth"
    )
    return got[-1]


async def _assert_at(stack: Stack, system: str, x: float, z: float) -> float:
    """Status and truth agree with each other and with the target; the daemon's error."""
    status = await stack.probe.status(system, lambda s: s["state"] == "AT_POSITION")
    assert status["deployed"] is True
    truth = await _settled(stack, system)
    tp, sp = truth["position"], status["position"]
    belief_err = math.hypot(sp["x_m"] - tp["x_m"], sp["z_m"] - tp["z_m"])
    target_err = math.hypot(tp["x_m"] - x, tp["z_m"] - z)
    assert belief_err <= ACCURACY_M, (sp, tp)
    assert target_err <= ACCURACY_M, ((x, z), tp)
    return target_err


def _deviation_m(a: tuple[float, float], b: tuple[float, float], p: tuple[float, float]) -> float:
    """Distance of p from the segment a-b."""
    ax, az = b[0] - a[0], b[1] - a[1]
    t = ((p[0] - a[0]) * ax + (p[1] - a[1]) * az) / (ax * ax + az * az)
    t = min(1.0, max(0.0, t))
    return math.hypot(p[0] - a[0] - t * ax, p[1] - a[1] - t * az)


async def _rejected(stack: Stack, system: str, action: str, args: dict[str, Any]) -> str:
    cmd_id = await stack.probe.send(system, action, args)
    ack = await stack.probe.ack(cmd_id, system)
    assert ack["result"] == "rejected", ack
    code: str = ack["error"]["code"]
    return code


async def test_cls1_cycle_and_cls2_deploy(mosquitto: Broker, tmp_path: Path) -> None:
    async with hil_stack(mosquitto, tmp_path) as stack:
        p = stack.probe
        for system in ("cls1", "cls2"):
            rep = await p.run(system, "home", timeout_s=40)
            assert rep["result"] == "completed", rep
            parked = await p.status(system, lambda s: s["state"] == "PARKED")
            assert parked["homed"] is True and parked["deployed"] is False

        # out_of_range before anything moves
        assert await _rejected(stack, "cls1", "deploy", {"x_m": -3.0, "z_m": 0.0}) == "out_of_range"
        assert await _rejected(stack, "cls1", "deploy", {"x_m": 12.5, "z_m": -12.4}) == (
            "out_of_range"
        )
        assert await _rejected(stack, "cls1", "deploy", {"x_m": 14.0, "z_m": 2.0}) == (
            "out_of_range"
        )
        assert await _rejected(stack, "cls2", "deploy", {"x_m": 3.0, "z_m": 0.0}) == "out_of_range"
        assert await _rejected(stack, "cls1", "move", {"x_m": 3.0, "z_m": 0.0}) == "invalid_state"
        # the simulator publishes its truth at >= 4 Hz: wait for one that shows the standstill
        await p.wait(lambda: p.last("sim/cls1/truth")["parked"] is True, 2.0, "truth parked")

        rep = await p.run("cls1", "deploy", {"x_m": 4.0, "z_m": 2.0}, timeout_s=60)
        assert rep["result"] == "completed", rep
        await _assert_at(stack, "cls1", 4.0, 2.0)
        assert p.last("house/status")["position"]["valves"]["cls1"] == "open"

        # a coordinated straight move: sample the truth all along
        start = (4.0, 2.0)
        end = (9.0, 6.0)
        t0 = p.msgs[-1].at
        rep = await p.run("cls1", "move", {"x_m": end[0], "z_m": end[1]}, timeout_s=60)
        assert rep["result"] == "completed", rep
        await _assert_at(stack, "cls1", *end)
        samples = [(t["position"]["x_m"], t["position"]["z_m"]) for t in _truths(stack, "cls1", t0)]
        assert len(samples) >= 5
        worst = max(_deviation_m(start, end, s) for s in samples)
        assert worst <= ACCURACY_M, worst

        rep = await p.run("cls1", "retract", timeout_s=60)
        assert rep["result"] == "completed", rep
        final = await p.status("cls1", lambda s: s["state"] == "PARKED")
        assert final["deployed"] is False
        assert p.last("house/status")["position"]["valves"]["cls1"] == "closed"
        # the simulator publishes its truth at >= 4 Hz: wait for one that shows the standstill
        await p.wait(lambda: p.last("sim/cls1/truth")["parked"] is True, 2.0, "truth parked")

        # cls2 (the other half of the plane): deploy and retract
        rep = await p.run("cls2", "deploy", {"x_m": -6.0, "z_m": -2.0}, timeout_s=60)
        assert rep["result"] == "completed", rep
        await _assert_at(stack, "cls2", -6.0, -2.0)
        rep = await p.run("cls2", "retract", timeout_s=60)
        assert rep["result"] == "completed", rep
        await p.status("cls2", lambda s: s["state"] == "PARKED" and not s["deployed"])
        assert p.last("house/status")["position"]["valves"]["cls2"] == "closed"


async def test_cls1_fault_reset_and_uss_warning(mosquitto: Broker, tmp_path: Path) -> None:
    async with hil_stack(mosquitto, tmp_path) as stack:
        p = stack.probe
        rep = await p.run("cls1", "home", timeout_s=40)
        assert rep["result"] == "completed", rep
        rep = await p.run("cls1", "deploy", {"x_m": 3.0, "z_m": 8.0}, timeout_s=60)
        assert rep["result"] == "completed", rep
        await _assert_at(stack, "cls1", 3.0, 8.0)

        # the USS agrees with the cable model: no warning; a 0.2 m offset raises one
        st = await p.status("cls1", lambda s: s.get("uss") is not None)
        assert not [i for i in st["interlocks"] if i["id"] == "uss_mismatch"]
        await stack.inject("uss_offset", "uss", system="cls1")
        st = await p.status(
            "cls1", lambda s: any(i["id"] == "uss_mismatch" for i in s["interlocks"])
        )
        assert st["state"] == "AT_POSITION"  # a warning stops nothing
        await stack.inject("clear", "uss", system="cls1")
        await p.status(
            "cls1", lambda s: not any(i["id"] == "uss_mismatch" for i in s["interlocks"])
        )

        # a snag on the side cable during a move: FAULT, latched until the cause is gone
        cmd_id = await p.send("cls1", "move", {"x_m": 8.0, "z_m": 2.0})
        assert (await p.ack(cmd_id, "cls1"))["result"] == "accepted"
        await p.status("cls1", lambda s: s["state"] == "MOVING")
        await stack.inject("snag", "side", system="cls1")
        final = await p.final(cmd_id, "cls1")
        assert final["result"] == "failed", final
        faulted = await p.status("cls1", lambda s: s["state"] == "FAULT")
        assert faulted["fault"]["code"] == "snag"
        assert await _rejected(stack, "cls1", "reset", {}) == "interlock"
        cleared_at = p.msgs[-1].at
        await stack.inject("clear", "side", system="cls1")
        # the daemon judges the reset on its own readings: wait until they show the snag gone
        await p.wait(
            lambda: [
                m
                for m in p.msgs
                if m.topic.endswith("/cls1/telemetry")
                and m.at > cleared_at
                and m.payload["axes"]["side"]["tension_n"] < 3.0  # window top ~4 N
            ],
            5.0,
            "side tension back",
        )
        rep = await p.run("cls1", "reset")
        assert rep["result"] == "completed", rep
        await p.status("cls1", lambda s: s["state"] == "STOPPED" and s["fault"] is None)
        rep = await p.run("cls1", "retract", timeout_s=60)
        assert rep["result"] == "completed", rep
        await p.status("cls1", lambda s: s["state"] == "PARKED")
