"""The cross-system interlock rows over the real stack: each condition, the `interlock`
refusal naming the row, the board entry and how it ends (inhibits by themselves, trips by
`reset`).

Covered elsewhere: the house e-stop input (`estop_input`, test_faults.py) and a stuck gate
valve (`valve_timeout`, test_faults.py); `valve_path` cannot arise over the stack (a
deployment system closes its valve only once parked): unit tests prove it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Broker
from tests.integration import interlock_checks as ck
from tests.integration.stack import Stack, hil_stack
from tests.mqtt_probe import Probe

pytestmark = pytest.mark.integration

Doc = dict[str, Any]
SYSTEMS = ("acu", "cls1", "cls2", "gt", "rov")


async def _home(p: Probe, *systems: str) -> None:
    """Home one system after the other (each raises its source through its own valve)."""
    for system in systems:
        rep = await p.run(system, "home", timeout_s=60)
        assert rep["result"] == "completed", rep


async def _acu_out(stack: Stack, z_m: float) -> None:
    rep = await stack.probe.run("acu", "deploy", {"unit": "A", "z_m": z_m}, timeout_s=60)
    assert rep["result"] == "completed", rep


async def test_chimney_sources_turntable_and_estop(mosquitto: Broker, tmp_path: Path) -> None:
    async with hil_stack(mosquitto, tmp_path, time_scale=50.0) as stack:
        p = stack.probe
        await _home(p, "acu", "cls1", "gt")
        await _acu_out(stack, 15.0)

        # chimney_exclusive / source_limit: inhibits while the ACU source is in the detector
        entry = await ck.on_board(p, "acu", "chimney_exclusive", latched=False)
        assert entry["severity"] == "inhibit", entry
        entry = await ck.on_board(p, "acu", "source_limit", latched=False)
        assert entry["severity"] == "inhibit", entry
        await ck.refused(p, "cls1", "deploy", {"x_m": 3.0, "z_m": 8.0}, prefix="chimney_exclusive:")
        await ck.refused(p, "gt", "deploy", {"theta_deg": 20.0}, prefix="source_limit:")
        assert p.last("sim/cls1/truth")["parked"] is True
        assert all(a["parked"] for a in p.last("sim/gt/truth")["axes"].values())

        # estop (global, MQTT) while the ACU moves: every system latches FAULT `estop`
        move_id = await p.send("acu", "move", {"z_m": 5.0})
        assert (await p.ack(move_id))["result"] == "accepted"
        await p.wait(
            lambda: stack.truth()["units"]["A"]["z_m"] < 14.0, 20.0, "source on its way down"
        )
        estop_id = await p.send(None, "estop")
        assert (await p.ack(estop_id, None))["result"] == "accepted"
        assert (await p.final(estop_id, None))["result"] == "completed"
        final = await p.final(move_id, timeout_s=10)
        assert final["result"] == "failed", final
        assert final["error"]["code"] == "interlock", final
        assert final["error"]["message"].startswith("estop:"), final
        for system in SYSTEMS:
            await ck.latched(p, system, "estop")
        entry = await ck.on_board(p, "daemon", "estop", latched=False)
        assert entry["severity"] == "trip", entry
        await ck.standing_still(stack, "acu", lambda t: float(t["units"]["A"]["z_m"]))
        # a per-system reset cannot release it; status still answers
        await ck.refused(p, "acu", "reset", prefix="estop:")
        await ck.refused(p, "gt", "home", prefix="estop:")
        assert (await p.run("acu", "status"))["result"] == "completed"

        # the global reset releases the latch and resets every system
        reset_id = await p.send(None, "reset")
        assert (await p.ack(reset_id, None))["result"] == "accepted"
        assert (await p.final(reset_id, None))["result"] == "completed"
        expected = {
            "acu": "STOPPED",
            "cls1": "PARKED",
            "cls2": "UNKNOWN",
            "gt": "PARKED",
            "rov": "UNKNOWN",
        }
        for system, state in expected.items():
            status = await p.status(system, lambda s: s["fault"] is None and not s["busy"])
            assert status["state"] == state, status
        await ck.off_board(p, "daemon", "estop")
        await p.wait(
            lambda: not [e for e in p.last("interlocks")["active"] if e["latched"]],
            5.0,
            "no latched entry left",
        )
        # turntable_spool_out: STOPPED may select a unit, but the turntable may not turn
        # while unit A is off its home switch
        await ck.refused(p, "acu", "select", {"unit": "C"}, prefix="turntable_spool_out:")
        assert stack.acu()["position"]["unit"] == "A"

        # the inhibits end by themselves once the source is parked
        rep = await p.run("acu", "retract", timeout_s=60)
        assert rep["result"] == "completed", rep
        await ck.off_board(p, "acu", "chimney_exclusive")
        await ck.off_board(p, "acu", "source_limit")

        # source_limit counts the GT too: with its source out, no ACU source may enter
        rep = await p.run("gt", "deploy", {"theta_deg": 10.0}, timeout_s=60)
        assert rep["result"] == "completed", rep
        entry = await ck.on_board(p, "gt", "source_limit", latched=False)
        assert entry["severity"] == "inhibit", entry
        await ck.refused(p, "acu", "deploy", {"unit": "A", "z_m": 10.0}, prefix="source_limit:")
        rep = await p.run("gt", "retract", timeout_s=60)
        assert rep["result"] == "completed", rep
        await ck.off_board(p, "gt", "source_limit")


async def test_run_permit_and_o2(mosquitto: Broker, tmp_path: Path) -> None:
    extra = '\n[interlocks.run_permit]\nrequired_for = ["acu"]\n'
    async with hil_stack(mosquitto, tmp_path, time_scale=100.0, extra=extra) as stack:
        p = stack.probe
        entry = await ck.on_board(p, "acu", "run_permit", latched=False)
        assert entry["severity"] == "inhibit", entry
        await stack.home()  # only deploy and move need the permit
        await ck.refused(p, "acu", "deploy", {"unit": "A", "z_m": 15.0}, prefix="run_permit:")

        await p.publish("runcontrol/permit", {"permit": True}, retain=True)
        await ck.off_board(p, "acu", "run_permit")

        # o2_high: no gate valve opens, so no deployment through one
        await stack.inject("o2_high", "io", system="house")
        entry = await ck.on_board(p, "house", "o2_high", latched=False)
        assert entry["severity"] == "inhibit", entry
        await ck.refused(p, "acu", "deploy", {"unit": "A", "z_m": 15.0}, prefix="o2_high:")
        assert p.last("house/status")["position"]["valves"]["acu"] == "closed"
        await stack.inject("clear", system="house")
        await ck.off_board(p, "house", "o2_high")
        await _acu_out(stack, 15.0)

        # the permit withdrawn: no further deploy/move, but nothing out is stopped or kept out
        await p.publish("runcontrol/permit", {"permit": False}, retain=True)
        await ck.on_board(p, "acu", "run_permit", latched=False)
        assert p.last("acu/status")["state"] == "AT_POSITION"
        await ck.refused(p, "acu", "move", {"z_m": 12.0}, prefix="run_permit:")
        rep = await p.run("acu", "retract", timeout_s=60)
        assert rep["result"] == "completed", rep
        await p.publish("runcontrol/permit", b"", retain=True)  # drop the retained message


async def test_radon_high(
    mosquitto: Broker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The house radon reading above the limit (15 mBq/m3): deployments through a gate valve
    are refused; the GT (no valve) is not concerned."""
    monkeypatch.setenv("CALIBD_SIM__RADON_MBQ_M3", "20")
    async with hil_stack(mosquitto, tmp_path) as stack:
        p = stack.probe
        assert p.last("house/status")["position"]["radon_mbq_m3"] > 15
        entry = await ck.on_board(p, "house", "radon_high", latched=False)
        assert entry["severity"] == "inhibit", entry
        # refused before anything else is looked at (these systems are not even homed)
        await ck.refused(p, "acu", "deploy", {"unit": "A", "z_m": 15.0}, prefix="radon_high:")
        await ck.refused(
            p, "rov", "deploy", {"x_m": 1.0, "y_m": 0.0, "z_m": 10.0}, prefix="radon_high:"
        )
        assert p.last("house/status")["position"]["valves"]["acu"] == "closed"
        await _home(p, "gt")
        rep = await p.run("gt", "deploy", {"theta_deg": 10.0}, timeout_s=60)
        assert rep["result"] == "completed", rep
        rep = await p.run("gt", "retract", timeout_s=60)
        assert rep["result"] == "completed", rep


