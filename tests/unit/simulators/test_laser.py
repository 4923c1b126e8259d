"""The simulated UV laser controller: docs/hardware.md §8 golden frames (read from the document
by `golden_doc`), the state machine, fault flags, the head temperature model in simulated time,
and its place in the ACU."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from simulators.acu import Acu
from simulators.clock import ManualClock
from simulators.config import load_config
from simulators.laser import (
    AMBIENT_C,
    FULL_RATE_RISE_C,
    OT_TRIP_C,
    RATE_MAX_HZ,
    TAU_S,
    LaserController,
    LaserLine,
    checksum,
    parse_request,
)

from ..golden_doc import AsciiFrame, ascii_frames, cases, paired

ROOT = Path(__file__).resolve().parents[3]
HOT_C = 31.25  # the head temperature of the document's "emitting" frame


def _line(
    clock: ManualClock, *, silent: bool = False, address: int = 1
) -> tuple[LaserController, LaserLine]:
    laser = LaserController(address, random.Random(1), clock.now_s(), noise_c=0.0)
    return laser, LaserLine([laser], clock.now_s, lambda: silent)


def _power_on(clock: ManualClock) -> LaserLine:
    return _line(clock)[1]


def _emitting(clock: ManualClock) -> LaserLine:
    """Address 02 firing at 100 Hz through OD 3 with the shutter open, its head at 31.25 °C
    by the thermal model: warmed at full rate until then, the rate set back to 100 Hz."""
    _, line = _line(clock, address=2)
    for request in (b"#02A3000", b"#02H1", b"#02R10000.0", b"#02E1"):
        assert line.handle(request) == b"#02 OK *06\r\n"
    # first order towards AMBIENT_C + FULL_RATE_RISE_C: the time it passes HOT_C
    clock.t_s = -TAU_S * math.log((AMBIENT_C + FULL_RATE_RISE_C - HOT_C) / FULL_RATE_RISE_C)
    assert line.handle(b"#02R00100.0") == b"#02 OK *06\r\n"
    return line


def _faulted(clock: ManualClock) -> LaserLine:
    """A driver fault and an over-temperature latched (the head cool again)."""
    faulted, line = _line(clock)
    faulted.set_fault("laser_fault", True, 0.0)
    faulted.temp_c = 50.0  # over-temperature latches...
    faulted.advance(0.0)
    faulted.temp_c = AMBIENT_C  # ...and stays latched once cool again
    return line


GOLDEN = ascii_frames(8)
#: the controller's state for each golden frame of §8, in the document's order
MEANINGS: list[Callable[[ManualClock], LaserLine]] = [
    _power_on,  # Q
    _emitting,  # Q
    _faulted,  # Q
    _power_on,  # R00100.0: OK
    _power_on,  # A4001: beyond OD 4
    _faulted,  # E1: refused
    _power_on,  # I
    _power_on,  # Z: unknown
]


def test_every_golden_frame_has_its_meaning() -> None:
    paired(GOLDEN, MEANINGS, "§8")


@pytest.mark.parametrize(("frame", "state"), cases(GOLDEN, MEANINGS))
def test_golden_frames(frame: AsciiFrame, state: Callable[[ManualClock], LaserLine]) -> None:
    assert state(ManualClock()).handle(frame.line) == frame.response


def test_emission_needs_shutter_and_enable_and_x_stops_both() -> None:
    clock = ManualClock()
    laser, line = _line(clock)
    for request in (b"#01A1699", b"#01H1"):
        assert line.handle(request) == b"#01 OK *05\r\n"
    assert not laser.emitting
    line.handle(b"#01E1")
    assert laser.emitting and laser.truth(0.0)["transmission"] == pytest.approx(0.02, rel=2e-3)
    line.handle(b"#01X")
    assert not laser.enabled and not laser.shutter


def test_a_fault_stops_emission_latches_and_clears_once_gone() -> None:
    clock = ManualClock()
    laser, line = _line(clock)
    line.handle(b"#01H1")
    line.handle(b"#01E1")
    laser.set_fault("laser_interlock", True, 0.0)
    assert not laser.emitting and laser.flags == 0x02
    line.handle(b"#01C")
    assert laser.flags == 0x02  # the loop is still open
    laser.set_fault("laser_interlock", False, 0.0)
    assert laser.flags == 0x02  # latched until C
    line.handle(b"#01C")
    assert laser.flags == 0 and line.handle(b"#01H1") == b"#01 OK *05\r\n"


def test_head_temperature_first_order_in_simulated_time() -> None:
    clock = ManualClock()
    laser, line = _line(clock)
    line.handle(b"#01R10000.0")
    line.handle(b"#01E1")
    for t_s in (TAU_S, 3 * TAU_S):
        laser.advance(t_s)
        expected = AMBIENT_C + FULL_RATE_RISE_C * (1 - math.exp(-t_s / TAU_S))
        assert laser.temp_c == pytest.approx(expected, rel=1e-9)
    # half the rate: half the steady rise (the rate changes at 3 tau)
    line.handle(b"#01R05000.0")
    laser.advance(3 * TAU_S + 20 * TAU_S)
    assert laser.temp_c == pytest.approx(AMBIENT_C + FULL_RATE_RISE_C * 5000 / RATE_MAX_HZ)


def test_cooling_failure_overheats_and_trips_the_controller() -> None:
    clock = ManualClock()
    laser, line = _line(clock)
    line.handle(b"#01H1")
    line.handle(b"#01E1")
    laser.set_fault("laser_overtemp", True, 0.0)
    t_s = 0.0
    while not laser.flags and t_s < 60.0:
        t_s += 0.5
        laser.advance(t_s)
    assert laser.flags == 0x01 and laser.temp_c >= OT_TRIP_C and 5.0 < t_s < 20.0
    assert not laser.emitting
    laser.set_fault("laser_overtemp", False, t_s)
    laser.advance(t_s + 10 * TAU_S)
    line.handle(b"#01C")
    assert laser.flags == 0


def test_silent_line_and_foreign_requests() -> None:
    clock = ManualClock()
    _, silent = _line(clock, silent=True)
    assert silent.handle(b"#01Q") is None
    _, line = _line(clock)
    assert line.handle(b"#02Q") is None
    assert line.handle(b"@01W") is None
    assert parse_request(b"#12Q") == (12, "Q")
    assert checksum("01 OK ") == "05"


def test_the_acu_serves_its_laser_and_routes_its_faults() -> None:
    cfg = load_config(ROOT / "config" / "sim.toml", env={})
    assert cfg.acu is not None and cfg.acu.laser is not None
    acu = Acu(cfg.acu, lambda t_s: True, 1, 0.0, 0.0)
    assert "laser_overtemp" in acu.fault_axes()["laser"]
    clock = ManualClock()
    lines = acu.serial_lines(clock, lambda axis: lambda: False)
    handle = lines["/tmp/calibsim/acu-laser"]
    assert handle(b"#01H1") == b"#01 OK *05\r\n"
    silenced = acu.serial_lines(clock, lambda axis: lambda: axis == "laser")  # comm_loss
    assert silenced["/tmp/calibsim/acu-laser"](b"#01Q") is None
    acu.set_fault("laser", "laser_fault", True, 0.0)
    assert acu.truth(0.0)["laser"] == {
        "emission": False,
        "enabled": False,
        "shutter": False,
        "rate_hz": 10.0,
        "transmission": 0.0001,
        "head_temp_c": AMBIENT_C,
        "flags": 0x04,
    }
