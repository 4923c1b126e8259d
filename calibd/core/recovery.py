"""Restart recovery: the persisted snapshot of a system against what its drives say now.

The policy, one pure function (`reconcile`), in the order it is applied:

1. No persisted record: on a first start (a new state directory) or with the system parked ->
   `unknown` (UNKNOWN: home before use); otherwise (the database was lost) -> `mismatch` (a
   source may be out with nothing known about it).
2. Persisted "not homed" (the daemon did not know either) -> `unknown`.
3. A drive lost its reference (not homed: power loss) or reads outside its persisted range
   (± the tolerance) -> `mismatch`, or `unknown` if the system is parked (nothing out).
4. Otherwise `restore`: the persisted resting state (PARKED, AT_POSITION, HOLDING, STOPPED);
   STOPPED if it was moving (the drives were stopped first) or the system is not parked.

"Parked" is the system's own `deployed` = false (every source on its home switch; the ACU
turntable's reference switch does not count).

A mismatch latches FAULT `position_mismatch` naming both values; only a slow, tension-watched
retract (homing onto the switches) or an expert override leaves it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from calibd.core.journal import AxisNow

RESTING = frozenset({"PARKED", "AT_POSITION", "HOLDING", "STOPPED"})


@dataclass(frozen=True)
class Outcome:
    kind: Literal["restore", "unknown", "mismatch"]
    state: str  # the FSM state to take: restored state, UNKNOWN or FAULT
    message: str
    details: dict[str, Any] = field(default_factory=dict)


def _fmt(rev: float | None) -> str:
    return "none" if rev is None else f"{rev:+.4f} rev"


def reconcile(
    persisted: Mapping[str, Any] | None,
    now: Mapping[str, AxisNow],
    tolerance_counts: float,
    *,
    deployed: bool,
    first_start: bool = False,
) -> Outcome:
    """What a restarted daemon may believe about one system (see the module's policy)."""
    out = sorted(name for name, a in now.items() if not a.parked) if deployed else []
    details: dict[str, Any] = {
        "persisted": None if persisted is None else persisted.get("state"),
        "drives": {n: {"rev": a.rev, "homed": a.homed, "parked": a.parked} for n, a in now.items()},
    }
    if persisted is None:
        if first_start or not deployed:
            why = "first start" if first_start else "nothing out"
            return Outcome("unknown", "UNKNOWN", f"no persisted state ({why})", details)
        return Outcome(
            "mismatch",
            "FAULT",
            f"no persisted record, but {', '.join(out)} off the home switch: a source may be"
            " out with nothing known about it",
            details,
        )
    if not persisted.get("homed"):
        return Outcome("unknown", "UNKNOWN", "the daemon was not homed before the restart", details)
    ranges: Mapping[str, list[float]] = persisted.get("ranges") or {}
    problems: list[str] = []
    for name, a in now.items():
        span = ranges.get(name)
        if not a.homed:
            last = None if span is None else span[0]
            problems.append(
                f"{name}: drive lost its reference (power loss?): persisted {_fmt(last)},"
                f" drive reads {_fmt(a.rev)} not homed"
            )
            continue
        if span is None or a.rev is None:
            problems.append(f"{name}: no persisted range (drive reads {_fmt(a.rev)})")
            continue
        tol = tolerance_counts / a.counts_per_rev
        if not span[0] - tol <= a.rev <= span[1] + tol:
            where = _fmt(span[0]) if span[0] == span[1] else f"{_fmt(span[0])}..{_fmt(span[1])}"
            problems.append(f"{name}: persisted {where}, drive reads {_fmt(a.rev)}")
    if problems:
        details["problems"] = problems
        if not deployed:
            return Outcome("unknown", "UNKNOWN", "parked; " + "; ".join(problems), details)
        return Outcome("mismatch", "FAULT", "; ".join(problems), details)
    was = str(persisted.get("state"))
    state = was if was in RESTING else "STOPPED"
    if state == "PARKED" and deployed:
        state = "STOPPED"
    return Outcome(
        "restore", state, f"persisted {was} agrees with the drives (restored {state})", details
    )
