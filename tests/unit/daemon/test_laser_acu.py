"""The ACU's laser in the FSM: actions, the emission interlock, off before motion, first on a trip,
scans, laser trips and reset. The real ACU on fakes; the real laser driver against the simulated
controller (tests/unit/daemon/laser_rig.py)."""

from __future__ import annotations

import pytest

from calibd.core.commands import Command, ReplyRoute
from calibd.core.errors import CommandError, ErrorCode, Trip

from .laser_rig import Rig, deployed, laser_rig


def _refused(rig: Rig, action: str, **args: object) -> CommandError:
    with pytest.raises(CommandError) as exc:
        rig.acu.submit(_command(action, args))
    return exc.value


def _command(action: str, args: dict[str, object]) -> Command:
    return Command(f"r-{action}-{id(args)}", "acu", action, dict(args), "t", ReplyRoute())


async def test_refused_while_parked_and_on_another_unit() -> None:
    async with laser_rig() as rig:
        assert (await rig.run("home"))[0] == "completed"
        refused = _refused(rig, "laser_on", intensity=0.01)
        assert refused.code == ErrorCode.INVALID_STATE  # PARKED: not where it may emit
        result, error = await rig.run("deploy", unit="A", z_m=17.0)
        assert result == "completed", error
        refused = _refused(rig, "laser_on", intensity=0.01)
        assert refused.code == ErrorCode.INTERLOCK
        assert refused.message.startswith("laser_emission: the laser's unit D is not under")
        assert _refused(rig, "laser_on", intensity=2.0).code == ErrorCode.OUT_OF_RANGE
        assert _refused(rig, "laser_on", intensity=0.01, rate_hz=5000.0).code == (
            ErrorCode.OUT_OF_RANGE
        )
        assert not rig.sim.emitting and rig.laser_events() == []


async def test_on_change_off_and_the_intervals() -> None:
    async with laser_rig() as rig:
        await deployed(rig)
        result, error = await rig.run("laser_on", intensity=0.02, rate_hz=50.0)
        assert result == "completed", error
        assert rig.sim.emitting and rig.sim.rate_hz == 50.0 and rig.sim.od_milli == 1699
        laser = rig.acu.status_fields()["laser"]
        assert laser["emission"] is True and laser["intensity"] == pytest.approx(0.02, rel=3e-3)
        assert (await rig.run("laser_on", intensity=1e-4))[0] == "completed"
        assert rig.sim.od_milli == 4000 and rig.sim.rate_hz == 100.0  # the default rate
        assert (await rig.run("laser_off"))[0] == "completed"
        assert not rig.sim.emitting
        started, ended = rig.laser_events("started"), rig.laser_events("ended")
        assert [e["rate_hz"] for e in started] == [50.0, 100.0]
        assert [e["reason"] for e in ended] == ["changed", "laser_off"]
        assert all(e["source"] == "laser-1" or e["source"] is None for e in started)
        assert ended[0]["started"] == started[0]["started"] <= ended[0]["ended"]


async def test_a_move_switches_emission_off_first() -> None:
    async with laser_rig() as rig:
        await deployed(rig)
        assert (await rig.run("laser_on", intensity=0.1))[0] == "completed"
        mark = len(rig.line.frames)
        result, error = await rig.run("move", z_m=16.0)
        assert result == "completed", error
        assert rig.line.sent(since=mark)[0] == b"#01X\r" and not rig.sim.emitting
        assert rig.laser_events("ended")[-1]["reason"] == "move"
        # and refused while moving
        future = await rig.cmd("move", z_m=15.0)
        await rig.until(lambda: rig.acu.state == "MOVING")
        refused = _refused(rig, "laser_on", intensity=0.1)
        assert refused.code == ErrorCode.INTERLOCK and "the ACU is MOVING" in refused.message
        assert (await future)[0] == "completed"


async def test_a_trip_switches_emission_off_before_the_drives_halt() -> None:
    async with laser_rig() as rig:
        await deployed(rig)
        assert (await rig.run("laser_on", intensity=0.1))[0] == "completed"
        rig.halts.clear()
        mark = len(rig.line.frames)
        rig.acu.trip(Trip("snag", "test snag", error=ErrorCode.INTERLOCK, axis="D"))
        await rig.until(lambda: rig.acu.state == "FAULT" and rig.halts != [])
        x_at = next(t for t, r in rig.line.frames[mark:] if r == b"#01X\r")
        assert x_at < min(t for t, _ in rig.halts)  # emission off goes first
        assert not rig.sim.emitting
        await rig.until(lambda: rig.laser_events("ended") != [])
        assert rig.laser_events("ended")[-1]["reason"] == "trip: snag"
        # latched: no emission until reset
        assert _refused(rig, "laser_on", intensity=0.1).code == ErrorCode.INVALID_STATE


