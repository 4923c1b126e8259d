"""The plan of a program (calibd/program/plan.py, eta.py, sources.py, plan_cli.py): its moves,
every problem it finds, the motion-time model against closed forms and the simulated drive,
the offline inventory and `calibd program plan`."""

from __future__ import annotations

import argparse
import json
import math
import socket
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from calibd.assembly import build
from calibd.buses import Buses
from calibd.config import Settings, load_config
from calibd.core.outbox import Outbox
from calibd.core.subsystem import Subsystem
from calibd.devbroker import private_config
from calibd.program import planner as plan_module
from calibd.program.estimators import estimator
from calibd.program.eta import drive_s, jog_s, profile_s
from calibd.program.model import Program
from calibd.program.plan import Plan, hms
from calibd.program.plan_cli import run_plan
from calibd.program.planner import make_plan
from calibd.program.sources import SourcesError, offline_sources, seeded
from calibd.store.db import FILENAME
from calibd.store.inventory_rules import SourceRecord
from simulators.motion import plan_jog, plan_move

ROOT = Path(__file__).resolve().parents[3]
SIM_TOML = ROOT / "config" / "sim.toml"


@pytest.fixture(scope="module")
def settings() -> Settings:
    """config/sim.toml at time_scale 1 (the poll lag of every wait is then 20 ms)."""
    base = load_config(SIM_TOML)
    return base.model_copy(update={"sim": base.sim.model_copy(update={"time_scale": 1.0})})


@pytest.fixture(scope="module")
def systems(settings: Settings) -> dict[str, Subsystem]:
    return build(settings, Buses(), Outbox(16))


def _program(*steps: dict[str, Any]) -> Program:
    return Program.model_validate({"name": "t", "steps": list(steps)})


def _acu(source: str, *z: float, **extra: Any) -> dict[str, Any]:
    return {
        "system": "acu",
        "source": source,
        "daq_s": 60.0,
        "points": [{"z_m": v} for v in z],
    } | extra


def _plan(
    settings: Settings, systems: dict[str, Subsystem], *steps: dict[str, Any], **kw: Any
) -> Plan:
    return make_plan(_program(*steps), settings, seeded(settings), systems, **kw)


# ---- moves ----------------------------------------------------------------------------------


def test_a_points_step_deploys_moves_and_retracts(
    settings: Settings, systems: dict[str, Subsystem]
) -> None:
    plan = _plan(settings, systems, _acu("AmC", 15.0, 0.0, -15.0))
    assert plan.problems == ()
    assert [(m.action, m.point, m.args) for m in plan.moves] == [
        ("deploy", 0, {"unit": "A", "z_m": 15.0}),  # the unit carrying AmC (inventory)
        ("move", 1, {"z_m": 0.0}),
        ("move", 2, {"z_m": -15.0}),
        ("retract", None, {}),
    ]
    assert [m.daq_s for m in plan.moves] == [60.0, 60.0, 60.0, 0.0]
    assert {(m.step, m.system, m.source) for m in plan.moves} == {(0, "acu", "AmC")}
    assert plan.eta_s() == pytest.approx(sum(m.motion_s + m.daq_s for m in plan.moves))
    assert plan.eta_s(2) == pytest.approx(sum(m.motion_s + m.daq_s for m in plan.moves[2:]))
    # down 8 m, 15 m, 15 m and up 38 m of cable (plus the cable's stretch)
    assert plan.travel() == {"acu.A": pytest.approx(76.0, abs=0.01)}


def test_a_mount_step_pauses_and_changes_what_is_mounted(
    settings: Settings, systems: dict[str, Subsystem]
) -> None:
    plan = _plan(
        settings,
        systems,
        {"kind": "mount", "system": "acu", "unit": "B", "source": "Cs137"},
        _acu("Cs137", 0.0),
        _acu("Co60", 0.0),
    )
    mount = plan.moves[0]
    assert (mount.action, mount.args, mount.motion_s, mount.daq_s, mount.point) == (
        "mount",
        {"unit": "B", "source": "Cs137"},
        0.0,
        0.0,
        None,
    )
    assert "Cs137" in mount.message and "unit B" in mount.message
    assert plan.moves[1].args == {"unit": "B", "z_m": 0.0}
    # the Co60 that was on B came off for the Cs137: nothing carries Co60 any more
    assert plan.problems == ("step 3 (acu Co60): no unit of acu carries Co60",)


