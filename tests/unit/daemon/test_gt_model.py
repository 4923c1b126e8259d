"""The daemon's GT model against the simulator's physics, in-process, over the whole tube.

The daemon computes drum targets for a position; the simulator's physics (its own
implementation, plus car friction the daemon does not model) says where the car really is;
the daemon then estimates the position from the drums and noisy measured tensions."""

from __future__ import annotations

import dataclasses
import math
import random
from pathlib import Path

import pytest

from calibd.config import load_config
from calibd.subsystems.gt_model import GtModel
from simulators.config import load_config as load_sim_config
from simulators.gt_physics import LoopPhysics

ROOT = Path(__file__).resolve().parents[3]
ARC_LIMIT_M = 0.02  # requirement: <= 2 cm along the tube
NOISE_N = 0.003  # load-cell noise of config/sim.toml


@pytest.fixture(scope="module")
def pair() -> tuple[GtModel, LoopPhysics]:
    daemon = load_config(ROOT / "config" / "sim.toml").gt
    sim = load_sim_config(ROOT / "config" / "sim.toml", env={}).gt
    assert daemon is not None and sim is not None
    return GtModel.from_cfg(daemon), LoopPhysics.from_cfg(sim)


def _sweep() -> list[tuple[float, int]]:
    return [(float(deg), d) for deg in range(3, 178) for d in (1, -1)]


def test_model_accuracy_over_the_full_range(pair: tuple[GtModel, LoopPhysics]) -> None:
    model, physics = pair
    rng = random.Random(3)
    worst_belief = worst_placed = 0.0
    for deg, d in _sweep():
        theta = math.radians(deg)
        top_rev, bottom_rev = model.revs_for(theta, d)
        a, b = model.lengths_at(top_rev, bottom_rev)
        true = physics.solve(a, b, d)
        assert not true.pinned
        top_n = true.tension_top_n + rng.gauss(0, NOISE_N)
        bottom_n = true.tension_bottom_n + rng.gauss(0, NOISE_N)
        believed = model.theta_rad(a, b, top_n, bottom_n, d)[0]
        worst_belief = max(worst_belief, abs(believed - true.theta_rad) * model.radius_m)
        worst_placed = max(worst_placed, abs(true.theta_rad - theta) * model.radius_m)
    # belief vs truth: noise only (sub-mm); placement: the car friction the daemon ignores
    assert worst_belief <= 0.001, worst_belief
    assert worst_placed <= 0.002, worst_placed
    assert max(worst_belief, worst_placed) <= ARC_LIMIT_M


def test_naive_length_over_radius_is_measurably_off(pair: tuple[GtModel, LoopPhysics]) -> None:
    model, physics = pair
    worst = 0.0
    for deg, d in _sweep():
        top_rev, bottom_rev = model.revs_for(math.radians(deg), d)
        true = physics.solve(*model.lengths_at(top_rev, bottom_rev), d)
        worst = max(worst, abs(model.naive_theta_rad(top_rev) - true.theta_rad) * model.radius_m)
    assert worst > 5 * ARC_LIMIT_M, worst  # ~11 cm: stretch and dancer stroke


def test_friction_matters(pair: tuple[GtModel, LoopPhysics]) -> None:
    """Ignoring the capstan friction costs about a centimetre on one side."""
    model, physics = pair
    frictionless = dataclasses.replace(model, mu=0.0)
    worst_with = worst_without = 0.0
    for deg, d in _sweep():
        top_rev, bottom_rev = model.revs_for(math.radians(deg), d)
        a, b = model.lengths_at(top_rev, bottom_rev)
        true = physics.solve(a, b, d)
        for m, tag in ((model, "with"), (frictionless, "without")):
            err = abs(m.theta_from_top(a, true.tension_top_n, d) - true.theta_rad) * model.radius_m
            if tag == "with":
                worst_with = max(worst_with, err)
            else:
                worst_without = max(worst_without, err)
    assert worst_without > 0.008 and worst_with < 1e-6, (worst_with, worst_without)


def test_both_sides_agree_and_the_marks_are_the_garage(pair: tuple[GtModel, LoopPhysics]) -> None:
    model, _ = pair
    a0, b0 = model.park_lengths_m()
    assert model.lengths_at(0.0, 0.0) == (a0, b0)
    top_n, bottom_n = model.spool_tensions_n(model.theta_park_rad, -1)
    theta, from_top, from_bottom = model.theta_rad(a0, b0, top_n, bottom_n, -1)
    assert math.degrees(theta) == pytest.approx(2.5, abs=1e-9)
    assert from_top == pytest.approx(from_bottom, abs=1e-12)
    # tension grows towards the hauling spool by e^(mu * wrap)
    up_top, up_bottom = model.spool_tensions_n(math.radians(90), -1)
    down_top, down_bottom = model.spool_tensions_n(math.radians(90), 1)
    assert up_top > down_top and up_bottom < down_bottom
    assert down_bottom / model.pretension_n == pytest.approx(math.exp(model.mu * math.radians(88)))


def test_targets_move_the_drums_the_right_way(pair: tuple[GtModel, LoopPhysics]) -> None:
    """Going down the top pays out and the bottom hauls (both positive); a reversal at the
    same spot re-tensions both drums the other way (what the friction profile needs)."""
    model, _ = pair
    here = math.radians(60)
    t0, b0 = model.revs_for(here, 1)
    t1, b1 = model.revs_for(here + 1e-4, 1)
    assert t1 > t0 and b1 > b0
    t2, b2 = model.revs_for(here, -1)
    assert t2 < t0 and b2 < b0