async def test_a_scan_steps_each_intensity_for_its_dwell_then_switches_off() -> None:
    async with laser_rig() as rig:
        await deployed(rig)
        intensities = [0.01, 0.02, 0.04]
        future = await rig.cmd("laser_scan", intensities=intensities, dwell_s=[1.0, 2.0, 1.0])
        await rig.until(lambda: (rig.acu.status_fields()["laser"]["scan"] or {}).get("step") == 2)
        scan = rig.acu.status_fields()["laser"]["scan"]
        assert scan["steps"] == 3 and scan["intensity"] == 0.02 and 0 < scan["remaining_s"] <= 3
        assert rig.acu.command is not None  # the scan occupies the ACU
        assert _refused(rig, "move", z_m=1.0).code == ErrorCode.BUSY
        assert _refused(rig, "laser_on", intensity=0.1).code == ErrorCode.BUSY
        result, error = await future
        assert result == "completed", error
        ended = rig.laser_events("ended")
        assert [e["intensity"] for e in ended] == pytest.approx(intensities, rel=3e-3)
        assert [e["reason"] for e in ended] == ["scan_step", "scan_step", "scan_done"]
        assert not rig.sim.emitting and rig.acu.status_fields()["laser"]["scan"] is None


async def test_stop_and_laser_off_end_a_scan() -> None:
    async with laser_rig() as rig:
        await deployed(rig)
        for ender in ("stop", "laser_off"):
            future = await rig.cmd("laser_scan", intensities=[0.01, 0.02], dwell_s=100.0)
            await rig.until(lambda: rig.sim.emitting)
            assert (await rig.run(ender))[0] == "completed"
            result, error = await future
            assert result == "aborted" and ender in error.message, error
            assert not rig.sim.emitting
            assert rig.laser_events("ended")[-1]["reason"] == ender
        assert rig.acu.state == "AT_POSITION"


async def test_a_trip_fails_a_running_scan() -> None:
    async with laser_rig() as rig:
        await deployed(rig)
        future = await rig.cmd("laser_scan", intensities=[0.01], dwell_s=100.0)
        await rig.until(lambda: rig.sim.emitting)
        rig.drives["D"].trip()  # a drive alarm: the poll trips the ACU
        result, error = await future
        assert result == "failed" and "trip: drive_alarm" in error.message, error
        await rig.until(lambda: rig.acu.state == "FAULT")
        assert not rig.sim.emitting


async def test_retract_switches_off_and_the_valve_closes() -> None:
    async with laser_rig() as rig:
        await deployed(rig)
        assert (await rig.run("laser_on", intensity=0.5))[0] == "completed"
        result, error = await rig.run("retract")
        assert result == "completed", error
        assert rig.laser_events("ended")[-1]["reason"] == "retract"
        assert rig.house.valve("acu") == "closed" and not rig.sim.emitting


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ("laser_interlock", "laser_interlock"),
        ("laser_fault", "laser_fault"),
        ("laser_overtemp", "laser_overtemp"),
    ],
)
async def test_laser_faults_trip_the_acu_until_gone_and_reset(fault: str, code: str) -> None:
    async with laser_rig() as rig:
        await deployed(rig)
        assert (await rig.run("laser_on", intensity=0.5))[0] == "completed"
        rig.sim.set_fault(fault, True, rig.clock.now_s())
        await rig.until(lambda: rig.acu.state == "FAULT", timeout_s=10)
        assert rig.acu.latched is not None and rig.acu.latched.code == code
        assert not rig.sim.emitting
        try:  # the cause is still there: rejected (a hot head) or failed after the clear
            result, error = await rig.run("reset")
            assert result == "failed", error
        except CommandError as exc:
            error = exc
        assert code in error.message and rig.acu.state == "FAULT", error
        rig.sim.set_fault(fault, False, rig.clock.now_s())
        if fault == "laser_overtemp":  # the head cools with its time constant
            await rig.until(lambda: rig.sim.temp_c < 39.0, timeout_s=10)
        result, error = await rig.run("reset")
        assert result == "completed", error
        assert rig.acu.state == "STOPPED" and rig.sim.flags == 0


async def test_comm_loss_trips_and_reset_waits_for_the_controller() -> None:
    async with laser_rig() as rig:
        await deployed(rig)
        rig.line.silent = True
        await rig.until(lambda: rig.acu.state == "FAULT")
        assert rig.acu.latched is not None and rig.acu.latched.code == "laser_comm_loss"
        assert rig.acu.status_fields()["laser"]["lost"] is True
        assert _refused(rig, "reset").code == ErrorCode.INTERLOCK
        rig.line.silent = False
        await rig.until(lambda: not rig.acu.status_fields()["laser"]["lost"])
        assert (await rig.run("reset"))[0] == "completed"


async def test_emission_stops_when_its_condition_ceases() -> None:
    async with laser_rig() as rig:
        await deployed(rig)
        assert (await rig.run("laser_on", intensity=0.5))[0] == "completed"
        rig.io.lost = True  # the house loses its IO module: the valve state is unknown
        await rig.until(lambda: not rig.sim.emitting)
        reason = rig.laser_events("ended")[-1]["reason"]
        assert reason.startswith("interlock: the gate valve is unknown"), reason


async def test_require_still_false_keeps_emission_during_a_move() -> None:
    async with laser_rig(require_still=False) as rig:
        await deployed(rig)
        assert (await rig.run("laser_on", intensity=0.5))[0] == "completed"
        assert (await rig.run("move", z_m=15.0))[0] == "completed"
        assert rig.sim.emitting and rig.laser_events("ended") == []
        assert (await rig.run("retract"))[0] == "completed"
        assert not rig.sim.emitting and rig.laser_events("ended")[-1]["reason"] == "retract"
