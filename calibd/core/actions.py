"""The vocabulary of a subsystem's commands: a row of its action table (`ActionSpec`), the
states a trigger leaves from in a transition table (`sources`), what can refuse a command
whatever its table says (a latched `Fault`, the interlock board's `Gate`), and the types of an
action's handler and of how an accepted command ended (`Final`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from calibd.core.commands import Args, Command
from calibd.core.errors import CommandError, ErrorCode

Handler = Callable[[Command, Any], Awaitable[None]]
Check = Callable[[Any], None]


#: how an accepted command ended: its final result and the error it failed with
Final = tuple[str, CommandError | None]


@dataclass(frozen=True)
class ActionSpec:
    """One action of a subsystem: argument model, the FSM states it is allowed in, and whether
    it is a motion (motions are refused `busy` while another command runs)."""

    args: type[Args]
    states: frozenset[str]
    motion: bool = True
    #: a maintenance action: only on `{root}/{system}/expert/cmd` (else `unauthorized`)
    expert: bool = False


class Gate(Protocol):
    """Cross-system inhibits (the interlock board), consulted before a command is accepted."""

    def check(self, system: str, action: str, args: Any) -> None:
        """Raise CommandError(interlock) naming the interlock that forbids `action` now."""
        ...


@dataclass(frozen=True)
class Fault:
    code: str
    message: str
    error: ErrorCode
    axis: str = ""
    #: motion actions still accepted while this fault is latched (e.g. a recovery retract)
    allows: frozenset[str] = frozenset()


def sources(
    table: Sequence[Mapping[str, Any]], trigger: str, states: Iterable[str]
) -> frozenset[str]:
    """States from which `trigger` is defined in a transition table (`*` expanded)."""
    out: set[str] = set()
    for row in table:
        if row["trigger"] != trigger:
            continue
        src = row["source"]
        if src == "*":
            out.update(states)
        elif isinstance(src, str):
            out.add(src)
        else:
            out.update(src)
    return frozenset(out)
