"""The per-axis interlock rows over the real stack (calibsim + calibd + Mosquitto), one fault
injected per row: the stop the simulator saw, the latched FAULT with the row's code, the
board entry, the `interlock` refusal of new motion, the reset rule, and motion afterwards.

snag/slack on the ACU and comm_loss of the moving ACU unit are proven in test_faults.py;
snag on the CLS side cable in test_cls.py, on the GT in test_gt.py; the ROV thruster fault in
test_rov.py."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BIN, Broker, Proc
from tests.integration import interlock_checks as ck
from tests.integration.stack import Stack, hil_stack

pytestmark = pytest.mark.integration

Doc = dict[str, Any]


def _paid_out_m(truth: Doc, unit: str = "A") -> float:
    return float(truth["units"][unit]["paid_out_m"] or 0.0)


async def _fresh_telemetry(stack: Stack, system: str, count: int = 3) -> None:
    """`count` telemetry messages newer than now: the daemon polled after what came before."""
    p = stack.probe
    after = p.msgs[-1].at
    await p.wait(
        lambda: (
            len([m for m in p.msgs if m.topic.endswith(f"/{system}/telemetry") and m.at > after])
            >= count
        ),
        5.0,
        f"fresh {system} telemetry",
    )


async def _acu_deploying(stack: Stack, z_m: float = 15.0, paid_m: float = 2.0) -> str:
    """Home, start a deploy of unit A; return once the source is on its way down."""
    await stack.home()
    cmd_id = await stack.probe.send("acu", "deploy", {"unit": "A", "z_m": z_m})
    assert (await stack.probe.ack(cmd_id))["result"] == "accepted"
    await stack.probe.wait(lambda: _paid_out_m(stack.truth()) > paid_m, 20.0, "source going down")
    return cmd_id


@dataclass(frozen=True)
class AcuCase:
    fault: str
    axis: str  # where it is injected (unit A is the one deploying)
    error: str  # the running deploy fails with this code
    refused: bool  # `reset` is refused while the fault is injected
    after_reset: str  # STOPPED: retract; UNKNOWN: home again


ACU_CASES = [
    AcuCase("slip", "A", "hardware", refused=False, after_reset="UNKNOWN"),
    AcuCase("stall", "A", "hardware", refused=False, after_reset="STOPPED"),
    AcuCase("drive_alarm", "A", "hardware", refused=True, after_reset="STOPPED"),
    AcuCase("limit", "A", "interlock", refused=True, after_reset="STOPPED"),
    # another unit's drive goes silent while A moves: the whole system halts
    AcuCase("comm_loss", "B", "hardware", refused=True, after_reset="STOPPED"),
]


@pytest.mark.parametrize("case", ACU_CASES, ids=[c.fault for c in ACU_CASES])
async def test_acu_axis_fault_during_deploy(
    mosquitto: Broker, tmp_path: Path, case: AcuCase
) -> None:
    async with hil_stack(mosquitto, tmp_path, time_scale=50.0) as stack:
        p = stack.probe
        deploy_id = await _acu_deploying(stack)
        await stack.inject(case.fault, case.axis)

        final = await p.final(deploy_id, timeout_s=10)
        assert final["result"] == "failed", final
        assert final["error"]["code"] == case.error, final
        assert final["error"]["message"].startswith(f"{case.fault}:"), final
        status = await ck.latched(p, "acu", case.fault)
        assert status["deployed"] is True
        if case.fault != "comm_loss":  # a silent drive cannot report the stop it never got
            event = await ck.stop_event(p, "acu", case.fault)
            assert event["axis"] == case.axis, event
        await ck.standing_still(stack, "acu", _paid_out_m)

        if case.refused:
            await ck.reset_refused_while_present(p, "acu")
        await stack.inject("clear")
        await _fresh_telemetry(stack, "acu")
        if case.fault == "comm_loss":
            await p.wait(lambda: not p.last("acu/telemetry")["lost"], 5.0, "device back")
        await ck.reset_to(p, "acu", case.after_reset)

        if case.after_reset == "UNKNOWN":
            # the encoder cannot be trusted: nothing moves before a new reference
            ack = await p.ack(await p.send("acu", "move", {"z_m": 10.0}))
            assert ack["error"]["code"] == "invalid_state", ack
            rep = await p.run("acu", "home", timeout_s=60)
        else:
            rep = await p.run("acu", "retract", timeout_s=60)
        assert rep["result"] == "completed", rep
        parked = await p.status("acu", lambda s: s["state"] == "PARKED")
        assert parked["deployed"] is False and parked["homed"] is True
        truth = await ck.truth_after(stack, "acu", p.msgs[-1].at)
        assert truth["units"]["A"]["parked"] is True, truth


async def test_acu_move_timeout(mosquitto: Broker, tmp_path: Path) -> None:
    """A stall the stall/slip rows cannot see (limits set out of reach) is caught by the
    move's own deadline: `move_timeout`, the command fails `timeout`."""
    extra = "\n[interlocks]\nfollowing_error_m = 10.0\nstall_window_s = 1000.0\n"
    async with hil_stack(mosquitto, tmp_path, time_scale=50.0, extra=extra) as stack:
        p = stack.probe
        deploy_id = await _acu_deploying(stack, z_m=15.0, paid_m=1.0)
        await stack.inject("stall", "A")
        final = await p.final(deploy_id, timeout_s=30)
        assert final["result"] == "failed", final
        assert final["error"]["code"] == "timeout", final
        assert final["error"]["message"].startswith("move_timeout:"), final
        await ck.latched(p, "acu", "move_timeout")
        await ck.stop_event(p, "acu", "stall")
        await ck.standing_still(stack, "acu", _paid_out_m)
        await stack.inject("clear")
        await _fresh_telemetry(stack, "acu")
        await ck.reset_to(p, "acu", "STOPPED")
        rep = await p.run("acu", "retract", timeout_s=60)
        assert rep["result"] == "completed", rep
        await p.status("acu", lambda s: s["state"] == "PARKED" and not s["deployed"])


