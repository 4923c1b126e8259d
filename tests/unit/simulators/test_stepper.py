"""The drive model: homing, moves, stops, limits, turntable switches, register codecs."""

from __future__ import annotations

import pytest

from simulators.clock import ManualClock
from simulators.config import SimConfig
from simulators.mechanics import SpoolMechanics, TurntableMechanics
from simulators.modbus_front import int32_from, int32_words
from simulators.spool import Drum
from simulators.stepper import Drive
from simulators.stepper_map import (
    ALARM,
    ENABLED,
    HALT,
    HOME,
    HOME_SW,
    HOMED,
    IN_POSITION,
    LIMIT_NEG,
    MOVING,
    START,
    STOP,
)

from .test_spool import SPOOL


def test_int32_words_golden() -> None:
    assert int32_words(123456) == [1, 57920]
    assert int32_words(123450) == [1, 57914]
    assert int32_words(500000) == [7, 41248]
    assert int32_words(-5) == [65535, 65531]
    assert int32_words(-7) == [65535, 65529]
    assert int32_words(-390) == [65535, 65146]
    assert int32_from([65535, 65531]) == -5
    assert MOVING | HOMED | ENABLED == 193
    assert MOVING | HOME_SW | HOMED | ENABLED == 201


def spool_drive(clock: ManualClock, paid_out_m: float = 0.005) -> tuple[Drive, SpoolMechanics]:
    mech = SpoolMechanics(Drum.from_cfg(SPOOL), 4096, 48.0)
    return Drive(mech, mech.counts_at(paid_out_m), clock.now_s()), mech


def regs(drive: Drive, clock: ManualClock) -> dict[str, int]:
    r = drive.input_registers(clock.now_s())
    return {
        "status": r[0],
        "alarm": r[1],
        "cmd": int32_from(r[2:4]),
        "enc": int32_from(r[4:6]),
        "vel": int32_from(r[6:8]),
        "inputs": r[8],
    }


def move(drive: Drive, clock: ManualClock, target: int, speed: int = 600, accel: int = 600) -> None:
    drive.write_holding(0, [*int32_words(target), 0, speed, 0, accel, START], clock.now_s())


def test_power_on_then_home() -> None:
    clock = ManualClock()
    drive, mech = spool_drive(clock)
    r = regs(drive, clock)
    assert (r["cmd"], r["enc"], r["status"] & (HOMED | HOME_SW)) == (0, 0, 0)
    drive.write_holding(2, [0, 300, 0, 3000, HOME], clock.now_s())
    assert regs(drive, clock)["status"] & MOVING
    clock.advance(2.0)
    r = regs(drive, clock)
    assert r["status"] & (HOMED | HOME_SW | IN_POSITION) == HOMED | HOME_SW | IN_POSITION
    assert not r["status"] & MOVING
    assert (r["cmd"], r["enc"]) == (0, 0)
    assert mech.paid_out_m(drive.drum_counts(clock.now_s())) == pytest.approx(0.0, abs=1e-9)
    # HOME with the switch already active zeroes at once
    drive.command(HOME, clock.now_s())
    assert not regs(drive, clock)["status"] & MOVING


def test_move_stop_halt() -> None:
    clock = ManualClock()
    drive, _ = spool_drive(clock, 0.0)
    drive.command(HOME, clock.now_s())
    move(drive, clock, 6000)
    clock.advance(5.0)
    r = regs(drive, clock)
    assert r["status"] & MOVING
    assert r["vel"] == 600
    clock.advance(20.0)
    r = regs(drive, clock)
    assert r["enc"] == r["cmd"] == 6000
    assert r["status"] & IN_POSITION
    move(drive, clock, 0)
    clock.advance(3.0)
    drive.command(STOP, clock.now_s())
    clock.advance(0.5)
    assert regs(drive, clock)["status"] & MOVING  # decelerating (1 s at 600 counts/s²)
    clock.advance(1.0)
    r = regs(drive, clock)
    assert not r["status"] & (MOVING | IN_POSITION)
    move(drive, clock, 0)
    clock.advance(2.0)
    drive.command(HALT, clock.now_s())
    before = regs(drive, clock)["enc"]
    clock.advance(1.0)
    r = regs(drive, clock)
    assert r["enc"] == before
    assert r["vel"] == 0


def test_overwind_limit_stops_and_refuses() -> None:
    clock = ManualClock()
    drive, mech = spool_drive(clock, 0.0)
    drive.command(HOME, clock.now_s())
    move(drive, clock, -10_000)
    clock.advance(30.0)
    r = regs(drive, clock)
    assert r["status"] & (ALARM | LIMIT_NEG) == ALARM | LIMIT_NEG
    assert r["alarm"] == 4
    assert mech.paid_out_m(drive.drum_counts(clock.now_s())) == pytest.approx(-0.02, abs=1e-6)
    move(drive, clock, -20_000)
    clock.advance(1.0)
    assert not regs(drive, clock)["status"] & MOVING  # ignored while ALARM
    drive.write_holding(6, [5], clock.now_s())  # ALARM_RESET
    move(drive, clock, -20_000)
    assert regs(drive, clock)["alarm"] == 4  # into the active switch: refused
    drive.write_holding(6, [5], clock.now_s())
    move(drive, clock, 0)
    clock.advance(5.0)
    r = regs(drive, clock)
    assert (r["alarm"], r["cmd"]) == (0, 0)


def test_turntable_index_switches_and_home(sim_config: SimConfig) -> None:
    assert sim_config.acu is not None
    clock = ManualClock()
    mech = TurntableMechanics(sim_config.acu.turntable, [0.0, 90.0, 180.0, 270.0])
    per_deg = mech.counts_per_deg
    assert per_deg == pytest.approx(4096 * 50 / 360)
    drive = Drive(mech, 5.0 * per_deg, clock.now_s())
    assert regs(drive, clock)["inputs"] == 0
    drive.write_holding(2, [0, 2000, 0, 4000, HOME], clock.now_s())
    clock.advance(10.0)
    r = regs(drive, clock)
    assert r["status"] & (HOMED | HOME_SW) == HOMED | HOME_SW
    assert r["inputs"] == 0b0001
    assert mech.angle_deg(drive.drum_counts(clock.now_s())) == pytest.approx(0.01)
    move(drive, clock, round(90 * per_deg), speed=5000, accel=5000)
    clock.advance(30.0)
    assert regs(drive, clock)["inputs"] == 0b0010
    move(drive, clock, round(270 * per_deg), speed=20000, accel=20000)
    clock.advance(30.0)
    assert regs(drive, clock)["inputs"] == 0b1000
    assert not regs(drive, clock)["status"] & HOME_SW


def test_standstill_is_reported_once_even_when_polled() -> None:
    clock = ManualClock()
    drive, _ = spool_drive(clock, 0.0)
    drive.command(HOME, clock.now_s())
    assert drive.pop_standstill() is False
    move(drive, clock, 600)
    clock.advance(0.5)
    regs(drive, clock)
    clock.advance(10.0)
    regs(drive, clock)  # a status poll sees the standstill first
    assert drive.pop_standstill() is True
    assert drive.pop_standstill() is False
