"""calibctl's action table against the daemon's ACTIONS, and the command line -> the command."""

from __future__ import annotations

from typing import Any

import pytest

from calibd.core.dispatcher import GLOBAL_ACTIONS, PROGRAM_ACTIONS
from calibd.core.subsystem import Subsystem
from calibd.ctl.actions import GLOBAL, PROGRAM, SYSTEMS
from calibd.ctl.cli import request
from calibd.ctl.errors import USAGE, CtlError
from calibd.ctl.parser import parse, parse_kv
from calibd.ctl.run import Request
from calibd.subsystems.acu import Acu
from calibd.subsystems.cls import Cls
from calibd.subsystems.gt import Gt
from calibd.subsystems.house import House
from calibd.subsystems.rov import Rov

DAEMON: dict[str, type[Subsystem]] = {
    "acu": Acu,
    "cls1": Cls,
    "cls2": Cls,
    "gt": Gt,
    "rov": Rov,
    "house": House,
}


@pytest.mark.parametrize("system", sorted(DAEMON))
def test_every_daemon_action_is_a_subcommand_with_its_args(system: str) -> None:
    daemon = DAEMON[system].ACTIONS
    ours = {a.name: a for a in SYSTEMS[system]}
    assert set(ours) == set(daemon), system
    for name, spec in daemon.items():
        action = ours[name]
        assert action.expert == spec.expert, (system, name)
        fields = spec.args.model_fields
        keys = {a.key for a in action.args}
        required = {k for k, f in fields.items() if f.is_required()}
        assert required <= {a.key for a in action.args if a.required}, (system, name)
        if system == "acu" or not spec.expert:
            assert keys == set(fields), (system, name)
        else:  # `unit` of mount/unmount is for the acu only (bad_request elsewhere)
            assert keys == set(fields) - {"unit"}, (system, name)


def test_global_and_program_actions_are_the_dispatchers() -> None:
    assert {a.name for a in GLOBAL} | {f"program.{a.name}" for a in PROGRAM} == set(GLOBAL_ACTIONS)
    assert {f"program.{a.name}" for a in PROGRAM} == set(PROGRAM_ACTIONS)


def _req(*argv: str) -> Request:
    return request(parse(list(argv)))


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["acu", "home"], Request("acu", "home", {})),
        (["acu", "select", "--unit", "A"], Request("acu", "select", {"unit": "A"})),
        (
            ["acu", "deploy", "--unit", "A", "--z", "5"],
            Request("acu", "deploy", {"unit": "A", "z_m": 5.0}),
        ),
        (["acu", "move", "--z-m", "-3.5"], Request("acu", "move", {"z_m": -3.5})),
        (
            ["cls1", "deploy", "--x", "2", "--z", "-3"],
            Request("cls1", "deploy", {"x_m": 2.0, "z_m": -3.0}),
        ),
        (["gt", "deploy", "--theta", "90"], Request("gt", "deploy", {"theta_deg": 90.0})),
        (
            ["rov", "move", "--x", "1", "--y", "-2", "--z", "3"],
            Request("rov", "move", {"x_m": 1.0, "y_m": -2.0, "z_m": 3.0}),
        ),
        (["house", "reset"], Request("house", "reset", {})),
        (["estop"], Request(None, "estop", {})),
        (["reset"], Request(None, "reset", {})),
        (
            ["--expert", "acu", "mount", "--source", "AmC-9", "--unit", "C"],
            Request("acu", "mount", {"source": "AmC-9", "unit": "C"}, expert=True),
        ),
        (
            ["expert", "cls2", "override", "--accept", "unknown"],
            Request("cls2", "override", {"accept": "unknown"}, expert=True),
        ),
        (
            ["expert", "house", "register", "--source", "T-1", "--kind", "AmC", "--no-radioactive"],
            Request(
                "house",
                "register",
                {"source": "T-1", "kind": "AmC", "radioactive": False},
                expert=True,
            ),
        ),
        (["cmd", "acu", "move", "z_m=-5"], Request("acu", "move", {"z_m": -5})),
        (["cmd", "-", "estop"], Request(None, "estop", {})),
        (
            ["--expert", "cmd", "acu", "unmount", "unit=A"],
            Request("acu", "unmount", {"unit": "A"}, expert=True),
        ),
    ],
)
def test_command_line_to_command(argv: list[str], expected: Request) -> None:
    assert _req(*argv) == expected


def test_maintenance_action_needs_expert() -> None:
    with pytest.raises(CtlError, match="calibctl --expert acu mount") as info:
        _req("acu", "mount", "--source", "AmC-1", "--unit", "A")
    assert info.value.exit_code == USAGE


def test_options_after_the_subcommand() -> None:
    ns = parse(["acu", "home", "--no-wait", "--timeout", "7", "--json", "--root", "x/y"])
    assert (ns.no_wait, ns.timeout, ns.json, ns.root) == (True, 7.0, True, "x/y")
    ns = parse(["--operator", "shifter", "status", "acu"])
    assert (ns.operator, ns.system, ns.no_wait, ns.progress) == ("shifter", "acu", False, None)


@pytest.mark.parametrize(
    "argv",
    [
        ["acu", "deploy", "--unit", "A"],  # --z missing
        ["acu", "fly"],
        ["cls1", "deploy", "--x", "two", "--z", "1"],
        ["expert", "acu", "home"],  # not a maintenance action
        ["expert", "cls1", "override", "--accept", "maybe"],
        [],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        parse(argv)
    assert info.value.code == 2
    assert "usage: calibctl" in capsys.readouterr().err


def test_program_run_takes_a_name() -> None:
    ns = parse(["program", "run", "weekly", "--wait"])
    assert (ns.job, ns.verb, ns.arg_program, ns.wait) == ("program", "run", "weekly", True)
    ns = parse(["program", "status", "--json"])
    assert (ns.job, ns.json) == ("program-status", True)


def test_parse_kv() -> None:
    got: dict[str, Any] = parse_kv(["z_m=-5", 'unit="A"', "source=AmC-1", "flag=true"])
    assert got == {"z_m": -5, "unit": "A", "source": "AmC-1", "flag": True}
    with pytest.raises(ValueError, match="not key=value"):
        parse_kv(["z_m"])
