"""Protections of this slice: snag (raising and lowering) and slack during motion, loss of a
device, stop during a deploy, a stuck gate valve, the house e-stop input."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Broker
from tests.integration import interlock_checks as ck
from tests.integration.stack import Stack, hil_stack

pytestmark = pytest.mark.integration


async def _deploying(stack: Stack, *, home: bool = True) -> str:
    if home:
        await stack.home()
    cmd_id = await stack.probe.send("acu", "deploy", {"unit": "A", "z_m": -15.0})
    await stack.probe.status("acu", lambda s: s["state"] == "DEPLOYING")
    # wait until the source is on its way down
    await stack.probe.wait(
        lambda: (stack.truth()["units"]["A"]["paid_out_m"] or 0) > 3.0, 20.0, "source going down"
    )
    return cmd_id


async def _raising(stack: Stack) -> str:
    """A source on its way up: a snag then pulls the cable tight (lowering, it goes slack)."""
    await stack.home()
    rep = await stack.probe.run("acu", "deploy", {"unit": "A", "z_m": 12.0}, timeout_s=30)
    assert rep["result"] == "completed", rep
    cmd_id = await stack.probe.send("acu", "move", {"z_m": 17.0})
    await stack.probe.status("acu", lambda s: s["state"] == "MOVING")
    await stack.probe.wait(
        lambda: (stack.truth()["units"]["A"]["paid_out_m"] or 99) < 10.5, 20.0, "source going up"
    )
    return cmd_id


async def _trips_latches_recovers(
    stack: Stack, fault: str, cmd_id: str, codes: set[str], *, cause_stays: bool = True
) -> None:
    """`fault` injected on A while `cmd_id` moves it: the motion fails `interlock`, the drive is
    stopped, FAULT latched (motion refused, and reset too while the cause is present), still
    latched once the cause is gone, until reset -> STOPPED; retract -> PARKED. `codes`: the
    fault codes the daemon may report; `cause_stays`: the stopped source still reads out of
    its tension window (so reset must be refused) until the fault is cleared."""
    p = stack.probe
    injected_at = p.msgs[-1].at
    await stack.inject(fault, "A")
    final = await p.final(cmd_id, timeout_s=10)
    assert final["result"] == "failed"
    assert final["error"]["code"] == "interlock", final
    status = await p.status("acu", lambda s: s["state"] == "FAULT")
    assert status["fault"]["code"] in codes, status
    assert status["deployed"] is True
    # the drive got a stop: the simulator's `stopped` event (the first STOP/HALT the faulted
    # drive receives after the injection). How fast is not asserted here (wall time under a
    # shared CPU): bench/reaction.py measures the one-poll reaction bound.
    stopped = (
        await p.wait(
            lambda: [
                m
                for m in p.msgs
                if m.topic == f"{p.root}/sim/acu/events"
                and m.at > injected_at
                and m.payload.get("event") == "stopped"
            ],
            5.0,
            "stop",
        )
    )[0]
    assert stopped.payload["fault"] == fault and stopped.payload["axis"] == "A", stopped
    assert stopped.payload["command"] in ("STOP", "HALT"), stopped
    reaction_ms = stopped.payload["reaction_ms"]
    assert isinstance(reaction_ms, int | float) and reaction_ms >= 0, stopped
    # ... and it really stands: two truths 0.5 s apart, both after the stop, agree
    first = (await stack.settled_truth(max(stopped.at, p.msgs[-1].at)))["units"]["A"]
    # latched: no motion, and reset refused while the cause is present
    move_id = await p.send("acu", "move", {"z_m": 0.0})
    assert (await p.ack(move_id))["error"]["code"] == "interlock"
    if cause_stays:
        reset_id = await p.send("acu", "reset")
        assert (await p.ack(reset_id))["error"]["code"] == "interlock"
    await asyncio.sleep(0.5)
    assert stack.acu()["state"] == "FAULT"
    later = (await stack.settled_truth(p.msgs[-1].at))["units"]["A"]
    assert later["paid_out_m"] == first["paid_out_m"], (first, later)
    # cause gone -> reset -> STOPPED (source out), then retract to parked
    await stack.inject("clear")
    await p.wait(
        lambda: (
            (p.last("acu/telemetry")["units"]["A"]["tension_n"] or 0) > 1.0
            and p.last("acu/telemetry")["units"]["A"]["tension_n"] < 5.0
        ),
        5.0,
        "tension back in its window",
    )
    # the cause is gone, the latch is not: still FAULT, motion still refused, until reset
    assert stack.acu()["state"] == "FAULT"
    move_id = await p.send("acu", "move", {"z_m": 0.0})
    assert (await p.ack(move_id))["error"]["code"] == "interlock"
    rep = await p.run("acu", "reset")
    assert rep["result"] == "completed", rep
    assert stack.acu()["state"] == "STOPPED"
    rep = await p.run("acu", "retract", timeout_s=60)
    assert rep["result"] == "completed", rep
    assert stack.acu()["state"] == "PARKED"


async def test_snag_while_raising(mosquitto: Broker, tmp_path: Path) -> None:
    async with hil_stack(mosquitto, tmp_path, time_scale=60.0) as stack:
        cmd_id = await _raising(stack)
        await _trips_latches_recovers(stack, "snag", cmd_id, {"snag"})


async def test_slack_and_snag_while_deploying(mosquitto: Broker, tmp_path: Path) -> None:
    """Both tension faults during a deploy (lowering), one after the other on one stack. A snag
    while the spool pays out first jerks the tension up, then drops it as cable piles up behind
    the caught source (docs/mqtt-api.md, simulator topics): which of `snag`/`slack` the daemon
    reports depends on where in that the poll reads; either trips and latches. Where it stops
    decides whether the stopped source still reads out of its window (then reset is refused),
    so only the latch is asserted for it, not the refused reset."""
    async with hil_stack(mosquitto, tmp_path, time_scale=60.0) as stack:
        cmd_id = await _deploying(stack)
        await _trips_latches_recovers(stack, "slack", cmd_id, {"slack"})
        cmd_id = await _deploying(stack, home=False)
        await _trips_latches_recovers(stack, "snag", cmd_id, {"snag", "slack"}, cause_stays=False)


async def test_device_loss_faults(mosquitto: Broker, tmp_path: Path) -> None:
    async with hil_stack(mosquitto, tmp_path, time_scale=60.0) as stack:
        p = stack.probe
        cmd_id = await _deploying(stack)
        await stack.inject("comm_loss", "A")
        final = await p.final(cmd_id, timeout_s=10)
        assert final["result"] == "failed" and final["error"]["code"] == "hardware", final
        # the silent drive hears no halt: its own watchdog stops it, [interlocks]
        # drive_watchdog_s (1 s) after the last request it heard, far short of the target
        event = await ck.stop_event(p, "acu", "comm_loss")
        assert (event["axis"], event["command"]) == ("A", "WATCHDOG"), event
        await ck.standing_still(stack, "acu", lambda t: float(t["units"]["A"]["paid_out_m"]))
        assert stack.truth()["units"]["A"]["z_m"] > -10.0, stack.truth()["units"]["A"]
        status = await p.status("acu", lambda s: s["state"] == "FAULT")
        assert status["fault"]["code"] == "comm_loss"
        reset_id = await p.send("acu", "reset")
        assert (await p.ack(reset_id))["error"]["code"] == "interlock"
        cleared_at = p.msgs[-1].at
        await stack.inject("clear")
        await p.wait(
            lambda: [
                m
                for m in p.msgs
                if m.topic.endswith("/acu/telemetry")
                and m.at > cleared_at
                and not m.payload["lost"]
            ],
            10.0,
            "device back",
        )
        rep = await p.run("acu", "reset")
        assert rep["result"] == "completed", rep
        # the source is out: the FSM says so
        assert stack.acu()["state"] == "STOPPED" and stack.acu()["deployed"] is True


async def test_stop_is_heard_during_a_deploy(mosquitto: Broker, tmp_path: Path) -> None:
    async with hil_stack(mosquitto, tmp_path, time_scale=60.0) as stack:
        p = stack.probe
        deploy_id = await _deploying(stack)
        stop_id = await p.send("acu", "stop")
        assert (await p.ack(stop_id))["result"] == "accepted"
        final = await p.final(deploy_id, timeout_s=5)
        assert final["result"] == "aborted", final
        assert (await p.final(stop_id))["result"] == "completed"
        status = await p.status("acu", lambda s: s["state"] == "STOPPED")
        assert status["deployed"] is True and status["fault"] is None
        # the source really stopped: two truths a while apart agree
        first = (await stack.settled_truth(p.msgs[-1].at))["units"]["A"]["paid_out_m"]
        await asyncio.sleep(0.5)
        later = (await stack.settled_truth(p.msgs[-1].at))["units"]["A"]["paid_out_m"]
        assert later == first
        # from STOPPED the operator may move on or bring it home
        rep = await p.run("acu", "move", {"z_m": 15.0}, timeout_s=30)
        assert rep["result"] == "completed", rep
        rep = await p.run("acu", "retract", timeout_s=60)
        assert rep["result"] == "completed", rep


async def test_stuck_gate_valve_faults_the_deploying_system(
    mosquitto: Broker, tmp_path: Path
) -> None:
    """deploy opens the valve through the house; no end switch in time -> the system faults,
    the open command is withdrawn, the source never left; clear + reset -> PARKED."""
    async with hil_stack(mosquitto, tmp_path) as stack:
        p = stack.probe
        await stack.home()
        await stack.inject("valve_stuck", "io", system="house")
        rep = await p.run("acu", "deploy", {"unit": "A", "z_m": 5.0}, timeout_s=30)
        assert rep["result"] == "failed", rep
        assert rep["error"]["code"] == "hardware", rep
        status = await p.status("acu", lambda s: s["state"] == "FAULT")
        assert status["fault"]["code"] == "valve_timeout"
        assert stack.truth()["units"]["A"]["parked"] is True  # the source never moved
        events = [e for e in p.on("events") if e.get("event") == "valve"]
        assert [e["command"] for e in events][-2:] == ["open", "closed"]
        await stack.inject("clear", system="house")
        rep = await p.run("acu", "reset")
        assert rep["result"] == "completed", rep
        parked = await p.status("acu", lambda s: s["state"] == "PARKED")
        assert parked["deployed"] is False
        assert p.last("house/status")["position"]["valves"]["acu"] == "closed"


async def test_house_estop_input_trips_every_system(mosquitto: Broker, tmp_path: Path) -> None:
    """The e-stop circuit opens: every deployment system latches `estop_input`, the retained
    board shows it, everything but status/stop is refused `interlock` until the circuit closes;
    then `reset` clears each system."""
    async with hil_stack(mosquitto, tmp_path) as stack:
        p = stack.probe
        systems = ["acu", "cls1", "cls2", "gt", "rov"]
        board = await p.wait(lambda: p.last("interlocks"), 5.0, "empty board at start")
        assert board["active"] == []
        await stack.inject("estop_button", system="house")
        for system in systems:
            st = await p.status(system, lambda s: s["state"] == "FAULT")
            assert st["fault"]["code"] == "estop_input", (system, st)

        def board_with_every_system() -> dict[str, Any] | None:
            b: dict[str, Any] | None = p.last("interlocks")
            if b is None or {e["system"] for e in b["active"] if e["latched"]} < set(systems):
                return None
            return b

        board = await p.wait(board_with_every_system, 5.0, "board with every system")
        circuit = [e for e in board["active"] if e["system"] == "house"]
        assert [(e["id"], e["latched"]) for e in circuit] == [("estop_input", False)]
        for system, action in (("acu", "home"), ("gt", "reset"), ("rov", "deploy")):
            args = {"x_m": 1.0, "y_m": 0.0, "z_m": 5.0} if action == "deploy" else {}
            ack = await p.ack(await p.send(system, action, args), system)
            assert ack["result"] == "rejected", ack
            assert ack["error"]["code"] == "interlock", ack
            assert "estop_input" in ack["error"]["message"]
        rep = await p.run("acu", "status")
        assert rep["result"] == "completed"

        await stack.inject("clear", system="house")
        # closed again: the input stays latched, like the MQTT e-stop, until the global reset
        await p.wait(
            lambda: [
                e
                for e in p.last("interlocks")["active"]
                if e["system"] == "house" and e["id"] == "estop_input" and e["latched"]
            ],
            5.0,
            "circuit closed, input latched",
        )
        ack = await p.ack(await p.send("acu", "reset"), "acu")
        assert ack["result"] == "rejected" and "global reset" in ack["error"]["message"], ack
        reset_id = await p.send(None, "reset")
        rep = await p.final(reset_id, None)
        assert rep["result"] == "completed", rep
        assert rep["results"]["acu"] == "reset", rep
        await p.wait(
            lambda: not any(e["system"] == "acu" for e in p.last("interlocks")["active"]),
            5.0,
            "acu off the board",
        )


async def test_a_daemon_frozen_mid_move_is_caught_by_the_drive_watchdog(
    mosquitto: Broker, tmp_path: Path
) -> None:
    """The daemon frozen (SIGSTOP) for 2 s during a deploy: the drive hears no request for
    `drive_watchdog_s` (1 s) and stops itself; the daemon, running again, trips `drive_watchdog`
    on its first reading of that drive, latched until `reset`."""
    async with hil_stack(mosquitto, tmp_path, time_scale=60.0) as stack:
        p = stack.probe
        cmd_id = await _deploying(stack)
        pid = stack.daemon.proc.pid
        os.kill(pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(2.0)
            # the simulator's truth: the source stands, though nobody told it to
            await ck.standing_still(stack, "acu", lambda t: float(t["units"]["A"]["paid_out_m"]))
        finally:
            os.kill(pid, signal.SIGCONT)
        final = await p.final(cmd_id, timeout_s=10)
        assert final["result"] == "failed" and final["error"]["code"] == "hardware", final
        assert final["error"]["message"].startswith("drive_watchdog:"), final
        await ck.latched(p, "acu", "drive_watchdog")
        assert stack.truth()["units"]["A"]["z_m"] > -10.0, stack.truth()["units"]["A"]
        await ck.reset_to(p, "acu", "STOPPED")
