"""The daemon's cable model against the simulator's physics (both in-process), on a grid over
the reachable workspace of each loop."""

from __future__ import annotations

import itertools
import math
import random
from pathlib import Path

import pytest

from calibd.config import load_config as load_daemon_config
from calibd.subsystems.cls_kinematics import ClsModel
from simulators.cls_physics import LoopPhysics
from simulators.config import load_config as load_sim_config

ROOT = Path(__file__).resolve().parents[3]
TOML = ROOT / "config" / "sim.toml"
ACCURACY_M = 0.02
NOISE_N = 0.003  # [sim] tension_noise_n


def _pair(name: str) -> tuple[ClsModel, LoopPhysics]:
    d = getattr(load_daemon_config(TOML), name)
    s = getattr(load_sim_config(TOML), name)
    return ClsModel(d), LoopPhysics(s)


def _weigh(model: ClsModel, physics: LoopPhysics, rng: random.Random) -> None:
    """What every deploy does at the chimney exit: weigh the source with the central tension."""
    rc, rs = model.revs_in_chimney(model.loop.c_z + 0.001)
    measured_n = physics.state(rc, rs, valve_open=True).central_n + rng.gauss(0.0, NOISE_N)
    model.w_src_n = model.weight_in_chimney(rc, rs, measured_n)


def _grid(model: ClsModel, step_m: float = 2.0) -> list[tuple[float, float]]:
    sign = model.loop.side_sign
    pts = []
    for i in range(int(18 / step_m) + 1):
        for j in range(int(36 / step_m) + 1):
            x, z = sign * (0.5 + i * step_m), -17.5 + j * step_m
            if model.check_point(x, z) is None:
                pts.append((x, z))
    return pts


def _naive(model: ClsModel, lc: float, la: float) -> tuple[float, float]:
    """Straight weightless cables: the lower intersection of the two length circles."""
    lp = model.loop
    d = math.hypot(lp.a_x - lp.c_x, lp.a_z - lp.c_z)
    ex, ez = (lp.a_x - lp.c_x) / d, (lp.a_z - lp.c_z) / d
    along = (d * d + lc * lc - la * la) / (2 * d)
    off = math.sqrt(max(lc * lc - along * along, 0.0))
    nx, nz = -ez, ex
    if nz > 0:
        nx, nz = -nx, -nz
    return lp.c_x + along * ex + off * nx, lp.c_z + along * ez + off * nz


@pytest.mark.parametrize("name", ["cls1", "cls2"])
def test_model_accuracy_on_a_grid_and_the_naive_model_is_wrong(name: str) -> None:
    """Go to every grid point with the weighed model: the true source is within 2 cm of the
    target and of the daemon's belief; the straight-line model is not, near the wall too."""
    model, physics = _pair(name)
    rng = random.Random(7)
    _weigh(model, physics, rng)
    grid = _grid(model)
    assert len(grid) >= 40, "the reachable workspace is a real region"
    worst_target = worst_belief = 0.0
    naive_bad = []
    for x, z in grid:
        rev_c, rev_s = model.revs_for(x, z)
        truth = physics.state(rev_c, rev_s, valve_open=True)
        pose = model.pose(rev_c, rev_s)
        worst_belief = max(worst_belief, math.hypot(pose.x_m - truth.x_m, pose.z_m - truth.z_m))
        worst_target = max(worst_target, math.hypot(truth.x_m - x, truth.z_m - z))
        nx, nz = _naive(model, *model.lengths(rev_c, rev_s))
        naive_err = math.hypot(nx - truth.x_m, nz - truth.z_m)
        if naive_err > ACCURACY_M:
            naive_bad.append((x, z, naive_err))
    assert worst_belief <= ACCURACY_M, worst_belief
    assert worst_target <= ACCURACY_M, worst_target
    near_wall = [b for b in naive_bad if math.hypot(b[0], b[1]) > 15.0]
    assert near_wall, naive_bad[:5]
    assert max(b[2] for b in naive_bad) > 0.1