async def test_acu_soft_limit_at_start(mosquitto: Broker, tmp_path: Path) -> None:
    """A source left beyond a soft limit tightened while the daemon was down: the first poll
    of the new daemon trips `soft_limit` (the drive's own HOMED bit arms the row)."""
    async with hil_stack(mosquitto, tmp_path) as stack:
        p = stack.probe
        await stack.home()
        rep = await p.run("acu", "deploy", {"unit": "A", "z_m": -5.0}, timeout_s=60)
        assert rep["result"] == "completed", rep
        session = p.last("daemon/state")["session"]
        assert stack.daemon.stop() == 0
        await p.wait(lambda: p.last("daemon/state")["state"] == "offline", 10.0, "offline")

        stack.daemon = Proc(
            [str(BIN / "calibd"), "run", "--config", str(stack.config)],
            tmp_path / "calibd2.log",
            env={"PYTHONUNBUFFERED": "1", "CALIBD_ACU__Z_MIN_M": "-2"},
        )
        await p.wait(
            lambda: (
                (p.last("daemon/state") or {}).get("session") == session + 1
                and p.last("daemon/state")["state"] == "online"
            ),
            20.0,
            "second daemon online",
        )
        status = await ck.latched(p, "acu", "soft_limit")
        assert status["deployed"] is True
        entry = await ck.on_board(p, "acu", "soft_limit", latched=True)
        assert "soft limits" in entry["message"], entry
        # nothing moved: the source is where the first daemon left it
        truth = await ck.truth_after(stack, "acu", p.msgs[-1].at)
        assert abs(truth["units"]["A"]["z_m"] - -5.0) < 0.01, truth

        # the row's reset rule: `reset`, then bring the source in (a daemon that has not
        # homed the drives itself comes back UNKNOWN: `home` raises the source to parked)
        rep = await p.run("acu", "reset")
        assert rep["result"] == "completed", rep
        status = await p.status("acu", lambda s: s["state"] != "FAULT" and not s["busy"], 5.0)
        assert status["state"] == ("STOPPED" if status["homed"] else "UNKNOWN"), status
        assert status["fault"] is None, status
        await ck.off_board(p, "acu", "soft_limit")
        rep = await p.run("acu", "retract" if status["homed"] else "home", timeout_s=60)
        assert rep["result"] == "completed", rep
        await p.status("acu", lambda s: s["state"] == "PARKED" and not s["deployed"])


# ---- the other systems ------------------------------------------------------------------------


async def test_cls1_central_limit_during_deploy(mosquitto: Broker, tmp_path: Path) -> None:
    async with hil_stack(mosquitto, tmp_path, time_scale=50.0) as stack:
        p = stack.probe
        rep = await p.run("cls1", "home", timeout_s=40)
        assert rep["result"] == "completed", rep
        deploy_id = await p.send("cls1", "deploy", {"x_m": 3.0, "z_m": 8.0})
        assert (await p.ack(deploy_id, "cls1"))["result"] == "accepted"
        await p.wait(
            lambda: (p.last("sim/cls1/truth") or {}).get("central_paid_out_m", 0) > 2.0,
            30.0,
            "source going down",
        )
        await stack.inject("limit", "central", system="cls1")
        final = await p.final(deploy_id, "cls1", timeout_s=10)
        assert final["result"] == "failed", final
        assert final["error"]["code"] == "interlock", final
        assert final["error"]["message"].startswith("limit:"), final
        await ck.latched(p, "cls1", "limit")
        event = await ck.stop_event(p, "cls1", "limit")
        assert event["axis"] == "central", event
        await ck.standing_still(stack, "cls1", lambda t: float(t["central_paid_out_m"]))
        await ck.reset_refused_while_present(p, "cls1")
        await stack.inject("clear", system="cls1")
        await _fresh_telemetry(stack, "cls1")
        await ck.reset_to(p, "cls1", "STOPPED")
        rep = await p.run("cls1", "retract", timeout_s=60)
        assert rep["result"] == "completed", rep
        await p.status("cls1", lambda s: s["state"] == "PARKED" and not s["deployed"])