def test_a_mount_needs_a_spare_source_of_that_kind(
    settings: Settings, systems: dict[str, Subsystem]
) -> None:
    plan = _plan(
        settings, systems, {"kind": "mount", "system": "acu", "unit": "B", "source": "U235"}
    )
    assert plan.problems == (
        "step 1 (acu U235): no U235 source to mount (none in stock or checked out)",
    )
    plan = _plan(settings, systems, {"kind": "mount", "system": "acu", "source": "K40"})
    assert plan.problems == ("step 1 (acu K40): mount needs a unit of A, B, C, D",)


# ---- problems -------------------------------------------------------------------------------


def test_every_point_outside_the_limits_is_a_problem_naming_it(
    settings: Settings, systems: dict[str, Subsystem]
) -> None:
    plan = _plan(
        settings,
        systems,
        _acu("AmC", 5.0, 20.0, -18.0),
        {"system": "gt", "source": "AmC", "daq_s": 1.0, "points": [{"theta_deg": 179.0}]},
        {"system": "cls1", "source": "AmC", "daq_s": 1.0, "points": [{"x_m": -3.0, "z_m": 0.0}]},
    )
    assert plan.problems == (
        "step 1 point 2 (acu z_m=20): out_of_range: z_m 20.0 outside [-17.4, 17.4]",
        "step 1 point 3 (acu z_m=-18): out_of_range: z_m -18.0 outside [-17.4, 17.4]",
        "step 2 point 1 (gt theta_deg=179): out_of_range: theta_deg 179.0 outside [3.0, 177.0]",
        "step 3 point 1 (cls1 x_m=-3 z_m=0): out_of_range:"
        " (-3.0, 0.0) is not in this loop's half-plane (x > 0)",
    )
    # every move is still listed (the plan shows what would run); refused ones are not timed
    assert [m.motion_s > 0 for m in plan.moves[:4]] == [True, False, False, True]


def test_sources_must_be_mounted_where_the_step_needs_them(
    settings: Settings, systems: dict[str, Subsystem]
) -> None:
    plan = _plan(
        settings,
        systems,
        _acu("K40", 0.0),
        _acu("AmC", 0.0, unit="B"),
        {"system": "gt", "source": "laser", "daq_s": 1.0, "points": [{"theta_deg": 90.0}]},
    )
    assert plan.problems == (
        "step 1 (acu K40): no unit of acu carries K40",
        "step 2 (acu AmC): unit B carries Co60 (Co60-1), not AmC",
        "step 3 (gt laser): gt carries AmC (AmC-4), not laser",
    )


def test_two_units_with_the_kind_need_an_explicit_unit(
    settings: Settings, systems: dict[str, Subsystem]
) -> None:
    sources = [
        SourceRecord("a1", "AmC", None, True, "acu_in_use", "acu", "A", ""),
        SourceRecord("a2", "AmC", None, True, "acu_in_use", "acu", "C", ""),
    ]
    program = _program(_acu("AmC", 0.0))
    plan = make_plan(program, settings, sources, systems)
    assert plan.problems == ("step 1 (acu AmC): units A, C (set `unit`) of acu carries AmC",)
    program = _program(_acu("AmC", 0.0, unit="C"))
    assert make_plan(program, settings, sources, systems).moves[0].args["unit"] == "C"


def test_unconfigured_systems_and_valves_are_problems(
    settings: Settings, systems: dict[str, Subsystem]
) -> None:
    step = {"system": "cls2", "source": "AmC", "daq_s": 1.0, "points": [{"x_m": -3.0, "z_m": 0.0}]}
    no_cls2 = settings.model_copy(update={"cls2": None})
    fewer = {k: v for k, v in systems.items() if k != "cls2"}
    plan = make_plan(_program(step), no_cls2, seeded(settings), fewer)
    assert plan.problems == ("step 1 (cls2 AmC): system cls2 is not configured",)
    assert plan.moves == ()
    house = settings.house.model_copy(update={"valves": {"cls1": 1}})
    plan = make_plan(
        _program(step), settings.model_copy(update={"house": house}), seeded(settings), systems
    )
    assert plan.problems == (
        "step 1 (cls2 AmC): gate valve 'cls2' of cls2 is not in [house.valves]",
    )


