"""Simulated time: wall monotonic time multiplied by ``[sim] time_scale``."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Anything that tells simulated seconds."""

    def now_s(self) -> float:
        """Simulated seconds since an arbitrary origin."""
        ...


class SimClock:
    """Simulated seconds = wall monotonic seconds since start * time_scale."""

    def __init__(self, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        self.time_scale = time_scale
        self._t0_s = time.monotonic()

    def now_s(self) -> float:
        """Simulated seconds since this clock was made."""
        return (time.monotonic() - self._t0_s) * self.time_scale


class ManualClock:
    """A clock the tests move by hand."""

    def __init__(self, t_s: float = 0.0) -> None:
        self.t_s = t_s

    def now_s(self) -> float:
        """The time set by the test."""
        return self.t_s

    def advance(self, dt_s: float) -> None:
        """Move time forward."""
        self.t_s += dt_s
