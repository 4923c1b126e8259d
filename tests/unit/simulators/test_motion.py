"""Trapezoidal profiles."""

from __future__ import annotations

import pytest

from simulators.motion import plan_jog, plan_move, plan_stop


def test_trapezoid_reaches_target_with_cruise() -> None:
    prof = plan_move(0.0, 0.0, 0.0, 1000.0, vmax=100.0, accel=50.0)
    # accel 2 s (100 counts), cruise 8 s (800 counts), decel 2 s (100 counts)
    assert prof.end_s == pytest.approx(12.0)
    assert prof.state(1.0) == pytest.approx((25.0, 50.0))
    assert prof.state(6.0) == pytest.approx((500.0, 100.0))
    assert prof.state(12.0) == pytest.approx((1000.0, 0.0))
    assert not prof.moving(12.0)


def test_triangle_when_too_short_for_full_speed() -> None:
    prof = plan_move(0.0, 0.0, 0.0, -100.0, vmax=100.0, accel=50.0)
    assert prof.end_s == pytest.approx(2 * (100.0 / 50.0) ** 0.5)
    assert prof.state(prof.end_s)[0] == pytest.approx(-100.0)


def test_retarget_backwards_while_moving() -> None:
    first = plan_move(0.0, 0.0, 0.0, 1000.0, vmax=100.0, accel=50.0)
    x, v = first.state(4.0)
    prof = plan_move(4.0, x, v, 0.0, vmax=100.0, accel=50.0)
    assert prof.state(prof.end_s) == pytest.approx((0.0, 0.0))
    peak_x = max(prof.state(4.0 + i * 0.01)[0] for i in range(1000))
    assert peak_x == pytest.approx(x + 100.0, abs=0.1)  # 2 s to stop from 100 counts/s


def test_stop_and_jog_and_crossing_time() -> None:
    stop = plan_stop(0.0, 0.0, 100.0, 50.0)
    assert stop.state(10.0) == pytest.approx((100.0, 0.0))
    jog = plan_jog(0.0, 0.0, 0.0, -10.0, 10.0)
    assert jog.moving(1e6)
    hit = jog.first_time_at(-45.0, 0.0)
    assert hit == pytest.approx(5.0)  # 0.5 s ramp (2.5 counts), then 42.5 counts at 10/s
