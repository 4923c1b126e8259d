"""Fault effects on the models (no transport): a rack with a hand-moved clock."""

from __future__ import annotations

import pytest

from simulators.clock import ManualClock
from simulators.config import SimConfig
from simulators.modbus_front import int32_words
from simulators.rack import Rack
from simulators.stepper import Drive
from simulators.stepper_map import ALARM, HOME, LIMIT_POS, MOVING, START


def lowered_rack(sim_config: SimConfig, paid_counts: int = 6000) -> tuple[Rack, ManualClock]:
    clock = ManualClock()
    rack = Rack(sim_config, clock=clock, mqtt=False)
    assert rack.acu is not None
    drive = rack.acu.units["A"].drive
    drive.write_holding(0, [0, 0, 0, 600, 0, 600, HOME], clock.now_s())
    clock.advance(1.0)
    go(drive, clock, paid_counts)
    clock.advance(60.0)
    return rack, clock


def go(drive: Drive, clock: ManualClock, target: int) -> None:
    drive.write_holding(0, [*int32_words(target), 0, 600, 0, 600, START], clock.now_s())


def unit_truth(rack: Rack, unit: str = "A") -> dict[str, float]:
    units = rack.truth("acu")["units"]
    assert isinstance(units, dict)
    result: dict[str, float] = units[unit]
    return result


def test_slack_freezes_source_while_cable_pays_out(sim_config: SimConfig) -> None:
    rack, clock = lowered_rack(sim_config)
    before = unit_truth(rack)
    rack.inject("acu", "slack", "A")
    assert rack.acu is not None
    go(rack.acu.units["A"].drive, clock, 9000)
    clock.advance(30.0)
    after = unit_truth(rack)
    assert after["z_m"] == before["z_m"]
    assert after["paid_out_m"] > before["paid_out_m"] + 0.1
    assert after["tension_n"] == pytest.approx(0.05 * before["tension_n"], rel=0.01)
    rack.inject("acu", "clear", "A")
    assert unit_truth(rack)["z_m"] < before["z_m"] - 0.1  # the source drops onto its cable


def test_stall_and_slip(sim_config: SimConfig) -> None:
    rack, clock = lowered_rack(sim_config)
    assert rack.acu is not None
    drive = rack.acu.units["A"].drive
    rack.inject("acu", "stall", "A")
    go(drive, clock, 7000)
    clock.advance(30.0)
    r = drive.input_registers(clock.now_s())
    assert r[0] & MOVING
    assert r[2:4] == int32_words(7000)  # commanded moved on
    assert r[4:6] == int32_words(6000)  # drum (encoder) did not
    rack.inject("acu", "clear")
    rack.inject("acu", "slip", "A")
    go(drive, clock, 8000)
    clock.advance(30.0)
    r = drive.input_registers(clock.now_s())
    assert r[4:6] == int32_words(6000)  # encoder frozen
    assert not r[0] & MOVING


def test_drive_alarm_and_limit(sim_config: SimConfig) -> None:
    rack, clock = lowered_rack(sim_config)
    assert rack.acu is not None
    turntable = rack.acu.turntable
    rack.inject("acu", "drive_alarm", "turntable")
    r = turntable.input_registers(clock.now_s())
    assert (r[0] & ALARM, r[1]) == (ALARM, 3)
    turntable.write_holding(6, [5], clock.now_s())  # ALARM_RESET while the cause persists
    assert turntable.input_registers(clock.now_s())[1] == 3
    rack.inject("acu", "clear", "turntable")
    turntable.write_holding(6, [5], clock.now_s())
    assert turntable.input_registers(clock.now_s())[1] == 0
    rack.inject("acu", "limit", "B")
    assert rack.acu.units["B"].drive.input_registers(clock.now_s())[0] & LIMIT_POS


def test_house_faults(sim_config: SimConfig) -> None:
    rack = Rack(sim_config, clock=ManualClock(), mqtt=False)
    rack.inject("house", "estop_button")
    rack.inject("house", "o2_high", "io")
    truth = rack.truth("house")
    assert (truth["estop_ok"], truth["o2_ppm"]) == (False, 25.0)
    assert rack.house is not None
    assert rack.house.discrete_inputs(0.0)[16] is False
    rack.inject("house", "clear")
    assert rack.truth("house")["estop_ok"] is True
    events = [(e["event"], e["fault"]) for e in rack.events]
    assert events[:2] == [("fault_injected", "estop_button"), ("fault_injected", "o2_high")]


def test_closed_valve_blocks_deploy(sim_config: SimConfig) -> None:
    rack, clock = lowered_rack(sim_config, paid_counts=30_000)  # ~2.4 m: below the valve
    truth = unit_truth(rack)
    assert truth["z_m"] == 21.5
    assert truth["tension_n"] < 0.1
    assert rack.house is not None
    rack.house.write_coils(0, [True], clock.now_s())
    clock.advance(3.0)
    assert unit_truth(rack)["z_m"] == pytest.approx(23.0 - truth["paid_out_m"], abs=1e-3)
