"""The program file model (calibd/program/model.py): what a program file may say, and every
problem of a bad one reported with its TOML path."""

from __future__ import annotations

from pathlib import Path

import pytest

from calibd.program.model import (
    MountStep,
    PointsStep,
    ProgramError,
    family,
    load_program,
    resolve,
)

GOOD = """
name = "t1"
title = "a test"

[[steps]]
system = "acu"
source = "AmC"
daq_s = 60
points = [{ z_m = 1 }, { z_m = -2.5 }]

[[steps]]
kind = "mount"
system = "acu"
unit = "B"
source = "Cs137"
message = "swap it"

[[steps]]
system = "cls1"
source = "AmC"
daq_s = 30.0
points = [{ x_m = 2.0, z_m = 3.0 }]
"""


def _write(tmp_path: Path, text: str, name: str = "p.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ProgramError) as info:
        load_program(_write(tmp_path, text))
    assert str(info.value) == "; ".join(info.value.problems)
    return info.value.problems


def test_a_good_program_parses_into_points_and_mount_steps(tmp_path: Path) -> None:
    program = load_program(_write(tmp_path, GOOD))
    assert program.name == "t1"
    first, mount, cls = program.steps
    assert isinstance(first, PointsStep) and isinstance(mount, MountStep)
    assert isinstance(cls, PointsStep)
    assert first.points == ({"z_m": 1.0}, {"z_m": -2.5})
    assert all(isinstance(v, float) for p in first.points for v in p.values())
    assert (mount.unit, mount.source, mount.message) == ("B", "Cs137", "swap it")
    assert program.points == 3
    assert program.daq_s == 2 * 60.0 + 30.0


def test_a_name_resolves_in_the_programs_dir_and_a_path_as_is(tmp_path: Path) -> None:
    _write(tmp_path, GOOD, "weekly.toml")
    assert resolve("weekly", tmp_path) == tmp_path / "weekly.toml"
    assert resolve("x/y.toml", tmp_path) == Path("x/y.toml")
    assert resolve("other.toml", tmp_path) == Path("other.toml")
    assert load_program("weekly", tmp_path).name == "t1"


def test_family_strips_the_instance_number() -> None:
    assert [family(s) for s in ("acu", "cls1", "cls2", "gt", "rov")] == [
        "acu",
        "cls",
        "cls",
        "gt",
        "rov",
    ]


def test_every_problem_is_reported_with_its_toml_path(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        """
name = "bad name!"
extra = 1
[[steps]]
system = "xyz"
source = ""
daq_s = -1
points = []
[[steps]]
kind = "teleport"
system = "acu"
""",
    )
    joined = "\n".join(problems)
    for where in ("name", "extra", "steps[1].system", "steps[1].source", "steps[1].daq_s"):
        assert any(p.startswith(f"{where}:") for p in problems), (where, joined)
    assert any(p.startswith("steps[1].points:") for p in problems), joined
    assert "steps[2]: kind is points or mount" in problems


def test_point_keys_must_match_the_system(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        """
name = "t"
[[steps]]
system = "cls2"
source = "AmC"
daq_s = 1
points = [{ x_m = 1, z_m = 1 }, { z_m = 2 }]
""",
    )
    assert problems == ["steps[1]: point 2: cls2 points have exactly x_m, z_m (got z_m)"]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_point_must_be_finite(tmp_path: Path, value: str) -> None:
    problems = _problems(
        tmp_path,
        f"""
name = "t"
[[steps]]
system = "gt"
source = "AmC"
daq_s = 1
points = [{{ theta_deg = 10 }}, {{ theta_deg = {value} }}]
""",
    )
    assert problems == ["steps[1]: point 2: theta_deg is not a finite number"]


def test_unit_is_for_acu_steps_and_mount_steps_take_no_daq(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        """
name = "t"
[[steps]]
system = "gt"
unit = "A"
source = "AmC"
daq_s = 1
points = [{ theta_deg = 5 }]
[[steps]]
kind = "mount"
system = "acu"
source = "K40"
daq_s = 3
""",
    )
    assert problems == [
        "steps[1]: `unit` is for ACU steps only",
        "steps[2].daq_s: Extra inputs are not permitted",
    ]


def test_daq_time_is_bounded(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        """
name = "t"
[[steps]]
system = "acu"
source = "AmC"
daq_s = 100000
points = [{ z_m = 0 }]
""",
    )
    assert len(problems) == 1 and problems[0].startswith("steps[1].daq_s:")


def test_a_program_has_steps(tmp_path: Path) -> None:
    assert _problems(tmp_path, 'name = "t"\nsteps = []\n') == [
        "program: a program has at least one step"
    ]


def test_unreadable_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ProgramError) as info:
        load_program("nope", tmp_path)
    assert info.value.problems == [f"{tmp_path / 'nope.toml'}: no such program"]
    problems = _problems(tmp_path, "name = \n")
    assert len(problems) == 1 and problems[0].startswith(f"{tmp_path / 'p.toml'}: ")
