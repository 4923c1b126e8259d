"""The ``power_loss`` fault: a one-shot power cycle of a stepper drive (model and routing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulators.clock import ManualClock
from simulators.config import SimConfig, load_config
from simulators.rack import Rack
from simulators.stepper import Drive
from simulators.stepper_map import (
    ALARM,
    ALARM_LIMIT,
    ALARM_OVERLOAD,
    ENABLED,
    HALT,
    HOLDING_COUNT,
    HOME,
    HOME_SW,
    HOMED,
    IN_POSITION,
    LIMIT_NEG,
    MOVING,
)

from .test_stepper import move, regs, spool_drive

ROOT = Path(__file__).resolve().parents[3]
HOME_WRITE = [0, 600, 0, 600, HOME]  # SPEED, ACCEL, COMMAND from register 2


def homed_and_moving(clock: ManualClock) -> Drive:
    """A homed spool drive 5 s into a move to 6000 counts (still moving)."""
    drive, _ = spool_drive(clock, 0.0)
    drive.command(HOME, clock.now_s())
    move(drive, clock, 6000)
    clock.advance(5.0)
    assert regs(drive, clock)["status"] & (MOVING | HOMED) == MOVING | HOMED
    return drive


def test_power_cycle_mid_move_stops_and_forgets_the_reference() -> None:
    clock = ManualClock()
    drive = homed_and_moving(clock)
    drum_counts = drive.drum_counts(clock.now_s())
    assert drum_counts > 1000
    drive.power_cycle(clock.now_s())
    r = regs(drive, clock)
    assert r["status"] == ENABLED  # not MOVING, HOMED, IN_POSITION, ALARM nor on a switch
    assert (r["alarm"], r["cmd"], r["enc"], r["vel"]) == (0, 0, 0, 0)
    assert drive.holding == [0] * HOLDING_COUNT
    clock.advance(10.0)
    assert drive.drum_counts(clock.now_s()) == drum_counts  # the mechanics stayed where they were
    assert (regs(drive, clock)["enc"], regs(drive, clock)["status"]) == (0, ENABLED)
    assert drive.pop_standstill() is True  # the rack publishes the truth at once
    # HOME re-references on the home switch as after power-on
    drive.write_holding(2, HOME_WRITE, clock.now_s())
    assert regs(drive, clock)["status"] & MOVING
    clock.advance(30.0)
    r = regs(drive, clock)
    assert r["status"] & (HOMED | HOME_SW | IN_POSITION | MOVING) == HOMED | HOME_SW | IN_POSITION
    assert (r["cmd"], r["enc"]) == (0, 0)
    assert drive.drum_counts(clock.now_s()) == pytest.approx(0.0, abs=1e-6)
    move(drive, clock, 6000)
    clock.advance(30.0)
    assert drive.drum_counts(clock.now_s()) == pytest.approx(6000.0, abs=1e-6)
    assert regs(drive, clock)["enc"] == 6000


def test_power_cycle_in_position_leaves_no_target() -> None:
    clock = ManualClock()
    drive, _ = spool_drive(clock, 0.0)
    drive.command(HOME, clock.now_s())
    move(drive, clock, 600)
    clock.advance(10.0)
    assert regs(drive, clock)["status"] & IN_POSITION
    drive.power_cycle(clock.now_s())
    assert regs(drive, clock)["status"] == ENABLED


def test_power_cycle_clears_a_latched_alarm_but_not_the_switches() -> None:
    clock = ManualClock()
    drive, _ = spool_drive(clock, 0.0)
    drive.command(HOME, clock.now_s())
    move(drive, clock, -10_000)
    clock.advance(30.0)
    assert regs(drive, clock)["alarm"] == ALARM_LIMIT
    drive.power_cycle(clock.now_s())
    r = regs(drive, clock)
    assert r["status"] & (ALARM | LIMIT_NEG | HOMED) == LIMIT_NEG
    assert (r["alarm"], r["enc"]) == (0, 0)
    move(drive, clock, -100)  # still standing on the over-wind switch: refused
    assert regs(drive, clock)["alarm"] == ALARM_LIMIT


def test_active_injected_causes_persist_through_the_power_cycle() -> None:
    clock = ManualClock()
    drive = homed_and_moving(clock)
    drive.set_stall(True, clock.now_s())
    clock.advance(2.0)
    assert regs(drive, clock)["status"] & MOVING  # the motor runs on, the drum is stuck
    drum_counts = drive.drum_counts(clock.now_s())
    drive.set_alarm(True, clock.now_s())
    drive.power_cycle(clock.now_s())
    r = regs(drive, clock)
    assert r["status"] & (MOVING | HOMED | ALARM) == ALARM
    assert (r["alarm"], r["cmd"], r["enc"]) == (ALARM_OVERLOAD, 0, 0)
    drive.set_stall(False, clock.now_s())
    drive.set_alarm(False, clock.now_s())
    drive.write_holding(6, [5], clock.now_s())  # ALARM_RESET, the cause gone
    clock.advance(5.0)
    r = regs(drive, clock)
    assert (r["status"], r["cmd"], r["enc"]) == (ENABLED, 0, 0)
    assert drive.drum_counts(clock.now_s()) == drum_counts


def _home_everything(rack: Rack, clock: ManualClock) -> None:
    for system in rack.systems.values():
        for drive in system.drives().values():
            drive.write_holding(2, [0, 2000, 0, 20000, HOME], clock.now_s())
    for _ in range(120):  # the turntable may go round once to its reference
        clock.advance(1.0)
        for system in rack.systems.values():
            for drive in system.drives().values():
                drive.advance(clock.now_s())
            system.tick(clock.now_s())


def test_every_drive_axis_takes_power_loss_through_the_fault_handler() -> None:
    clock = ManualClock()
    rack = Rack(load_config(ROOT / "config" / "sim.toml", env={}), clock=clock, mqtt=False)
    _home_everything(rack, clock)
    drives = {(s, a): d for s, system in rack.systems.items() for a, d in system.drives().items()}
    assert {s for s, _ in drives} == {"acu", "cls1", "cls2", "gt", "rov"}
    assert len(drives) == 12
    assert all(d.homed for d in drives.values())
    for (system, axis), drive in drives.items():
        move(drive, clock, 500)
        clock.advance(0.5)
        truth = {k: v for k, v in rack.truth(system).items() if k != "ts"}
        rack._on_fault_message(system, {"fault": "power_loss", "axis": axis}, False)
        r = regs(drive, clock)
        assert not r["status"] & (HOMED | MOVING), (system, axis)
        assert (r["cmd"], r["enc"], drive.holding) == (0, 0, [0] * HOLDING_COUNT), (system, axis)
        assert {k: v for k, v in rack.truth(system).items() if k != "ts"} == truth
        injected, power_loss = rack.events[-2:]
        assert (injected["event"], injected["fault"], injected["axis"]) == (
            "fault_injected",
            "power_loss",
            axis,
        )
        assert (power_loss["event"], power_loss["system"], power_loss["axis"]) == (
            "power_loss",
            system,
            axis,
        )
        rack._on_fault_message(system, {"fault": "clear", "axis": axis}, False)
        cleared = rack.events[-1]
        assert (cleared["event"], cleared["fault"], cleared["axis"]) == (
            "fault_cleared",
            "power_loss",
            axis,
        )
        assert not drive.homed  # clear has nothing to undo
    assert not any(d.homed for d in drives.values())  # each injection hit its own axis only
    assert "error" not in {e["event"] for e in rack.events}
    rack._on_fault_message("rov", {"fault": "power_loss", "axis": "vehicle"}, False)
    assert rack.events[-1]["event"] == "error"


def test_power_loss_mid_deploy_leaves_the_source_hanging(sim_config: SimConfig) -> None:
    clock = ManualClock()
    rack = Rack(sim_config, clock=clock, mqtt=False)
    assert rack.acu is not None
    drive = rack.acu.units["A"].drive
    drive.write_holding(2, HOME_WRITE, clock.now_s())
    clock.advance(1.0)
    move(drive, clock, 9000)
    clock.advance(8.0)
    rack._on_fault_message("acu", {"fault": "power_loss", "axis": "A"}, False)
    units = rack.truth("acu")["units"]
    assert isinstance(units, dict)
    z_m = units["A"]["z_m"]
    assert 21.5 < z_m < 23.0 - 0.05
    clock.advance(20.0)
    units = rack.truth("acu")["units"]
    assert isinstance(units, dict)
    assert units["A"]["z_m"] == z_m
    drive.command(HALT, clock.now_s())  # the daemon's position_lost reaction
    stopped = rack.events[-1]
    assert (stopped["event"], stopped["fault"], stopped["command"]) == (
        "stopped",
        "power_loss",
        "HALT",
    )


def test_a_slipping_encoder_reads_0_after_the_power_cycle() -> None:
    clock = ManualClock()
    drive = homed_and_moving(clock)
    drive.set_slip(True, clock.now_s())
    drive.power_cycle(clock.now_s())
    move(drive, clock, 300)
    clock.advance(10.0)
    r = regs(drive, clock)
    assert (r["cmd"], r["enc"]) == (300, 0)  # the encoder still does not follow the drum
