"""How long the daemon takes to execute a move, in physics seconds (before `time_scale`).

Each estimator follows one system's motion sequence (`calibd/subsystems/*_motion.py`) step by
step, with the same models the daemon uses (spool, cable loop, guide tube), and times every
drive move the way the simulated drive runs it (`simulators/motion.py`): a trapezoidal
profile from standstill to standstill with the speed and acceleration the daemon writes,
rounded to whole counts per second. Every wait for a drive (or a valve) to finish ends at the
daemon's next poll: `lag_s` per wait (docs/programs.md has the measurements). Position
corrections are not modelled (their moves are millimetres). Estimators keep the position they
have reached, so a sequence of moves is timed from where the previous one ended.

The estimator of a system is in its own module (`eta_acu.py`, `eta_cls.py`, `eta_gt.py`,
`eta_rov.py`; `estimators.estimator` picks it from the configuration); this module owns what
they share: the drive-time profiles, `Leg` (one command's estimate) and the `Estimator` base.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from calibd.config import Settings

#: the house polls its IO module this often while a valve moves (`_FAST_POLL_S`, house.py)
HOUSE_FAST_POLL_S = 0.02
#: wall time from a drive's standstill to the sequence going on, in poll periods: the stop is
#: seen by the next poll (half a period on average) plus the bus round trips of the command
#: write and of the poll's reads (measured on the HIL stack, docs/programs.md)
LAG_PERIODS = 1.0


def profile_s(dist: float, speed: float, accel: float) -> float:
    """A trapezoidal (triangular when short) move over `dist` from standstill to standstill."""
    dist = abs(dist)
    if dist == 0.0 or speed <= 0.0 or accel <= 0.0:
        return 0.0
    if dist >= speed * speed / accel:
        return dist / speed + speed / accel
    return 2.0 * math.sqrt(dist / accel)


def drive_s(dist_rev: float, speed_rev_s: float, accel_rev_s2: float, cpr: float) -> float:
    """A drive move as the drive runs it: target, speed and acceleration in whole counts."""
    speed = max(1, round(speed_rev_s * cpr))
    accel = max(1, round(accel_rev_s2 * cpr))
    return profile_s(round(abs(dist_rev) * cpr), speed, accel)


def jog_s(dist: float, speed: float, accel: float) -> float:
    """A homing jog from standstill until it has covered `dist` (it stops on the switch)."""
    dist = abs(dist)
    if dist == 0.0:
        return 0.0
    ramp = speed * speed / (2 * accel)
    if dist <= ramp:
        return math.sqrt(2 * dist / accel)
    return speed / accel + (dist - ramp) / speed


@dataclass
class Leg:
    """The estimate of one command: motion time and travel per axis."""

    motion_s: float = 0.0
    travel: dict[str, float] = field(default_factory=dict)

    def add(self, seconds: float, axis: str | None = None, metres: float = 0.0) -> None:
        self.motion_s += seconds
        if axis is not None:
            self.travel[axis] = self.travel.get(axis, 0.0) + abs(metres)

    def fields(self) -> tuple[float, dict[str, float]]:
        """(motion_s, travel), as a Move takes them."""
        return self.motion_s, self.travel


class Estimator:
    """One system's motion model, at the position its last estimated move reached; `deploy`,
    `move` and `retract` time one command each (`_deploy`, `_move`, `_retract`: its waits)."""

    def __init__(self, name: str, poll_fast_hz: float, valve: bool, settings: Settings) -> None:
        self.name = name
        scale = settings.sim.time_scale
        self.lag_s = LAG_PERIODS / poll_fast_hz * scale
        valve_s = settings.program.valve_travel_s + LAG_PERIODS * HOUSE_FAST_POLL_S * scale
        self.valve_s = valve_s if valve else 0.0

    def path_problem(self, action: str, args: Mapping[str, Any]) -> str | None:
        """Why the path of this command is refused (None: it has one)."""
        return None

    def deploy(self, args: Mapping[str, Any]) -> Leg:
        leg = Leg()
        self._deploy(leg, args)
        return leg

    def move(self, args: Mapping[str, Any]) -> Leg:
        leg = Leg()
        self._move(leg, args)
        return leg

    def retract(self) -> Leg:
        leg = Leg()
        self._retract(leg)
        leg.add(self.valve_s)  # every retract ends closing the gate valve
        return leg

    def _deploy(self, leg: Leg, args: Mapping[str, Any]) -> None:
        leg.add(self.valve_s)  # every deploy starts opening the gate valve
        self._move(leg, args)

    def _move(self, leg: Leg, args: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def _retract(self, leg: Leg) -> None:
        raise NotImplementedError
