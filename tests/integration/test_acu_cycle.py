"""The whole ACU cycle over real Mosquitto, Modbus TCP and pty serial, checked against the
simulator's true source position."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Broker
from tests.integration.stack import Stack, hil_stack

pytestmark = pytest.mark.integration


async def _assert_at(stack: Stack, z_target: float, unit: str) -> None:
    status = stack.acu()
    assert status["state"] == "AT_POSITION"
    assert status["position"]["unit"] == unit
    assert status["deployed"] is True
    truth = await stack.settled_truth(stack.probe.msgs[-1].at)
    true_z = truth["position"]["z_m"]
    assert truth["position"]["unit"] == unit
    # the daemon's belief against the physical truth: <= 1 mm
    assert abs(status["position"]["z_m"] - true_z) <= 0.001, (status["position"], truth["position"])
    # and where the operator asked for it
    assert abs(true_z - z_target) <= 0.001, (z_target, truth["position"])


async def test_home_select_deploy_move_retract(mosquitto: Broker, tmp_path: Path) -> None:
    async with hil_stack(mosquitto, tmp_path) as stack:
        p = stack.probe
        await stack.home()
        parked = await p.status("acu", lambda s: s["state"] == "PARKED")
        assert parked["homed"] is True and parked["deployed"] is False
        assert parked["position"]["unit"] == "A"

        rep = await p.run("acu", "select", {"unit": "C"})
        assert rep["result"] == "completed", rep
        assert stack.acu()["position"]["unit"] == "C"

        rep = await p.run("acu", "deploy", {"unit": "B", "z_m": 5.0})
        assert rep["result"] == "completed", rep
        await _assert_at(stack, 5.0, "B")
        house = p.last("house/status")
        assert house["position"]["valves"]["acu"] == "open"

        # near both ends of [z_min_m, z_max_m] = [-17.4, 17.4] (config/sim.toml) and between
        for z in (12.0, 17.0, -8.5, -17.3, 0.0):
            rep = await p.run("acu", "move", {"z_m": z})
            assert rep["result"] == "completed", (z, rep)
            await _assert_at(stack, z, "B")

        rep = await p.run("acu", "retract")
        assert rep["result"] == "completed", rep
        final = await p.status("acu", lambda s: s["state"] == "PARKED")
        assert final["deployed"] is False
        assert p.last("house/status")["position"]["valves"]["acu"] == "closed"
        assert stack.truth()["units"]["B"]["parked"] is True

        # every transition was published on {root}/events, in order
        transitions = [
            (e["src"], e["dst"])
            for e in p.on("events")
            if e.get("event") == "transition" and e["system"] == "acu"
        ]
        assert ("UNKNOWN", "HOMING") in transitions
        assert transitions[-1] == ("RETRACTING", "PARKED")
        assert ("DEPLOYING", "AT_POSITION") in transitions