def test_a_refused_path_is_a_problem(
    settings: Settings, systems: dict[str, Subsystem], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLS workspace of config/sim.toml is convex (every straight path between two good
    points is good): the path planner's refusal is checked with a model that refuses."""
    real = estimator

    def refusing(system: str, s: Settings, start: dict[str, Any] | None) -> Any:
        model = real(system, s, start)
        monkeypatch.setattr(
            model, "path_problem", lambda a, args: "blocked" if a == "move" else None
        )
        return model

    monkeypatch.setattr(plan_module, "estimator", refusing)
    step = {
        "system": "cls1",
        "source": "AmC",
        "daq_s": 1.0,
        "points": [{"x_m": 3.0, "z_m": 5.0}] * 2,
    }
    plan = make_plan(_program(step), settings, seeded(settings), systems)
    assert plan.problems == ("step 1 point 2 (cls1 x_m=3 z_m=5): out_of_range: blocked",)


# ---- the motion-time model ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dist", "speed", "accel"),
    [(10_000, 652, 652), (100, 652, 652), (652, 652, 652), (1, 5, 3), (123_456, 5689, 11378)],
)
def test_drive_profile_time_is_the_simulated_drives(dist: int, speed: int, accel: int) -> None:
    simulated = plan_move(0.0, 0.0, 0.0, float(dist), float(speed), float(accel)).end_s
    assert profile_s(dist, speed, accel) == pytest.approx(simulated, rel=1e-9)
    assert drive_s(dist / 4096, speed / 4096, accel / 4096, 4096) == pytest.approx(simulated)
    jog = plan_jog(0.0, 0.0, 0.0, -float(speed), float(accel))
    hit = jog.first_time_at(-float(dist), 0.0)
    assert hit is not None and jog_s(dist, speed, accel) == pytest.approx(hit, rel=1e-9)


def test_acu_moves_are_trapezoids_of_cable_at_the_configured_speed(
    settings: Settings, systems: dict[str, Subsystem]
) -> None:
    acu = settings.acu
    assert acu is not None
    lag_s = 1 / acu.poll_fast_hz  # time_scale 1
    v, a = acu.speed_m_s, acu.accel_m_s2
    valve_s = settings.program.valve_travel_s
    plan = _plan(settings, systems, _acu("AmC", 15.0, 14.98))
    deploy, move, retract = plan.moves
    # the first 9 m come off the outer layer: 8 m at exactly speed_m_s (stretch: < 1 mm)
    assert deploy.motion_s == pytest.approx(valve_s + 8.0 / v + v / a, abs=0.05 + 3 * lag_s)
    # 2 cm is shorter than v^2/a = 5 cm: a triangle
    assert move.motion_s == pytest.approx(2 * math.sqrt(0.02 / a), abs=0.01 + lag_s)
    assert retract.motion_s == pytest.approx(8.02 / v + v / a + valve_s, abs=0.05 + 3 * lag_s)
    # the laser is on unit D: the turntable turns 270 deg first (A is where homing leaves it)
    laser = _plan(settings, systems, _acu("laser", 15.0)).moves[0]
    tt = acu.turntable
    turn_s = 270.0 / tt.speed_deg_s + tt.speed_deg_s / tt.accel_deg_s2
    assert laser.motion_s - deploy.motion_s == pytest.approx(turn_s, abs=0.01 + lag_s)
    assert laser.travel == {"acu.turntable": 270.0, "acu.D": pytest.approx(8.0, abs=0.01)}
    # from a turntable already at D, no turn
    at_d = _plan(settings, systems, _acu("laser", 15.0), start={"acu": {"unit": "D"}}).moves[0]
    assert at_d.motion_s == pytest.approx(deploy.motion_s, abs=0.01)


def test_a_start_position_is_where_the_first_move_comes_from(
    settings: Settings, systems: dict[str, Subsystem]
) -> None:
    plan = _plan(settings, systems, _acu("AmC", 5.0), start={"acu": {"unit": "A", "z_m": 10.0}})
    assert plan.moves[0].travel == {"acu.A": pytest.approx(5.0, abs=0.01)}


