"""What the plan cannot know: the systems as they are now, checked before a program starts."""

from __future__ import annotations

from collections.abc import Mapping

from calibd.core.commands import validate_args
from calibd.core.errors import CommandError
from calibd.core.subsystem import Subsystem
from calibd.program.plan import Move, Plan


def live_problems(plan: Plan, systems: Mapping[str, Subsystem]) -> list[str]:
    """Every reason the plan cannot start now: a system of the program in FAULT, not homed,
    busy or not parked; the first move refused by the interlocks."""
    problems: list[str] = []
    for name in dict.fromkeys(m.system for m in plan.moves if m.action != "mount"):
        sub = systems.get(name)
        if sub is None:
            continue  # the plan said so already
        status = sub.status_fields()
        if sub.state == "FAULT":
            fault = sub.latched.code if sub.latched is not None else "fault"
            problems.append(f"{name} is in FAULT ({fault}): reset it first")
        elif status.get("homed") is not True:
            problems.append(f"{name} is not homed: home it first")
        elif sub.command is not None:
            problems.append(f"{name} is busy with {sub.command.action} ({sub.command.id})")
        elif status.get("deployed"):
            problems.append(f"{name} is deployed: a program starts with every system parked")
    first = next((m for m in plan.moves if m.action != "mount"), None)
    if first is not None and not problems:
        problem = gate_problem(first, systems)
        if problem:
            problems.append(problem)
    return problems


def gate_problem(move: Move, systems: Mapping[str, Subsystem]) -> str | None:
    """The interlocks' refusal of `move` right now, if any."""
    sub = systems.get(move.system)
    if sub is None or sub.gate is None:
        return None
    spec = sub.ACTIONS.get(move.action)
    if spec is None:
        return None
    try:
        sub.gate.check(move.system, move.action, validate_args(spec.args, move.args))
    except CommandError as exc:
        return f"{move.system} {move.action}: {exc.code}: {exc.message}"
    return None
