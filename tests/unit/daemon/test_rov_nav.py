"""ROV navigation and umbilical maths (pure)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from calibd.cfg_rov import RovCfg
from calibd.config import load_config
from calibd.subsystems.rov_nav import Navigator, Umbilical, check_target, norm, sub

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def cfg() -> RovCfg:
    rov = load_config(ROOT / "config" / "sim.toml").rov
    assert rov is not None
    return rov


def test_targets_keep_clear_of_the_acrylic_and_the_chimney(cfg: RovCfg) -> None:
    assert check_target(cfg, (0.0, 0.0, 0.0)) is None
    assert check_target(cfg, (0.0, 0.0, -17.2)) is None  # exactly 0.5 m inside
    assert check_target(cfg, (0.0, 0.0, -17.21)) is not None
    assert check_target(cfg, (12.2, 12.2, 1.0)) is not None
    assert check_target(cfg, (0.0, 0.0, cfg.z_launch_m)) is None
    assert "chimney" in (check_target(cfg, (0.1, 0.0, 16.9)) or "")
    assert check_target(cfg, (0.6, 0.0, 16.9)) is None


def _fly(nav: Navigator, start: tuple[float, float, float], dt_s: float, steps: int) -> list[float]:
    """A vehicle that follows the velocity setpoint exactly; returns the speeds commanded."""
    pos = start
    speeds = []
    for _ in range(steps):
        nav.observe(pos)
        v = nav.command(dt_s)
        speeds.append(norm(v))
        pos = (pos[0] + v[0] * dt_s, pos[1] + v[1] * dt_s, pos[2] + v[2] * dt_s)
    nav.observe(pos)
    return speeds


def test_navigator_converges_without_overshoot() -> None:
    nav = Navigator(gain_per_s=0.4, speed_max_m_s=0.2)
    nav.target = (3.0, -2.0, 10.0)
    _fly(nav, (0.0, 0.0, 16.5), 0.4, 400)
    assert (nav.error_m() or 1.0) < 0.001


def test_navigator_clamps_speed_and_step() -> None:
    nav = Navigator(gain_per_s=0.4, speed_max_m_s=0.2)
    nav.target = (10.0, 0.0, 0.0)
    speeds = _fly(nav, (0.0, 0.0, 0.0), 0.1, 50)
    assert max(speeds) == pytest.approx(0.2)
    # a slow poll (10 s of physics) never commands more than half the error per poll
    nav = Navigator(gain_per_s=0.4, speed_max_m_s=0.2)
    nav.target = (1.0, 0.0, 0.0)
    nav.observe((0.0, 0.0, 0.0))
    v = nav.command(10.0)
    assert norm(v) * 10.0 == pytest.approx(0.5)
    assert nav.command(0.0) == pytest.approx((0.2, 0.0, 0.0))


def test_filter_smooths_noise_and_restarts_on_a_jump() -> None:
    nav = Navigator(gain_per_s=0.4, speed_max_m_s=0.2)
    for k in range(40):
        nav.observe((1.0 + 0.01 * (-1) ** k, 2.0, 3.0))
    est = nav.estimate
    assert est is not None and abs(est[0] - 1.0) < 0.01
    nav.observe((5.0, 2.0, 3.0))
    assert nav.estimate == (5.0, 2.0, 3.0)
    nav.observe(None)
    assert nav.estimate is None and nav.command(0.1) == (0.0, 0.0, 0.0)


def test_umbilical_path_and_tensions(cfg: RovCfg) -> None:
    um = Umbilical.from_cfg(cfg)
    chimney = cfg.z_park_m - cfg.z_exit_m
    assert um.path_m((0.0, 0.0, 20.0)) == pytest.approx(3.0)
    assert um.path_m((3.0, 0.0, cfg.z_exit_m - 4.0)) == pytest.approx(chimney + 5.0)
    for paid in (0.0, 2.0, 7.3, 40.0):
        assert um.paid_out_m(um.rev_for(paid)) == pytest.approx(paid, abs=1e-9)
    sp = cfg.spool
    in_air = um.hanging_tension_n(0.5)
    assert in_air == pytest.approx(sp.source_weight_air_n + 0.5 * sp.cable_weight_air_n_m)
    launch = cfg.z_park_m - cfg.z_launch_m
    wet = um.hanging_tension_n(launch)
    column = (cfg.z_park_m - cfg.z_liquid_m) * sp.cable_weight_air_n_m + (
        cfg.z_liquid_m - cfg.z_exit_m
    ) * sp.cable_weight_liquid_n_m
    assert wet == pytest.approx(sp.source_weight_liquid_n + column)
    assert um.slack_tension_n(chimney + 10.0) == pytest.approx(
        column + 0.5 * sp.cable_weight_liquid_n_m * 10.0
    )
    # hanging stretch: the end tension over the paid-out length
    z = um.hanging_z_m(launch, wet)
    assert z == pytest.approx(cfg.z_launch_m - sp.source_weight_liquid_n * launch / sp.cable_ea_n)
    assert math.isclose(norm(sub((1.0, 1.0, 1.0), (0.0, 1.0, 1.0))), 1.0)
