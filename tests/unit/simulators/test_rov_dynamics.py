"""ROV physics: drag-limited speeds, buoyancy drift, umbilical tension, chimney and valve."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from simulators.config import load_config
from simulators.rov import Rov, body_of, geometry_of
from simulators.rov_dynamics import G_M_S2, Body, Dynamics, Geometry, apparent_weight_n

ROOT_SIM_TOML = Path(__file__).resolve().parents[3] / "config" / "sim.toml"
BODY = Body(
    mass_kg=24.3,
    added_mass_kg=12.0,
    trim_n=-1.0,
    length_m=0.5,
    radius_m=0.15,
    drag_h_n_s2_m2=45.0,
    drag_v_n_s2_m2=24.0,
)
GEO = Geometry(
    z_park_m=23.0,
    z_valve_m=21.5,
    z_liquid_m=19.5,
    z_exit_m=17.7,
    chimney_clearance_m=0.25,
    sphere_radius_m=17.7,
    tether_ea_n=100000.0,
    tether_air_n_m=1.0,
    tether_liquid_n_m=0.05,
)
SLACK_M = 60.0  # paid out far more than any path: the umbilical never pulls


def run(
    dyn: Dynamics,
    seconds: float,
    thrust: tuple[float, float, float] = (0, 0, 0),
    paid_m: float = SLACK_M,
    valve_open: bool = True,
) -> None:
    t = 0.0
    while t < seconds:
        dt = dyn.dt_s(paid_m)
        dyn.step(dt, thrust, paid_m, 0.0, valve_open)
        t += dt


def test_sinks_at_drag_terminal_velocity_without_thrust() -> None:
    dyn = Dynamics(BODY, GEO, (2.0, 0.0, 5.0))
    run(dyn, 30.0)
    expected = math.sqrt(1.0 / BODY.drag_v_n_s2_m2)  # trim balanced by quadratic drag
    assert dyn.v[2] == pytest.approx(-expected, rel=0.01)
    assert dyn.v[0] == pytest.approx(0.0, abs=1e-9)


def test_positive_trim_drifts_up() -> None:
    light = Body(**{**BODY.__dict__, "trim_n": 0.5})
    dyn = Dynamics(light, GEO, (0.0, 3.0, 0.0))
    run(dyn, 60.0)
    assert dyn.p[2] > 1.0
    assert dyn.v[2] == pytest.approx(math.sqrt(0.5 / BODY.drag_v_n_s2_m2), rel=0.01)


def test_thrust_against_horizontal_drag() -> None:
    dyn = Dynamics(BODY, GEO, (-3.0, 0.0, 0.0))
    run(dyn, 30.0, thrust=(10.0, 0.0, 1.0))  # 1 N up cancels the trim
    assert dyn.v[0] == pytest.approx(math.sqrt(10.0 / BODY.drag_h_n_s2_m2), rel=0.01)
    assert dyn.v[2] == pytest.approx(0.0, abs=1e-6)


def test_umbilical_pulls_towards_the_chimney_exit() -> None:
    dyn = Dynamics(BODY, GEO, (3.0, 0.0, 13.7))
    need_m, u = GEO.path_m(dyn.position_m)
    assert need_m == pytest.approx(GEO.chimney_length_m + 5.0)
    assert u == pytest.approx((-0.6, 0.0, 0.8))
    short_m = need_m - 0.01
    tension, _ = dyn.tether(short_m, 0.0)
    assert tension == pytest.approx(GEO.tether_ea_n / short_m * 0.01, rel=1e-6)
    # held by a short umbilical against 10 N of outward thrust: it settles where the pull
    # balances thrust and trim, and the load cell sees that plus the umbilical's weight
    run(dyn, 60.0, thrust=(10.0, 0.0, 0.0), paid_m=short_m)
    assert dyn.tension_end_n == pytest.approx(math.hypot(10.0, 1.0), rel=0.02)
    top = dyn.top_tension_n(short_m)
    assert top == pytest.approx(
        dyn.tension_end_n + GEO.column_weight_n(13.7) + 0.025 * 5.0, abs=0.05
    )
    assert dyn.tether(SLACK_M, 0.0)[0] == 0.0


def test_hangs_in_the_chimney_with_its_apparent_weight() -> None:
    for paid_m, wet in ((1.0, False), (6.5, True)):
        dyn = Dynamics(BODY, GEO, (0.1, 0.0, GEO.z_park_m - paid_m))
        run(dyn, 20.0, paid_m=paid_m)
        weight = apparent_weight_n(BODY, dyn.p[2], GEO.z_liquid_m)
        assert weight == pytest.approx(1.0 if wet else BODY.mass_kg * G_M_S2, rel=1e-3)
        assert dyn.tension_end_n == pytest.approx(weight, rel=1e-2)
        assert dyn.p[2] == pytest.approx(GEO.z_park_m - paid_m, abs=0.03)
        assert math.hypot(dyn.p[0], dyn.p[1]) <= GEO.chimney_clearance_m


def test_closed_valve_holds_the_vehicle_and_the_umbilical_goes_slack() -> None:
    dyn = Dynamics(BODY, GEO, (0.0, 0.0, 22.0))
    run(dyn, 10.0, paid_m=3.0, valve_open=False)
    assert dyn.p[2] == pytest.approx(GEO.z_valve_m)
    assert dyn.contact and dyn.tension_end_n == 0.0
    run(dyn, 10.0, paid_m=3.0, valve_open=True)
    assert dyn.p[2] == pytest.approx(20.0, abs=0.03)


def test_acrylic_stops_the_vehicle() -> None:
    dyn = Dynamics(BODY, GEO, (0.0, 0.0, -17.0))
    run(dyn, 30.0)
    assert math.dist(dyn.position_m, (0, 0, 0)) == pytest.approx(17.55, abs=1e-6)
    assert dyn.contact


def test_system_parked_reading_and_uss_visibility() -> None:
    cfg = load_config(ROOT_SIM_TOML, env={}).rov
    assert cfg is not None
    assert body_of(cfg).mass_kg * G_M_S2 == pytest.approx(cfg.spool.source_weight_air_n)
    assert geometry_of(cfg).chimney_clearance_m == pytest.approx(0.25)
    rov = Rov(cfg, lambda t: True, seed=3, noise_n=0.0, t_s=0.0)
    truth = rov.truth(1.0)
    assert truth["tension_n"] == pytest.approx(cfg.spool.source_weight_air_n, rel=0.01)
    assert rov.uss_position(1.0) is None  # in the house: no fix
    rov.dyn.p = [1.0, 1.0, 10.0]
    assert rov.uss_position(1.0) == (1.0, 1.0, 10.0)
