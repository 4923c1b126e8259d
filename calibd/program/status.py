"""The retained `{root}/program/status` document: the run, its state and reason, where it is
(step, point, system, source), its progress and the time left (`eta_s`, wall seconds)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from calibd.core.subsystem import Subsystem
from calibd.core.timefmt import iso_now
from calibd.program.plan import Plan
from calibd.program.runs import RunRecord

STATUS_TOPIC = "program/status"


def status_doc(
    state: str,
    reason: str | None,
    plan: Plan | None,
    record: RunRecord | None,
    systems: Mapping[str, Subsystem],
    time_scale: float,
    move_started_s: float,
) -> dict[str, Any]:
    """The status of the program; `move_started_s`: loop time the current move was sent at
    (0: none yet), the ETA counts down from there while RUNNING."""
    doc: dict[str, Any] = {
        "program": None if record is None else record.program,
        "run": None if record is None else record.run,
        "state": state,
        "reason": reason,
        "step": None,
        "steps": None,
        "point": None,
        "points": None,
        "done_points": None,
        "progress": None,
        "eta_s": None,
        "system": None,
        "source": None,
        "started": None if record is None else record.started,
        "operator": None if record is None else record.operator,
        "ts": iso_now(),
    }
    if plan is None or record is None:
        return doc
    moves, index = plan.moves, record.move
    current = moves[min(index, len(moves) - 1)]
    total = plan.program.points
    eta_s = 0.0 if state == "COMPLETED" else plan.eta_s(index) / time_scale
    if state == "RUNNING" and move_started_s:
        elapsed_s = asyncio.get_running_loop().time() - move_started_s
        eta_s = max(plan.eta_s(index + 1) / time_scale, eta_s - elapsed_s)
    sub = systems.get(current.system)
    doc.update(
        step=current.step + 1,
        steps=len(plan.program.steps),
        point=None if current.point is None else current.point + 1,
        points=total,
        done_points=record.done_points,
        progress=round(record.done_points / total, 4) if total else 1.0,
        eta_s=round(eta_s, 1),
        system=current.system,
        source=None if sub is None else sub.status_fields().get("source"),
    )
    return doc
