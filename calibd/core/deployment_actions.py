"""The action table of a deployment system: `status`, `stop`, `reset`, its motions (with their
argument models) and the expert maintenance actions (`override`, `mount`, `unmount`), each in
the states its trigger leaves from; and where a reset leads."""

from __future__ import annotations

from typing import Any, Literal

from calibd.core.actions import ActionSpec, sources
from calibd.core.commands import Args, NoArgs

RESET_DESTINATIONS = frozenset({"UNKNOWN", "PARKED", "STOPPED"})


class OverrideArgs(Args):
    #: "drive": the drives' readings are right (they must still be homed); "unknown": the
    #: position is unknown (UNKNOWN: home before use)
    accept: Literal["drive", "unknown"]


class MountArgs(Args):
    source: str
    unit: str | None = None


class UnmountArgs(Args):
    unit: str | None = None


def action_table(
    states: list[str], transitions: list[dict[str, Any]], motions: dict[str, type[Args]]
) -> dict[str, ActionSpec]:
    """The ACTIONS of a deployment system: `status` and `stop` in every state, `reset` where
    the table defines it, each motion (with its argument model) in the states its trigger
    leaves from (`retract` also where `recover` leaves from: the slow retract out of a
    position mismatch), and the maintenance actions `override`, `mount`, `unmount`."""
    every = frozenset(states)
    table = {
        "status": ActionSpec(NoArgs, every, motion=False),
        "stop": ActionSpec(NoArgs, every, motion=False),
        "reset": ActionSpec(NoArgs, sources(transitions, "reset", states), motion=False),
        "override": ActionSpec(OverrideArgs, frozenset({"FAULT"}), motion=False, expert=True),
        "mount": ActionSpec(MountArgs, every, motion=False, expert=True),
        "unmount": ActionSpec(UnmountArgs, every, motion=False, expert=True),
    }
    for action, args in motions.items():
        allowed = sources(transitions, action, states)
        if action == "retract":
            allowed |= sources(transitions, "recover", states)
        table[action] = ActionSpec(args, allowed)
    return table
