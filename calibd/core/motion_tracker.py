"""The motion tracker of one drive: its motor-vs-encoder error and its progress, the inputs of
the stall and slip rows of the per-axis interlock table (`calibd/core/axis_rules.py`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from calibd.cfg_interlocks import InterlocksCfg
from drivers.base import DriveStatus

if TYPE_CHECKING:
    from calibd.core.axis import Axis


@dataclass
class MotionTracker:
    """Follows one drive's motor-vs-encoder error and progress for the stall and slip rows.

    The error is judged relative to its value at the last standstill (a closed-loop drive may
    keep a constant offset after lost steps); progress is the encoder moving by more than two
    counts."""

    following_error_rev: float = 0.02
    stall_window_s: float = 0.5
    offset_rev: float | None = None
    now_s: float = 0.0
    readings: int = 0
    prev_rev: float | None = None  # encoder at the previous reading
    last_rev: float | None = None
    _progress: tuple[float, float, float] = (0.0, 0.0, 0.0)  # encoder, commanded, time

    @classmethod
    def for_drum(cls, limits: InterlocksCfg, drum_radius_m: float) -> MotionTracker:
        """A cable drum: the following-error limit in metres of cable at the drum radius."""
        return cls(limits.following_error_m / (2 * math.pi * drum_radius_m), limits.stall_window_s)

    def observe(self, status: DriveStatus, now_s: float, counts_per_rev: int) -> None:
        self.now_s = now_s
        self.readings += 1
        self.prev_rev, self.last_rev = self.last_rev, status.encoder_rev
        if not status.moving or self.offset_rev is None:
            self.offset_rev = status.commanded_rev - status.encoder_rev
            self._progress = (status.encoder_rev, status.commanded_rev, now_s)
        elif abs(status.encoder_rev - self._progress[0]) > 2.0 / counts_per_rev:
            self._progress = (status.encoder_rev, status.commanded_rev, now_s)

    def outward(self, lo_rev: float, hi_rev: float) -> bool:
        """Whether the last reading moved further away from [lo, hi] than the one before."""
        if self.prev_rev is None or self.last_rev is None:
            return False

        def beyond(rev: float) -> float:
            return max(lo_rev - rev, rev - hi_rev, 0.0)

        return beyond(self.last_rev) > beyond(self.prev_rev) + 1e-9

    def error_rev(self, status: DriveStatus) -> float:
        return status.commanded_rev - status.encoder_rev - (self.offset_rev or 0.0)

    def stall(self, axis: Axis) -> str | None:
        s = axis.status
        if s is None or not s.moving:
            return None
        err = self.error_rev(s)
        if abs(err) > self.following_error_rev and abs(s.velocity_rev_s) < 1e-9:
            return f"{axis.name} stalled: motor {err:+.4f} rev ahead of the encoder, no rotation"
        _, cmd0, t0 = self._progress
        if (
            self.now_s - t0 > self.stall_window_s
            and abs(s.commanded_rev - cmd0) > self.following_error_rev
        ):
            return f"{axis.name} stalled: no encoder progress for {self.now_s - t0:.2f} s"
        return None

    def slip(self, axis: Axis) -> str | None:
        s = axis.status
        if s is None or not s.moving:
            return None
        err = self.error_rev(s)
        if abs(err) <= self.following_error_rev:
            return None
        return (
            f"{axis.name} slipped: motor and encoder differ by {err:+.4f} rev "
            f"(limit {self.following_error_rev:.4f})"
        )
