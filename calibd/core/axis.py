"""One cable axis, shared by every system: a spool drive (optionally with a load cell), its
latest readings, its motion tracker, whether it has arrived, its protections and telemetry.

The per-axis protections are the rows of `calibd/core/axis_rules.py`, pure functions of the
latest readings, the motion tracker (`calibd/core/motion_tracker.py`) and a tension window the
system computes. A system's set of axes (one poll for all, fresh-data waits, halt) is
`calibd/core/axes.py`.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from typing import Any

from calibd.core.axis_rules import AxisView, first_trip
from calibd.core.errors import Trip
from calibd.core.motion_tracker import MotionTracker
from drivers.base import Drive, DriveStatus, ForceSensor, LoadReading


@dataclass(frozen=True)
class TensionWindow:
    """Acceptable tension: below `low_n` is slack, above `high_n` a snag."""

    low_n: float
    high_n: float

    @classmethod
    def around(
        cls,
        expected_n: float,
        *,
        snag_factor: float,
        slack_factor: float,
        floor_n: float,
        range_n: float,
    ) -> TensionWindow:
        """The window around an expected tension (domain.md: ±max(floor, factor))."""
        high = min(max(snag_factor * expected_n, expected_n + floor_n), 0.8 * range_n)
        low = min(slack_factor * expected_n, expected_n - floor_n)
        return cls(low, high)


def cable_soft_rev(drum_radius_m: float, cable_length_m: float) -> tuple[float, float]:
    """Soft travel of a drum whose position is zero when parked: never more than the cable
    (less 0.5 m) either way, counted on the innermost radius (the most revolutions)."""
    rev = (cable_length_m - 0.5) / (2 * math.pi * drum_radius_m)
    return (-rev, rev)


def _now_s() -> float:
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return time.monotonic()


@dataclass
class Axis:
    """A drive (+ load cell), its latest readings and its protections (`axis_rules`).

    `soft_rev`: the encoder range the axis may occupy once homed (beyond it: `soft_limit`)."""

    name: str
    drive: Drive
    cell: ForceSensor | None = None
    counts_per_rev: int = 4096
    load: LoadReading | None = None
    soft_rev: tuple[float, float] | None = None
    tracker: MotionTracker = field(default_factory=MotionTracker)
    _status: DriveStatus | None = field(default=None, repr=False)
    #: this reading is the first to show the drive's own watchdog stopped its run (the reading
    #: before showed it clear; a first reading, e.g. after a restart, is no news)
    watchdog_stopped: bool = field(default=False, repr=False)

    @property
    def status(self) -> DriveStatus | None:
        return self._status

    @status.setter
    def status(self, value: DriveStatus | None) -> None:
        before = self._status
        self.watchdog_stopped = (
            value is not None
            and value.comm_timeout
            and before is not None
            and not before.comm_timeout
        )
        self._status = value
        if value is not None:
            self.tracker.observe(value, _now_s(), self.counts_per_rev)

    @property
    def parked(self) -> bool:
        """On its home (parked) switch."""
        return self.status is not None and self.status.home_switch

    @property
    def rev(self) -> float | None:
        """Encoder position in revolutions (None before the first reading)."""
        return None if self.status is None else self.status.encoder_rev

    @property
    def tension_n(self) -> float | None:
        return None if self.load is None else self.load.tension_n

    def arrived(self, target_rev: float, tolerance_counts: float = 1.5) -> bool:
        """Standing still within `tolerance_counts` of `target_rev`."""
        st = self.status
        return (
            st is not None
            and not st.moving
            and abs(st.encoder_rev - target_rev) <= tolerance_counts / self.counts_per_rev
        )

    def trip(
        self, window: TensionWindow | None, *, homed: bool, ignore_alarms: bool = False
    ) -> Trip | None:
        """The first row of the per-axis interlock table that holds (None: all fine).

        `ignore_alarms`: judging whether a reset may proceed (alarms get reset, nothing moves)."""
        return first_trip(AxisView(self, window, homed, judging_reset=ignore_alarms))

    def telemetry(self) -> dict[str, Any]:
        s, load = self.status, self.load
        return {
            "encoder_rev": None if s is None else round(s.encoder_rev, 5),
            "commanded_rev": None if s is None else round(s.commanded_rev, 5),
            "speed_rev_s": None if s is None else round(s.velocity_rev_s, 5),
            "tension_n": None if load is None else round(load.tension_n, 4),
            "moving": None if s is None else s.moving,
            "parked": self.parked,
        }
