"""The simulated Guide Tube: loop equilibrium, capstan friction, drives and switches, faults."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from simulators.config import load_config
from simulators.config_gt import GtCfg
from simulators.gt import Gt
from simulators.gt_physics import LoopPhysics
from simulators.modbus_front import int32_words
from simulators.stepper import Drive
from simulators.stepper_map import ALARM_LIMIT, HOME, HOME_SW, HOMED, LIMIT_NEG, START

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def cfg() -> GtCfg:
    gt = load_config(ROOT / "config" / "sim.toml", env={}).gt
    assert gt is not None
    return gt


def _move(drive: Drive, target: float, speed: int, accel: int, t_s: float) -> None:
    regs = [*int32_words(round(target)), *int32_words(speed), *int32_words(accel), START]
    drive.write_holding(0, regs, t_s)


def _home(drive: Drive, speed: int, t_s: float) -> None:
    drive.write_holding(2, [*int32_words(speed), *int32_words(0)], t_s)
    drive.write_holding(6, [HOME], t_s)


def test_equilibrium_and_capstan(cfg: GtCfg) -> None:
    phys = LoopPhysics.from_cfg(cfg)
    theta = math.radians(90)
    for d in (1, -1):
        a, b = phys.lengths_for(theta, 20.0, d)
        st = phys.solve(a, b, d)
        assert not st.pinned
        # car friction shifts the car a little against its motion (sub-mm along the tube)
        assert abs(st.theta_rad - theta) * phys.radius_m < 0.002
        assert st.car_top_n - st.car_bottom_n == pytest.approx(
            phys.car_weight_n - d * phys.car_friction_n, abs=1e-6
        )
        wrap_top, wrap_bottom = st.theta_rad - phys.theta_start_rad, phys.theta_end_rad - theta
        assert st.tension_top_n == pytest.approx(st.car_top_n * math.exp(-d * 0.1 * wrap_top))
        assert st.tension_bottom_n == pytest.approx(
            st.car_bottom_n * math.exp(d * 0.1 * wrap_bottom), rel=1e-4
        )


def test_pinned_and_slack(cfg: GtCfg) -> None:
    phys = LoopPhysics.from_cfg(cfg)
    a, b = phys.lengths_for(math.radians(10), 20.0, -1)
    # the whole cable shifted 3 m up (the car 10 deg = 3.1 m from the tube end): end stop
    st = phys.solve(a - 3.0, b + 3.0, -1)
    assert st.pinned and st.theta_rad == phys.theta_start_rad
    # bottom side paid out far too much: it goes slack, the car hangs on the top side
    st = phys.solve(a, b + 2.0, -1)
    assert st.car_bottom_n == 0.0
    assert st.car_top_n == pytest.approx(phys.car_weight_n * math.sin(st.theta_rad) + 0.2, abs=1e-3)


def test_power_on_homing_reaches_the_garage(cfg: GtCfg) -> None:
    gt = Gt(cfg, seed=1, noise_n=0.0, t_s=0.0)
    top, bottom = gt.drive["top"], gt.drive["bottom"]
    assert top.drum_counts(0.0) == 0 and bottom.drum_counts(0.0) == 0  # resting on the marks
    assert gt.truth(0.0)["axes"]["top"]["parked"]  # type: ignore[index]
    speed = round(0.02 * gt.counts_per_m)
    _home(bottom, speed, 0.0)
    _home(top, speed, 0.0)
    for k in range(1, 200):
        gt.tick(k * 0.1)
    for drive in (top, bottom):
        status = drive.input_registers(20.0)[0]
        assert status & HOMED and status & HOME_SW
        assert drive.drum_counts(20.0) == pytest.approx(0.0, abs=1.0)
    st = gt.state(20.0)
    # at the marks the car is in its garage (car friction: within a millimetre)
    assert abs(math.radians(st.theta_deg - 2.5)) * cfg.tube.radius_m < 0.001
    assert gt.direction == -1
    assert st.tension_top_n == pytest.approx(20.0, abs=0.5)  # the pretension


def test_coordinated_move_sets_the_friction_direction(cfg: GtCfg) -> None:
    gt = Gt(cfg, seed=1, noise_n=0.0, t_s=0.0)
    for drive in gt.drive.values():
        _home(drive, 300, 0.0)
    gt.tick(10.0)
    theta = math.radians(45)
    a, b = gt.physics.lengths_for(theta, 20.0, 1)
    top_c = (a - gt.a_park_m) * gt.counts_per_m
    bottom_c = (gt.b_park_m - b) * gt.counts_per_m
    t0 = 10.0
    for drive, target in ((gt.drive["top"], top_c), (gt.drive["bottom"], bottom_c)):
        start = drive.drum_counts(t0)
        share = abs(target - start) / abs(top_c - gt.drive["top"].drum_counts(t0))
        _move(drive, target, round(3000 * share), round(3000 * share), t0)
    for k in range(1, 3000):
        gt.tick(t0 + k * 0.5)
    st = gt.state(1600.0)
    assert gt.direction == 1
    assert abs(st.theta_rad - theta) * cfg.tube.radius_m < 0.003
    truth = gt.truth(1600.0)
    assert truth["position"] == {"theta_deg": pytest.approx(st.theta_deg, abs=1e-5)}
    assert set(truth["tension_n"]) == {"top", "bottom"}  # type: ignore[call-overload]


def test_snag_and_slack_hold_the_car(cfg: GtCfg) -> None:
    gt = Gt(cfg, seed=1, noise_n=0.0, t_s=0.0)
    before = gt.state(1.0)
    nominal = gt.tension_n("bottom", 1.0)
    gt.set_fault("bottom", "snag", True, 1.0)
    assert gt.tension_n("bottom", 2.0) > 3 * nominal
    _move(gt.drive["top"], 10_000, 3000, 3000, 2.0)
    gt.tick(20.0)
    assert gt.state(20.0).theta_rad == before.theta_rad  # the car does not follow
    gt.set_fault("bottom", "snag", False, 20.0)
    gt.set_fault("top", "slack", True, 20.0)
    assert gt.tension_n("top", 21.0) < 0.1 * nominal
    gt.set_fault("top", "slack", False, 21.0)
    assert not gt.truth(21.0)["held"]


def test_overwind_limit_and_drive_faults(cfg: GtCfg) -> None:
    gt = Gt(cfg, seed=1, noise_n=0.0, t_s=0.0)
    top = gt.drive["top"]
    _move(top, -0.05 * gt.counts_per_m, 3000, 3000, 0.0)
    for k in range(1, 100):
        gt.tick(k * 0.1)
    regs = top.input_registers(10.0)
    assert regs[0] & LIMIT_NEG and regs[1] == ALARM_LIMIT
    gt.set_fault("bottom", "drive_alarm", True, 10.0)
    assert gt.drive["bottom"].alarm_code != 0
    assert set(gt.fault_axes()) == {"top", "bottom"}