def test_gt_moves_pull_the_cable_along_the_tube(
    settings: Settings, systems: dict[str, Subsystem]
) -> None:
    gt = settings.gt
    assert gt is not None
    step = {
        "system": "gt",
        "source": "AmC",
        "daq_s": 1.0,
        "points": [{"theta_deg": 30.0}, {"theta_deg": 60.0}],
    }
    deploy, move, retract = _plan(settings, systems, step).moves
    v, a = gt.speed_m_s, gt.accel_m_s2
    arc_m = gt.tube.radius_m * math.radians(30.0)
    # the set point's stretch and dancer stroke change the cable by a few cm: within 1 %
    assert move.motion_s == pytest.approx(arc_m / v + v / a, rel=0.01)
    assert move.travel["gt.top"] == pytest.approx(arc_m, rel=0.01)
    from_park_m = gt.tube.radius_m * math.radians(30.0 - gt.theta_park_deg)
    assert deploy.motion_s == pytest.approx(from_park_m / v + v / a, rel=0.01)
    assert retract.motion_s == pytest.approx((arc_m + from_park_m) / v + v / a, rel=0.01)


def test_a_cls_move_stops_at_every_waypoint(
    settings: Settings, systems: dict[str, Subsystem]
) -> None:
    cls = settings.cls1
    assert cls is not None
    points = [{"x_m": 5.0, "z_m": 0.0}, {"x_m": 5.0, "z_m": 0.2}, {"x_m": 5.0, "z_m": 2.2}]
    step = {"system": "cls1", "source": "AmC", "daq_s": 1.0, "points": points}
    _, one, ten = _plan(settings, systems, step).moves[:3]
    ramp_s = cls.speed_m_s / cls.accel_m_s2
    # 2 m is ten waypoints of 0.2 m: ten ramps, ten times the one-waypoint move
    assert ten.motion_s == pytest.approx(10 * one.motion_s, rel=0.03)
    assert one.motion_s > ramp_s + 0.1 / cls.speed_m_s
    assert set(one.travel) == {"cls1.central", "cls1.side"}


def test_rov_steps_are_checked_and_timed_roughly(
    settings: Settings, systems: dict[str, Subsystem]
) -> None:
    rov = settings.rov
    assert rov is not None
    points = [{"x_m": 0.0, "y_m": 0.0, "z_m": 10.0}, {"x_m": 0.0, "y_m": 0.0, "z_m": 30.0}]
    step = {"system": "rov", "source": "Co60", "daq_s": 1.0, "points": points}
    plan = _plan(settings, systems, step)
    assert len(plan.problems) == 1
    assert plan.problems[0].startswith("step 1 point 2 (rov x_m=0 y_m=0 z_m=30): out_of_range:")
    deploy, _, retract = plan.moves
    # down the chimney on the winch, then 6.5 m at the vehicle's top speed, then settling
    lower_s = (rov.z_park_m - rov.z_launch_m) / rov.winch_speed_m_s
    assert deploy.motion_s > lower_s + (rov.z_launch_m - 10.0) / rov.speed_max_m_s + rov.settle_s
    assert retract.travel["rov.vehicle"] == pytest.approx(rov.z_launch_m - 10.0)


# ---- the plan as data and text ----------------------------------------------------------------


def test_the_plan_is_json_and_a_table(settings: Settings, systems: dict[str, Subsystem]) -> None:
    plan = _plan(settings, systems, _acu("AmC", 15.0, 99.0))
    doc = json.loads(json.dumps(plan.as_dict()))
    assert doc["runnable"] is False and doc["points"] == 2
    assert doc["eta_s"] == pytest.approx(plan.eta_s(), abs=0.1)
    assert doc["daq_s"] == 120.0
    assert [m["action"] for m in doc["moves"]] == ["deploy", "move", "retract"]
    assert doc["problems"] == list(plan.problems)
    text = plan.render()
    assert f"= {hms(plan.eta_s())}" in text
    assert "acu.A" in text and "1 problem(s):" in text and plan.problems[0] in text
    assert hms(3600 * 30 + 61.4) == "30:01:01"


# ---- the inventory outside the daemon -------------------------------------------------------


