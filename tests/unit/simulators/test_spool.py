"""Spool physics against hand calculations."""

from __future__ import annotations

import math

import pytest

from simulators.config import SimConfig, SpoolCfg
from simulators.spool import Cable, Drum, SpoolPhysics

SPOOL = SpoolCfg(
    drum_radius_m=0.05,
    cable_diameter_m=0.001,
    turns_per_layer=40,
    cable_length_m=48.0,
    counts_per_rev=4096,
    cable_ea_n=40000.0,
    cable_weight_air_n_m=0.045,
    cable_weight_liquid_n_m=0.040,
    source_weight_air_n=1.96,
    source_weight_liquid_n=1.72,
    load_cell_range_n=200.0,
)


def layer_length_m(k: int) -> float:
    return 40 * 2 * math.pi * (0.05 + (k + 0.5) * 0.001)


def test_layers_hold_all_cable_outermost_first() -> None:
    drum = Drum.from_cfg(SPOOL)
    full = [layer_length_m(k) for k in range(3)]
    assert len(drum.layers) == 4
    assert drum.layers[0] == pytest.approx((0.0535, 48.0 - sum(full)))
    assert [r for r, _ in drum.layers] == pytest.approx([0.0535, 0.0525, 0.0515, 0.0505])
    assert sum(length for _, length in drum.layers) == pytest.approx(48.0)


def test_paid_out_per_revolution_shrinks_with_layers() -> None:
    drum = Drum.from_cfg(SPOOL)
    assert drum.paid_out_m(1.0) == pytest.approx(2 * math.pi * 0.0535)
    outer_m = drum.layers[0][1]
    outer_turns = outer_m / (2 * math.pi * 0.0535)
    # one turn past the outer layer: on the next layer down
    assert drum.paid_out_m(outer_turns + 1.0) == pytest.approx(outer_m + 2 * math.pi * 0.0525)
    # over-wind extrapolates on the outer radius
    assert drum.paid_out_m(-0.1) == pytest.approx(-0.1 * 2 * math.pi * 0.0535)


@pytest.mark.parametrize("paid_m", [-0.02, 0.0, 0.001, 5.0, 9.2, 20.0, 40.0, 47.0])
def test_revs_inverts_paid_out(paid_m: float) -> None:
    drum = Drum.from_cfg(SPOOL)
    assert drum.paid_out_m(drum.revs_at(paid_m)) == pytest.approx(paid_m, abs=1e-12)


def cable() -> Cable:
    return Cable.from_cfg(SPOOL, z_park_m=23.0, z_liquid_m=19.5)


def test_buoyancy_changes_tension() -> None:
    c = cable()
    assert c.hang(1.0)[1] == pytest.approx(1.96 + 0.045)  # all in air
    # 10 m: source wet, 3.5 m dry cable, 6.5 m wet cable
    assert c.hang(10.0)[1] == pytest.approx(1.72 + 0.045 * 3.5 + 0.040 * 6.5)


def test_stretch_closed_form_matches_numeric_integral() -> None:
    c = cable()
    length_m = 40.0
    n = 40000
    ds = length_m / n
    total = 0.0
    for i in range(n):
        s = (i + 0.5) * ds  # depth below the spool
        below_m = length_m - s
        cable_below_n = c.cable_weight_n(length_m) - c.cable_weight_n(s)
        assert below_m >= 0
        total += (1.72 + cable_below_n) * ds
    assert c.stretch_m(length_m, source_wet=True) == pytest.approx(total / 40000.0, rel=1e-6)


def test_stretch_is_a_few_millimetres_at_40_m() -> None:
    z_m, _ = cable().hang(40.0)
    stretch_m = 23.0 - 40.0 - z_m
    assert 0.001 < stretch_m < 0.005


def test_source_cannot_rise_above_park() -> None:
    assert cable().hang(-0.01)[0] == 23.0
    assert cable().hang(0.0) == (23.0, 1.96)


def test_closed_valve_holds_source_with_slack_cable() -> None:
    phys = SpoolPhysics(SPOOL, 23.0, 19.5, 21.5)
    above = phys.update(1.0, valve_open=False)
    assert not above.on_valve
    assert above.z_m == pytest.approx(22.0, abs=1e-3)
    held = phys.update(3.0, valve_open=False)
    assert held.on_valve
    assert held.z_m == 21.5
    assert held.tension_n == pytest.approx(0.045 * 1.5)  # cable weight only
    free = phys.update(3.0, valve_open=True)
    assert not free.on_valve
    assert free.z_m == pytest.approx(20.0, abs=1e-3)
    # once below the valve, closing it does not teleport the source
    assert phys.update(3.0, valve_open=False).z_m == pytest.approx(20.0, abs=1e-3)


def test_unit_spool_override(sim_config: SimConfig) -> None:
    acu = sim_config.acu
    assert acu is not None
    assert acu.spool_of(acu.units[0]) is acu.spool