async def test_gt_drive_alarm_during_move(mosquitto: Broker, tmp_path: Path) -> None:
    async with hil_stack(mosquitto, tmp_path, time_scale=50.0) as stack:
        p = stack.probe
        assert (await p.run("gt", "home", timeout_s=60))["result"] == "completed"
        rep = await p.run("gt", "deploy", {"theta_deg": 20.0}, timeout_s=60)
        assert rep["result"] == "completed", rep
        move_id = await p.send("gt", "move", {"theta_deg": 90.0})
        assert (await p.ack(move_id, "gt"))["result"] == "accepted"
        await p.wait(
            lambda: (p.last("sim/gt/truth") or {}).get("position", {}).get("theta_deg", 0) > 28,
            20.0,
            "car on its way",
        )
        await stack.inject("drive_alarm", "top", system="gt")
        final = await p.final(move_id, "gt", timeout_s=10)
        assert final["result"] == "failed", final
        assert final["error"]["code"] == "hardware", final
        await ck.latched(p, "gt", "drive_alarm")
        event = await ck.stop_event(p, "gt", "drive_alarm")
        assert event["axis"] == "top", event
        await ck.standing_still(stack, "gt", lambda t: float(t["position"]["theta_deg"]))
        await ck.reset_refused_while_present(p, "gt")
        await stack.inject("clear", system="gt")
        await _fresh_telemetry(stack, "gt")
        await ck.reset_to(p, "gt", "STOPPED")
        rep = await p.run("gt", "retract", timeout_s=90)
        assert rep["result"] == "completed", rep
        await p.status("gt", lambda s: s["state"] == "PARKED" and not s["deployed"])


async def test_rov_winch_stall_then_vehicle_comm_loss(mosquitto: Broker, tmp_path: Path) -> None:
    """The umbilical winch stalls while launching; later the vehicle goes silent while it
    holds station."""
    async with hil_stack(mosquitto, tmp_path, time_scale=20.0) as stack:
        p = stack.probe
        rep = await p.run("rov", "home", timeout_s=30)
        assert rep["result"] == "completed", rep
        target = {"x_m": 0.5, "y_m": 0.5, "z_m": 15.5}
        deploy_id = await p.send("rov", "deploy", target)
        assert (await p.ack(deploy_id, "rov"))["result"] == "accepted"
        await p.wait(
            lambda: (p.last("sim/rov/truth") or {}).get("paid_out_m", 0) > 1.0,
            20.0,
            "vehicle going down",
        )
        await stack.inject("stall", "winch", system="rov")
        final = await p.final(deploy_id, "rov", timeout_s=10)
        assert final["result"] == "failed", final
        assert final["error"]["code"] == "hardware", final
        await ck.latched(p, "rov", "stall")
        event = await ck.stop_event(p, "rov", "stall")
        assert event["axis"] == "winch", event
        await ck.standing_still(stack, "rov", lambda t: float(t["paid_out_m"]), 1e-3)
        await stack.inject("clear", system="rov")
        await _fresh_telemetry(stack, "rov")
        await ck.reset_to(p, "rov", "STOPPED")
        rep = await p.run("rov", "retract", timeout_s=60)
        assert rep["result"] == "completed", rep
        await p.status("rov", lambda s: s["state"] == "PARKED" and not s["deployed"])

        # motion works again: out to the target, then the vehicle controller goes silent
        rep = await p.run("rov", "deploy", target, timeout_s=60)
        assert rep["result"] == "completed", rep
        await stack.inject("comm_loss", "vehicle", system="rov")
        await ck.latched(p, "rov", "comm_loss")
        await ck.reset_refused_while_present(p, "rov")
        await stack.inject("clear", system="rov")
        await p.wait(lambda: not p.last("rov/telemetry")["lost"], 5.0, "vehicle back")
        await ck.reset_to(p, "rov", "STOPPED")
        rep = await p.run("rov", "retract", timeout_s=60)
        assert rep["result"] == "completed", rep
        await p.status("rov", lambda s: s["state"] == "PARKED" and not s["deployed"])
