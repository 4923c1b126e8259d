"""Figures, targets and their evaluation: the pure part of the benchmark suite.

A benchmark returns an `Outcome`: its figures (value + unit, each optionally with a `Target`),
the number of samples, its wall time and the raw details of the script. A target is either set
by an issue (`source` = "issue N") or proposed here (`source` = "proposed", with the reasoning
in `why`). Nothing here measures anything; bench/suite.py runs the benchmarks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

Op = Literal["<=", ">=", "within"]


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending, non-empty list."""
    if not sorted_values:
        raise ValueError("percentile of an empty list")
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


def latency(sorted_ms: list[float]) -> dict[str, float | None]:
    """p50/p90/p99/max of an ascending list, ms rounded to µs (None if empty)."""
    out: dict[str, float | None] = {}
    for q in (50, 90, 99):
        out[f"p{q}_ms"] = round(percentile(sorted_ms, q), 3) if sorted_ms else None
    out["max_ms"] = round(sorted_ms[-1], 3) if sorted_ms else None
    return out


def per_second_rates(times_s: list[float], start_s: float, end_s: float) -> list[int]:
    """Events per whole second of [start_s, end_s): one count per full 1 s bin."""
    bins = int(end_s - start_s)
    counts = [0] * max(bins, 0)
    for t in times_s:
        k = math.floor(t - start_s)
        if 0 <= k < bins:
            counts[k] += 1
    return counts


@dataclass(frozen=True)
class Target:
    """`op` `value` (`within`: value ± tol), from `source` ("issue N" or "proposed")."""

    op: Op
    value: float
    source: str
    why: str
    tol: float = 0.0

    def __post_init__(self) -> None:
        if self.op not in ("<=", ">=", "within"):
            raise ValueError(f"unknown target operator {self.op!r}")
        if self.op == "within" and self.tol <= 0:
            raise ValueError("a `within` target needs tol > 0")
        if not (self.source == "proposed" or self.source.startswith("issue ")):
            raise ValueError(f"target source must be 'issue N' or 'proposed', not {self.source!r}")

    def met(self, value: float | None) -> bool:
        """Whether `value` meets the target (a missing value never does)."""
        if value is None or not math.isfinite(value):
            return False
        if self.op == "<=":
            return value <= self.value
        if self.op == ">=":
            return value >= self.value
        return abs(value - self.value) <= self.tol + 1e-12

    def text(self, unit: str) -> str:
        """Human form: '≤ 10 ms', '≥ 500 tx/s', '1 ± 0.05'."""
        suffix = f" {unit}" if unit else ""
        if self.op == "within":
            return f"{fmt(self.value)} ± {fmt(self.tol)}{suffix}"
        sign = "≤" if self.op == "<=" else "≥"
        return f"{sign} {fmt(self.value)}{suffix}"

    def to_json(self, unit: str) -> dict[str, Any]:
        doc: dict[str, Any] = {"op": self.op, "value": self.value}
        if self.op == "within":
            doc["tol"] = self.tol
        doc.update({"unit": unit, "text": self.text(unit), "source": self.source, "why": self.why})
        return doc


@dataclass(frozen=True)
class Figure:
    """One reported number; `target` None: reported for context only."""

    name: str
    value: float | None
    unit: str
    target: Target | None = None
    note: str = ""

    @property
    def passed(self) -> bool | None:
        """None without a target."""
        return None if self.target is None else self.target.met(self.value)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "target": None if self.target is None else self.target.to_json(self.unit),
            "pass": self.passed,
            "note": self.note,
        }


@dataclass
class Outcome:
    """What one benchmark produced (or why it could not)."""

    name: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    n: int | None = None
    wall_s: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def passed(self) -> bool | None:
        """False on error or a missed target; None if nothing here has a target."""
        if self.error is not None:
            return False
        verdicts = [f.passed for f in self.figures if f.passed is not None]
        return all(verdicts) if verdicts else None

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "pass": self.passed,
            "error": self.error,
            "n": self.n,
            "wall_s": self.wall_s,
            "figures": [f.to_json() for f in self.figures],
            "details": self.details,
        }


def suite_pass(outcomes: list[Outcome]) -> bool:
    """Every benchmark ran and met every target it has."""
    return all(o.passed is not False for o in outcomes)


def fmt(value: float | None) -> str:
    """A figure for people: up to 4 significant digits, no trailing zeros."""
    if value is None:
        return "—"
    if value == 0:
        return "0"
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 1000:
        return f"{value:.0f}"
    digits = max(0, 3 - math.floor(math.log10(abs(value))))
    return f"{value:.{digits}f}".rstrip("0").rstrip(".")