@pytest.mark.parametrize("name", ["cls1", "cls2"])
def test_unweighed_nominal_source_misses_and_weighing_fixes_it(name: str) -> None:
    """The true source is heavier than nominal: the nominal model misses by more than the
    weighed one (which the correction moves then bring to the tolerance)."""
    model, physics = _pair(name)
    grid = _grid(model, step_m=3.0)
    nominal = [_miss(model, physics, p) for p in grid]
    _weigh(model, physics, random.Random(3))
    assert model.w_src_n == pytest.approx(physics.w_src_liq_n, abs=0.01)
    weighed = [_miss(model, physics, p) for p in grid]
    assert max(weighed) <= 0.005, max(weighed)
    assert max(nominal) > 2 * max(weighed)


def _miss(model: ClsModel, physics: LoopPhysics, p: tuple[float, float]) -> float:
    truth = physics.state(*model.revs_for(*p), valve_open=True)
    return math.hypot(truth.x_m - p[0], truth.z_m - p[1])


@pytest.mark.parametrize(
    ("name", "start", "end"),
    [
        ("cls1", (4.0, 2.0), (9.0, 6.0)),
        ("cls1", (2.0, -10.0), (10.0, 0.0)),
        ("cls2", (-6.0, -2.0), (-12.0, 4.0)),
        ("cls2", (-3.0, 10.0), (-4.0, -12.0)),
    ],
)
def test_coordinated_move_follows_the_straight_line(
    name: str, start: tuple[float, float], end: tuple[float, float]
) -> None:
    """Both spools move linearly in time between waypoints (speeds proportional to travel):
    the true source stays within 2 cm of the straight segment."""
    model, physics = _pair(name)
    _weigh(model, physics, random.Random(5))
    path = [start, *model.waypoints(start, end)]
    assert model.check_path(start, end) is None
    revs = [model.revs_for(*p) for p in path]
    ax, az = end[0] - start[0], end[1] - start[1]
    worst = 0.0
    for (c0, s0), (c1, s1) in itertools.pairwise(revs):
        for k in range(11):
            f = k / 10
            t = physics.state(c0 + f * (c1 - c0), s0 + f * (s1 - s0), valve_open=True)
            u = ((t.x_m - start[0]) * ax + (t.z_m - start[1]) * az) / (ax * ax + az * az)
            worst = max(worst, math.hypot(t.x_m - start[0] - u * ax, t.z_m - start[1] - u * az))
    assert worst <= ACCURACY_M, worst


@pytest.mark.parametrize(
    ("name", "x", "z", "why"),
    [
        ("cls1", -3.0, 0.0, "half-plane"),
        ("cls2", 3.0, 0.0, "half-plane"),
        ("cls1", 12.5, -12.4, "acrylic"),
        ("cls1", 0.0, -17.6, "half-plane"),
        ("cls2", -17.4, -1.0, "acrylic"),
        ("cls1", 14.0, 2.0, "equilibrium"),
        ("cls1", 0.05, 10.0, "sag"),
    ],
)
def test_unreachable_targets_are_refused(name: str, x: float, z: float, why: str) -> None:
    model, _ = _pair(name)
    reason = model.check_point(x, z)
    assert reason is not None and why in reason, reason


def test_chimney_and_parked_positions() -> None:
    model, physics = _pair("cls1")
    for z in (23.0, 21.0, 18.5, model.loop.c_z + 0.01):
        rc, rs = model.revs_in_chimney(z)
        pose = model.pose(rc, rs)
        truth = physics.state(rc, rs, valve_open=True)
        assert pose.in_chimney and truth.in_chimney
        assert abs(pose.z_m - z) < 1e-9 and abs(truth.z_m - z) < 1e-6
        # the daemon's expected tensions are those of the nominal source
        exp_c, exp_s = model.expected_tensions(rc, rs)
        assert truth.central_n == pytest.approx(exp_c, rel=0.1)
        assert truth.side_n == pytest.approx(exp_s, rel=0.01)
    # weighing in the chimney finds the true (heavier than nominal) source
    rc, rs = model.revs_in_chimney(model.loop.c_z + 0.001)
    truth = physics.state(rc, rs, valve_open=True)
    assert model.weight_in_chimney(rc, rs, truth.central_n) == pytest.approx(
        physics.w_src_liq_n, abs=1e-6
    )
    # a closed valve holds the source: the central cable goes slack
    rc, rs = model.revs_in_chimney(20.0)
    fresh = LoopPhysics(load_sim_config(TOML).cls1)  # type: ignore[arg-type]
    held = fresh.state(rc, rs, valve_open=False)
    assert held.on_valve and held.central_n < 0.5
