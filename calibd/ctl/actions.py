"""The actions calibctl offers as subcommands, as data: per system, each action with its
arguments (command-line flags -> payload keys, e.g. `--z` -> `z_m`), whether it is a
maintenance (expert) action, and the global and program commands. It mirrors the daemon's
ACTIONS tables (docs/mqtt-api.md); tests/unit/test_ctl_actions.py holds the two together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Arg:
    key: str  # the payload key
    flags: tuple[str, ...]  # the command-line flags, the first one shown in help
    help: str
    type: Callable[[str], Any] = str
    required: bool = True
    choices: tuple[str, ...] | None = None
    boolean: bool = False  # --flag / --no-flag

    @property
    def dest(self) -> str:
        return f"arg_{self.key}"


@dataclass(frozen=True)
class Action:
    name: str
    help: str
    args: tuple[Arg, ...] = ()
    expert: bool = False  # a maintenance action: {root}/{system}/expert/cmd

    def payload(self, values: dict[str, Any]) -> dict[str, Any]:
        """The command's `args` from parsed options (`Arg.dest` -> value; None = omitted)."""
        return {a.key: values[a.dest] for a in self.args if values.get(a.dest) is not None}


def _floats(text: str) -> list[float]:
    """A comma-separated list of numbers, e.g. `0.01,0.02,0.04`."""
    return [float(v) for v in text.split(",") if v.strip()]


def _one_or_many(text: str) -> float | list[float]:
    """One number, or a comma-separated list of them."""
    values = _floats(text)
    return values[0] if len(values) == 1 else values


UNIT = Arg("unit", ("--unit",), "the spool unit (A-D)")
RATE = Arg("rate_hz", ("--rate", "--rate-hz"), "pulse rate, Hz", float, required=False)
X = Arg("x_m", ("--x", "--x-m"), "x in metres (detector frame)", float)
Y = Arg("y_m", ("--y", "--y-m"), "y in metres (detector frame)", float)
Z = Arg("z_m", ("--z", "--z-m"), "z in metres (detector frame, up)", float)
THETA = Arg("theta_deg", ("--theta", "--theta-deg"), "polar angle in degrees", float)
SOURCE = Arg("source", ("--source",), "the source id, e.g. AmC-1")

COMMON = (
    Action("status", "re-publish the status"),
    Action("stop", "stop every drive (always heard)"),
    Action("reset", "leave FAULT once the cause is gone"),
    Action("home", "reference every axis (parked)"),
)
_RETRACT = Action("retract", "back to parked, gate valve closed")


def _deployment(*motions: Action, acu: bool = False) -> tuple[Action, ...]:
    unit = (UNIT,) if acu else ()  # the acu's mount/unmount name the unit
    return (
        *COMMON,
        *motions,
        _RETRACT,
        Action(
            "override",
            "accept the drives' readings or UNKNOWN after a position_mismatch",
            (Arg("accept", ("--accept",), "drive | unknown", choices=("drive", "unknown")),),
            expert=True,
        ),
        Action("mount", "mount a source (system parked)", (SOURCE, *unit), expert=True),
        Action("unmount", "unmount the source (to checked_out)", unit, expert=True),
    )


def _point(*args: Arg) -> tuple[Action, Action]:
    return (
        Action("deploy", "lower the source to the point", args),
        Action("move", "move to another point", args),
    )


_CLS = _deployment(*_point(X, Z))

SYSTEMS: dict[str, tuple[Action, ...]] = {
    "acu": _deployment(
        Action("select", "turn the turntable to a unit", (UNIT,)),
        Action("deploy", "select the unit, open the valve, lower to z", (UNIT, Z)),
        Action("move", "move the source under the port to z", (Z,)),
        Action(
            "laser_on",
            "UV laser on at an intensity (1e-4..1)",
            (Arg("intensity", ("--intensity",), "relative transmission", float), RATE),
        ),
        Action("laser_off", "UV laser off (ends a scan)"),
        Action(
            "laser_scan",
            "UV laser: each intensity for its dwell, then off",
            (
                Arg("intensities", ("--intensities",), "comma-separated", _floats),
                Arg("dwell_s", ("--dwell", "--dwell-s"), "one, or one per step", _one_or_many),
                RATE,
            ),
        ),
        Action(
            "profile",
            "temperature profile: the sensor's unit from z-from to z-to, slowly",
            (
                Arg("z_from_m", ("--z-from", "--z-from-m"), "start height, m", float),
                Arg("z_to_m", ("--z-to", "--z-to-m"), "end height, m", float),
                Arg(
                    "speed_m_s", ("--speed", "--speed-m-s"), "speed of the sampled leg, m/s", float
                ),
            ),
        ),
        acu=True,
    ),
    "cls1": _CLS,
    "cls2": _CLS,
    "gt": _deployment(*_point(THETA)),
    "rov": _deployment(*_point(X, Y, Z)),
    "house": (
        *COMMON,
        Action(
            "register",
            "register a new source (in_stock)",
            (
                SOURCE,
                Arg("kind", ("--kind",), "the kind of source, e.g. AmC"),
                Arg("activity_bq", ("--activity-bq",), "activity in Bq", float, required=False),
                Arg(
                    "radioactive",
                    ("--radioactive",),
                    "radioactive (default yes)",
                    required=False,
                    boolean=True,
                ),
            ),
            expert=True,
        ),
        *(
            Action(name, what, (SOURCE,), expert=True)
            for name, what in (
                ("checkout", "in_stock -> checked_out"),
                ("return", "checked_out -> in_stock"),
                ("deactivate", "-> inactive"),
                ("reactivate", "inactive -> in_stock"),
            )
        ),
    ),
}

#: global commands on {root}/cmd (no args)
GLOBAL = (
    Action("estop", "latch the global e-stop: every deployment system trips"),
    Action("reset", "release the e-stop latch and reset every system in FAULT"),
)

#: `calibctl program ...` -> global `program.<name>`
PROGRAM = (
    Action(
        "run",
        "run a program",
        (Arg("program", ("program",), "a name in the programs dir or a path"),),
    ),
    Action("pause", "pause at the next safe point (after the current dwell)"),
    Action("resume", "resume a paused or suspended program"),
    Action("abort", "stop and retract"),
)


def find(system: str, action: str) -> Action | None:
    return next((a for a in SYSTEMS.get(system, ()) if a.name == action), None)
