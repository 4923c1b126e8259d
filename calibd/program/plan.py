"""A program's plan: its moves (`Move`) in order and what they add up to (`Plan`: motion, DAQ
and ETA in physics seconds, travel per axis, every problem), as JSON and as the human summary
of `calibd program plan`. `calibd/program/planner.py` makes it (`make_plan`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from calibd.program.model import MountStep, Program


def hms(seconds: float) -> str:
    """`h:mm:ss` (hours past 24 keep counting)."""
    s = round(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


@dataclass(frozen=True)
class Move:
    step: int  # 0-based index into program.steps
    point: int | None  # 0-based point index in the step; None for retract and mount
    system: str
    action: str  # "deploy" | "move" | "retract" | "mount"
    args: dict[str, Any]  # the command args exactly as the subsystem takes them
    source: str  # the source KIND of the step
    daq_s: float  # DAQ time at the point this move reaches (0 for retract/mount)
    motion_s: float  # estimated motion time of the move in physics seconds
    travel: dict[str, float]  # per axis: metres of cable (turntable: degrees)
    message: str = ""  # mount: what the expert must do
    scan: dict[str, Any] | None = None  # a laser point: the `laser_scan` args (DAQ = the scan)

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "point": self.point,
            "system": self.system,
            "action": self.action,
            "args": dict(self.args),
            "source": self.source,
            "daq_s": self.daq_s,
            "motion_s": round(self.motion_s, 3),
            "travel": {k: round(v, 4) for k, v in self.travel.items()},
            "message": self.message,
            "scan": None if self.scan is None else dict(self.scan),
        }


@dataclass(frozen=True)
class Plan:
    program: Program
    moves: tuple[Move, ...]
    problems: tuple[str, ...]  # every problem found; empty = runnable

    def eta_s(self, start: int = 0) -> float:
        """Motion + DAQ of moves[start:], physics seconds."""
        return sum(m.motion_s + m.daq_s for m in self.moves[start:])

    def motion_s(self, start: int = 0) -> float:
        return sum(m.motion_s for m in self.moves[start:])

    def daq_s(self, start: int = 0) -> float:
        return sum(m.daq_s for m in self.moves[start:])

    def travel(self) -> dict[str, float]:
        """Travel per axis over the whole program (metres of cable; turntable: degrees)."""
        out: dict[str, float] = {}
        for m in self.moves:
            for axis, value in m.travel.items():
                out[axis] = out.get(axis, 0.0) + value
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "program": self.program.name,
            "title": self.program.title,
            "runnable": not self.problems,
            "steps": len(self.program.steps),
            "points": self.program.points,
            "motion_s": round(self.motion_s(), 1),
            "daq_s": round(self.daq_s(), 1),
            "eta_s": round(self.eta_s(), 1),
            "travel": {k: round(v, 3) for k, v in sorted(self.travel().items())},
            "problems": list(self.problems),
            "moves": [m.as_dict() for m in self.moves],
        }

    def render(self) -> str:
        """A human summary: one line per step, travel per axis, the ETA, every problem."""
        p = self.program
        lines = [f"program {p.name}" + (f": {p.title}" if p.title else "")]
        lines.append(f"{'step':>4}  {'system':<8}{'source':<8}{'points':>6}  {'DAQ':>9}  motion")
        for i, step in enumerate(p.steps):
            moves = [m for m in self.moves if m.step == i]
            where = step.system + (f":{moves[0].args['unit']}" if _unit_of(moves) else "")
            if isinstance(step, MountStep):
                text = moves[0].message if moves else step.message
                lines.append(f"{i + 1:>4}  {where:<8}{step.source:<8}{'mount':>6}  {text}")
                continue
            daq = sum(m.daq_s for m in moves)
            motion = sum(m.motion_s for m in moves)
            scan = f"x{len(step.intensities)}" if step.intensities else ""  # a laser scan
            lines.append(
                f"{i + 1:>4}  {where:<8}{step.source:<8}{f'{len(step.points)}{scan}':>6}"
                f"  {hms(daq):>9}  {hms(motion):>8}"
            )
        lines.append("travel:")
        for axis, value in sorted(self.travel().items()):
            unit = "deg" if axis.endswith("turntable") else "m"
            lines.append(f"  {axis:<16}{value:10.2f} {unit}")
        lines.append(
            f"ETA: motion {hms(self.motion_s())} + DAQ {hms(self.daq_s())}"
            f" = {hms(self.eta_s())} (h:mm:ss, physics time)"
        )
        if self.problems:
            lines.append(f"{len(self.problems)} problem(s):")
            lines.extend(f"  {text}" for text in self.problems)
        else:
            lines.append("no problems: runnable")
        return "\n".join(lines)


def _unit_of(moves: list[Move]) -> bool:
    return bool(moves) and moves[0].args.get("unit") is not None
