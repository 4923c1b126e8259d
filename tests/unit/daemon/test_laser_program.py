"""Laser points of a program: the intensity scan in the model, the plan's checks and its ETA."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from calibd.assembly import build
from calibd.buses import Buses
from calibd.config import Settings, load_config
from calibd.core.outbox import Outbox
from calibd.core.subsystem import Subsystem
from calibd.program.model import PointsStep, Program
from calibd.program.plan import Plan
from calibd.program.planner import make_plan
from calibd.program.sources import seeded

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_config(ROOT / "config" / "sim.toml")


@pytest.fixture(scope="module")
def systems(settings: Settings) -> dict[str, Subsystem]:
    return build(settings, Buses(), Outbox(16))


def _laser(**extra: Any) -> dict[str, Any]:
    step = {"system": "acu", "source": "laser", "daq_s": 60.0, "points": [{"z_m": 0.0}]}
    return step | extra


def _plan(settings: Settings, systems: dict[str, Subsystem], step: dict[str, Any]) -> Plan:
    program = Program.model_validate({"name": "t", "steps": [step]})
    return make_plan(program, settings, seeded(settings), systems)


def test_a_scan_step_in_the_model() -> None:
    step = PointsStep.model_validate(_laser(intensities=[0.01, 0.02, 0.04]))
    assert step.dwells() == (60.0, 60.0, 60.0) and step.point_s == 180.0 and step.runs == 3
    assert step.scan_args() == {"intensities": [0.01, 0.02, 0.04], "dwell_s": [60.0] * 3}
    own = PointsStep.model_validate(
        _laser(
            intensities=[0.01, 0.02],
            dwell_s=[10.0, 30.0],
            rate_hz=50.0,
            points=[{"z_m": 5.0}, {"z_m": 0.0}],
        )
    )
    assert (
        own.point_s == 40.0
        and own.runs == 4
        and own.scan_args()
        == {
            "intensities": [0.01, 0.02],
            "dwell_s": [10.0, 30.0],
            "rate_hz": 50.0,
        }
    )
    plain = PointsStep.model_validate(_laser())
    assert plain.scan_args() is None and plain.point_s == 60.0 and plain.runs == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"source": "AmC", "intensities": [0.1]}, "ACU laser steps only"),
        ({"intensities": [0.1], "dwell_s": [1.0, 2.0]}, "2 dwells for 1 intensities"),
        ({"dwell_s": [1.0]}, "belong to a laser scan"),
        ({"intensities": [0.1], "dwell_s": [0.0]}, "dwells > 0"),
        ({"intensities": []}, "at least 1"),
    ],
)
def test_bad_scan_steps(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PointsStep.model_validate(_laser(**extra))


def test_the_plan_carries_the_scan_and_times_it(
    settings: Settings, systems: dict[str, Subsystem]
) -> None:
    plan = _plan(settings, systems, _laser(intensities=[0.01, 0.02], dwell_s=[10.0, 30.0]))
    assert plan.problems == ()
    (point,) = [m for m in plan.moves if m.point is not None]
    assert point.scan == {"intensities": [0.01, 0.02], "dwell_s": [10.0, 30.0]}
    assert point.daq_s == 40.0 and plan.daq_s() == 40.0
    assert plan.eta_s() == pytest.approx(plan.motion_s() + 40.0)
    assert plan.as_dict()["moves"][0]["scan"] == point.scan


def test_the_plan_checks_the_scan_against_the_laser(
    settings: Settings, systems: dict[str, Subsystem]
) -> None:
    plan = _plan(settings, systems, _laser(intensities=[0.5e-4, 0.1], rate_hz=5000.0))
    assert any("laser scan): out_of_range: rate_hz 5000.0" in p for p in plan.problems), plan
    plan = _plan(settings, systems, _laser(intensities=[0.5e-4]))
    assert any("out_of_range: intensity 5e-05 outside" in p for p in plan.problems), plan