def _store(path: Path, rows: list[tuple[Any, ...]]) -> None:
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE sources (id TEXT PRIMARY KEY, kind TEXT NOT NULL, activity_bq REAL,"
        " radioactive INTEGER NOT NULL, state TEXT NOT NULL, system TEXT, unit TEXT,"
        " updated TEXT NOT NULL)"
    )
    conn.executemany("INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.commit()
    conn.close()


def test_the_inventory_is_the_store_read_only_else_the_seed(
    settings: Settings, tmp_path: Path
) -> None:
    local = settings.model_copy(
        update={"state": settings.state.model_copy(update={"dir": tmp_path})}
    )
    seed = offline_sources(local)
    assert {(r.id, r.system, r.unit, r.state) for r in seed} >= {
        ("AmC-1", "acu", "A", "acu_in_use"),
        ("AmC-2", "cls1", None, "cls_in_use"),
        ("Cs137-1", None, None, "in_stock"),
    }
    db = tmp_path / FILENAME
    _store(db, [("K40-9", "K40", 1.0, 1, "acu_in_use", "acu", "A", "2026-01-01T00:00:00Z")])
    before = db.read_bytes()
    records = offline_sources(local)
    assert [(r.id, r.kind, r.system, r.unit, r.radioactive) for r in records] == [
        ("K40-9", "K40", "acu", "A", True)
    ]
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [FILENAME]


def test_an_unreadable_store_is_an_error_naming_it(settings: Settings, tmp_path: Path) -> None:
    local = settings.model_copy(
        update={"state": settings.state.model_copy(update={"dir": tmp_path})}
    )
    (tmp_path / FILENAME).write_bytes(b"not a database at all" * 100)
    with pytest.raises(SourcesError, match=FILENAME):
        offline_sources(local)


# ---- `calibd program plan` ------------------------------------------------------------------


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = private_config(SIM_TOML, tmp_path)
    text = path.read_text().replace('dir = "config/programs"', f'dir = "{ROOT}/config/programs"')
    path.write_text(text)
    return path


BAD_HEAD = 'name = "bad"\n[[steps]]\nsystem = "acu"\nsource = "AmC"\n'


def _cli(file: str, config: Path | None, *, as_json: bool = False) -> int:
    return run_plan(argparse.Namespace(file=file, config=config, json=as_json))


def test_the_command_plans_without_connecting_anything(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any) -> None:
        raise AssertionError(f"connect {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    assert _cli("weekly", config) == 0
    out = capsys.readouterr().out
    assert "program weekly" in out and "ETA: motion" in out and "no problems: runnable" in out
    assert "wall time at [sim] time_scale 20: " in out  # private_config keeps sim.toml's 20
    assert _cli("weekly", config, as_json=True) == 0
    doc = json.loads(capsys.readouterr().out)
    # 5 AmC points and the laser's one (its 10-intensity scan)
    assert (doc["program"], doc["points"], doc["runnable"]) == ("weekly", 6, True)
    scan = next(m["scan"] for m in doc["moves"] if m["scan"] is not None)
    assert len(scan["intensities"]) == len(scan["dwell_s"]) == 10
    assert doc["eta_s"] == pytest.approx(doc["motion_s"] + doc["daq_s"], abs=0.2)


def test_the_command_exits_1_with_problems_and_2_when_unreadable(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(BAD_HEAD + "daq_s = 1\npoints = [{ z_m = 30.0 }]\n")
    assert _cli(str(bad), config) == 1
    assert "step 1 point 1 (acu z_m=30): out_of_range" in capsys.readouterr().out
    bad.write_text(
        'name = "bad"\n[[steps]]\nsystem = "acu"\nsource = "AmC"\npoints = [{ x_m = 1.0 }]\n'
    )
    assert _cli(str(bad), config) == 2
    err = capsys.readouterr().err
    assert "steps[1].daq_s: Field required" in err and "steps[1]: point 1:" not in err
    assert _cli("no-such-program", config) == 2
    assert "no such program" in capsys.readouterr().err
    assert _cli("weekly", None) == 2
    assert "--config" in capsys.readouterr().err
    assert _cli("weekly", tmp_path / "missing.toml") == 2
    assert "config error" in capsys.readouterr().err
