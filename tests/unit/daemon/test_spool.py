"""ACU kinematics: layered drum, stretch under tension, buoyancy."""

from __future__ import annotations

import math

import pytest

from calibd.core.spool import Drum, HangingCable, SpoolModel

DRUM = Drum(drum_radius_m=0.05, cable_diameter_m=0.001, turns_per_layer=40, cable_length_m=48.0)
CABLE = HangingCable(23.0, 19.5, 40000.0, 0.045, 0.040, 1.96, 1.72)
MODEL = SpoolModel(DRUM, CABLE)


def test_layers_by_hand() -> None:
    layer0 = 2 * math.pi * 0.0505 * 40
    layer1 = 2 * math.pi * 0.0515 * 40
    assert DRUM.wound_length_m(40) == pytest.approx(layer0)
    assert DRUM.wound_length_m(60) == pytest.approx(layer0 + layer1 / 2)
    assert DRUM.turns_for_wound(layer0 + layer1 / 2) == pytest.approx(60)
    # outer layer (the 4th, radius 53.5 mm) unwinds first
    assert DRUM.paid_out_m(1.0) == pytest.approx(2 * math.pi * 0.0535)


def test_layer_term_matters() -> None:
    # the naive single-radius model is centimetres off after tens of turns
    rev = DRUM.rev_for_paid_out(40.0)
    naive = rev * 2 * math.pi * 0.0505
    assert abs(naive - 40.0) > 0.5
    assert DRUM.paid_out_m(rev) == pytest.approx(40.0, abs=1e-9)


@pytest.mark.parametrize("paid", [0.0, 0.3, 3.5, 12.0, 39.9, 40.4])
def test_round_trip(paid: float) -> None:
    assert DRUM.paid_out_m(DRUM.rev_for_paid_out(paid)) == pytest.approx(paid, abs=1e-9)


def test_tension_and_buoyancy() -> None:
    assert CABLE.expected_tension_n(0.0) == pytest.approx(1.96)
    assert CABLE.expected_tension_n(3.0) == pytest.approx(1.96 + 3 * 0.045)
    deep = CABLE.expected_tension_n(40.4)
    assert deep == pytest.approx(1.72 + 3.5 * 0.045 + 36.9 * 0.040)


def test_stretch_is_millimetres_and_used() -> None:
    t = CABLE.expected_tension_n(40.4)
    s = CABLE.stretch_m(40.4, t)
    assert 0.001 < s < 0.005
    # uniform tension T over L stretches T*L/EA; the cable's own weight makes it less
    assert s < t * 40.4 / 40000.0


@pytest.mark.parametrize("z", [17.4, 5.0, 0.0, -10.0, -17.4])
def test_inverse_model(z: float) -> None:
    rev = MODEL.rev_for_z(z)
    assert MODEL.z_m(rev, MODEL.expected_tension_n(rev)) == pytest.approx(z, abs=1e-6)