async def test_rov_keepout(mosquitto: Broker, tmp_path: Path) -> None:
    """Two chimney systems allowed out (max_in_chimney = 2): the ROV still keeps out of a
    deployed cable's zone; it launches along the axis below the chimney exit."""
    extra = "\n[interlocks]\nmax_in_chimney = 2\nmax_sources_in_detector = 2\n"
    async with hil_stack(mosquitto, tmp_path, extra=extra) as stack:
        p = stack.probe
        await _home(p, "acu", "rov")
        await _acu_out(stack, 15.0)
        assert not ck.entries(p, "acu", "chimney_exclusive")  # one of two places taken
        await ck.refused(
            p, "rov", "deploy", {"x_m": 3.0, "y_m": 0.0, "z_m": 8.0}, prefix="rov_keepout:"
        )
        assert p.last("sim/rov/truth")["parked"] is True
        assert p.last("house/status")["position"]["valves"]["rov"] == "closed"

        # it ends by itself once the cable is in
        rep = await p.run("acu", "retract", timeout_s=60)
        assert rep["result"] == "completed", rep
        deploy_id = await p.send("rov", "deploy", {"x_m": 3.0, "y_m": 0.0, "z_m": 8.0})
        assert (await p.ack(deploy_id, "rov"))["result"] == "accepted"
        rep = await p.run("rov", "stop")
        assert rep["result"] == "completed", rep
        assert (await p.final(deploy_id, "rov"))["result"] == "aborted"
