"""The calibration house over the real stack: valves per port, environment, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Broker
from tests.integration.stack import hil_stack

pytestmark = pytest.mark.integration


async def test_house_status_and_commands(mosquitto: Broker, tmp_path: Path) -> None:
    async with hil_stack(mosquitto, tmp_path) as stack:
        p = stack.probe
        status = await p.status("house", lambda s: s["state"] == "READY" and s["position"])
        pos = status["position"]
        assert pos["valves"] == {
            "acu": "closed",
            "cls1": "closed",
            "cls2": "closed",
            "rov": "closed",
        }
        assert 0 < pos["o2_ppm"] <= 10 and 0 < pos["radon_mbq_m3"] <= 15
        assert pos["estop_ok"] is True and pos["n2_flow_ok"] is True
        truth = await p.wait(lambda: p.last("sim/house/truth"), 5.0, "house truth")
        assert abs(truth["o2_ppm"] - pos["o2_ppm"]) < 1.0
        assert status["deployed"] is False and status["fault"] is None

        rep = await p.run("house", "home")
        assert rep["result"] == "completed", rep
        for action, args, code in [
            ("open", {}, "unknown_action"),  # valves move only through a deployment system
            ("home", {"valve": "acu"}, "bad_request"),
            ("reset", {}, "invalid_state"),
        ]:
            ack = await p.ack(await p.send("house", action, args), "house")
            assert ack["result"] == "rejected", (action, ack)
            assert ack["error"]["code"] == code, (action, ack)
        # the house still answers
        rep = await p.run("house", "status")
        assert rep["result"] == "completed", rep
