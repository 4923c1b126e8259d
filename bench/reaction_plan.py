"""The reaction benchmark's plans (where each system is deployed, which axis is faulted, which
way it moves) and its shots (one injection each) with their summary (pure)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from figures import latency, percentile

STOP_FAULTS = ("snag", "slack", "slip", "stall", "drive_alarm", "limit")  # comm_loss: no event
DEFAULT_FAULTS = "snag,slack,drive_alarm,limit"
MARGIN_MS = 5.0


@dataclass(frozen=True)
class Plan:
    """Where a system is deployed, the axis faulted, the position towards which that axis
    hauls (winds in) and the one towards which it pays out; a move shorter than
    `min_travel` (position units) goes the other way."""

    system: str
    axis: str
    deploy: dict[str, Any]
    haul: dict[str, float]
    pay: dict[str, float]
    min_travel: float

    def target(self, status: dict[str, Any], haul: bool) -> dict[str, float]:
        pos = status.get("position") or {}

        def distance(end: dict[str, float]) -> float:
            return math.hypot(*(float(pos.get(k) or 0.0) - v for k, v in end.items()))

        first, other = (self.haul, self.pay) if haul else (self.pay, self.haul)
        return first if distance(first) >= self.min_travel else other


def xz(x_m: float, z_m: float) -> dict[str, float]:
    return {"x_m": x_m, "z_m": z_m}


PLANS = {
    "acu": Plan("acu", "A", {"unit": "A", "z_m": 12.0}, {"z_m": 16.5}, {"z_m": 3.0}, 2.0),
    "cls1": Plan("cls1", "central", xz(5.5, 5.0), xz(3.0, 8.0), xz(8.0, 2.0), 1.5),
    "cls2": Plan("cls2", "central", xz(-5.5, 5.0), xz(-3.0, 8.0), xz(-8.0, 2.0), 1.5),
    "gt": Plan("gt", "bottom", {"theta_deg": 90.0}, {"theta_deg": 150.0}, {"theta_deg": 30.0}, 8.0),
}
#: a snag shows hauling (the cable pulls tight), slack paying out; the others alternate
HAUL = {"snag": True, "slack": False}


@dataclass
class Shot:
    """One injection: the measured reaction (None: missed), the daemon's trip code, the
    move's final result, what went wrong on the way back (see `reset`)."""

    system: str
    fault: str
    haul: bool
    delay_ms: float
    reaction_ms: float | None
    trip: str | None
    move: str
    reset_trouble: Counter[str]


def stopped_event(events: list[dict[str, Any]], plan: Plan, fault: str) -> dict[str, Any] | None:
    want = ("stopped", plan.system, plan.axis, fault)
    got = [
        e
        for e in events
        if (e.get("event"), e.get("system"), e.get("axis"), e.get("fault")) == want
    ]
    return got[0] if got else None


def figures(shots: list[Shot], target_ms: float) -> dict[str, Any]:
    """Count, misses, percentiles, trip codes and move results of a group of shots."""
    lat = sorted(s.reaction_ms for s in shots if s.reaction_ms is not None)
    misses = len(shots) - len(lat)
    out: dict[str, Any] = {"n": len(shots), "misses": misses, **latency(lat)}
    out["over_target"] = sum(1 for x in lat if x > target_ms)
    out["trips"] = dict(Counter(str(s.trip) for s in shots))
    out["moves"] = dict(Counter(s.move for s in shots))
    out["reset_trouble"] = dict(sum((s.reset_trouble for s in shots), Counter[str]()))
    worst = sorted(shots, key=lambda s: -1.0 if s.reaction_ms is None else s.reaction_ms)[-3:]
    keys = ("fault", "reaction_ms", "delay_ms", "haul", "trip")
    out["slowest"] = [{k: getattr(s, k) for k in keys} for s in reversed(worst)]
    out["pass"] = bool(lat) and misses == 0 and percentile(lat, 99) <= target_ms
    return out


def by_fault(shots: list[Shot], faults: list[str], target_ms: float) -> dict[str, Any]:
    return {f: figures([s for s in shots if s.fault == f], target_ms) for f in faults}
