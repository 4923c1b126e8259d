"""The shipped programs (config/programs/*.toml): Table 2 of the calibration strategy, and every
point of every program passes the plan's checks against config/sim.toml."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from pathlib import Path

import pytest

from calibd.assembly import build
from calibd.buses import Buses
from calibd.config import Settings, load_config
from calibd.core.outbox import Outbox
from calibd.program.model import PointsStep, Program, family, load_program
from calibd.program.plan import Plan
from calibd.program.planner import make_plan
from calibd.program.sources import seeded

ROOT = Path(__file__).resolve().parents[3]
PROGRAMS = ROOT / "config" / "programs"

#: Table 2 (domain.md §7): (source kind, systems) -> (points, DAQ minutes in all)
TABLE_2: dict[str, dict[tuple[str, str], tuple[int, float]]] = {
    "weekly": {("AmC", "acu"): (5, 5), ("laser", "acu"): (10, 20)},
    "monthly": {
        ("AmC", "acu"): (27, 27),
        ("laser", "acu"): (27, 54),
        ("AmC", "cls"): (40, 40),
        ("AmC", "gt"): (23, 23),
    },
    "comprehensive": {
        ("AmC", "acu+cls+gt"): (250, 1262),
        ("AmBe", "acu"): (1, 17),
        ("laser", "acu"): (10, 333),
        ("Ge68", "acu"): (1, 17),
        ("Cs137", "acu"): (1, 17),
        ("Mn54", "acu"): (1, 17),
        ("Co60", "acu"): (1, 17),
        ("K40", "acu"): (1, 100),
    },
}


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_config(ROOT / "config" / "sim.toml")


@pytest.fixture(scope="module")
def plans(settings: Settings) -> dict[str, Plan]:
    systems = build(settings, Buses(), Outbox(16))
    return {
        name: make_plan(load_program(name, PROGRAMS), settings, seeded(settings), systems)
        for name in TABLE_2
    }


def _totals(program: Program) -> dict[tuple[str, str], list[float]]:
    """DAQ runs (Table 2's "points") and DAQ minutes per (source kind, system family)."""
    acc: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0])
    for step in program.steps:
        if isinstance(step, PointsStep):
            key = (step.source, family(step.system))
            acc[key][0] += step.runs  # a laser scan: one run per point and intensity
            acc[key][1] += step.point_s * len(step.points) / 60
    return acc


def _path_m(points: list[tuple[float, float]]) -> float:
    return sum(math.dist(a, b) for a, b in itertools.pairwise(points))


def test_the_programs_dir_holds_the_three_programs(settings: Settings) -> None:
    assert sorted(p.stem for p in PROGRAMS.glob("*.toml")) == sorted(TABLE_2)
    assert (ROOT / settings.program.dir).resolve() == PROGRAMS.resolve()


@pytest.mark.parametrize("name", sorted(TABLE_2))
def test_points_and_daq_time_are_table_2(name: str) -> None:
    program = load_program(name, PROGRAMS)
    assert program.name == name
    totals = _totals(program)
    covered = set()
    for (kind, families), (points, minutes) in TABLE_2[name].items():
        keys = [(kind, f) for f in families.split("+")]
        assert all(k in totals for k in keys), (kind, families)
        covered.update(keys)
        assert sum(totals[k][0] for k in keys) == points, (kind, families)
        assert sum(totals[k][1] for k in keys) == pytest.approx(minutes, abs=1e-9)
    assert set(totals) == covered


@pytest.mark.parametrize("name", sorted(TABLE_2))
def test_every_point_passes_every_check_against_the_sim_config(
    plans: dict[str, Plan], name: str
) -> None:
    plan = plans[name]
    assert plan.problems == ()
    points = [m for m in plan.moves if m.point is not None]
    assert len(points) == plan.program.points
    assert all(m.motion_s > 0 for m in plan.moves if m.action in ("deploy", "retract"))
    assert plan.eta_s() > plan.program.daq_s


@pytest.mark.parametrize("name", sorted(TABLE_2))
def test_points_are_ordered_to_keep_the_travel_short(name: str) -> None:
    """ACU top to bottom, GT from the garage down, CLS grids as a serpentine."""
    for step in load_program(name, PROGRAMS).steps:
        if not isinstance(step, PointsStep):
            continue
        kind = family(step.system)
        if kind == "acu":
            z = [p["z_m"] for p in step.points]
            assert z == sorted(z, reverse=True), step
        elif kind == "gt":
            theta = [p["theta_deg"] for p in step.points]
            assert theta == sorted(theta), step
        elif kind == "cls":
            # a serpentine: much shorter than a raster (every column from the top)
            path = [(p["x_m"], p["z_m"]) for p in step.points]
            raster = sorted(path, key=lambda p: (abs(p[0]), -p[1]))
            assert sorted(path) == sorted(raster)
            assert _path_m(path) < 0.75 * _path_m(raster), step.system


def test_the_comprehensive_program_swaps_sources_and_puts_the_standard_ones_back(
    plans: dict[str, Plan],
) -> None:
    plan = plans["comprehensive"]
    mounts = [(m.args["unit"], m.source) for m in plan.moves if m.action == "mount"]
    assert mounts == [
        ("B", "Cs137"),
        ("B", "Mn54"),
        ("B", "K40"),
        ("A", "AmBe"),
        ("B", "Co60"),
        ("A", "AmC"),
    ]
    units = {
        m.source: m.args["unit"] for m in plan.moves if m.action == "deploy" and m.system == "acu"
    }
    assert units == {
        "AmC": "A",
        "laser": "D",
        "Ge68": "C",
        "Co60": "B",
        "Cs137": "B",
        "Mn54": "B",
        "K40": "B",
        "AmBe": "A",
    }
