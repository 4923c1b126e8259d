"""Bus health snapshot and the reconnect backoff shared by both bus owners."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class BusHealth:
    """What a bus owner knows about its link.

    ``consecutive_failures`` counts calls that ended in CommError since the last answer.
    """

    connected: bool
    consecutive_failures: int
    last_error: str | None


class Backoff:
    """Exponential, capped reconnect backoff; never sleeps, only says when a retry is allowed.

    Each link failure (failed connect, or link lost) schedules the next connect attempt
    ``delay`` seconds after the failure, then doubles ``delay`` up to ``max_s``.
    Any answered request resets ``delay`` to ``initial_s``.
    """

    def __init__(self, initial_s: float, max_s: float) -> None:
        if initial_s < 0 or max_s < initial_s:
            raise ValueError("need 0 <= backoff_initial_s <= backoff_max_s")
        self._initial_s = initial_s
        self._max_s = max_s
        self._delay_s = initial_s
        self._next_attempt_s = float("-inf")

    @property
    def delay_s(self) -> float:
        """The wait that the next link failure will schedule."""
        return self._delay_s

    def link_failed(self, at_s: float | None = None) -> None:
        """Record a link failure at monotonic time ``at_s`` (default: now)."""
        at_s = time.monotonic() if at_s is None else at_s
        self._next_attempt_s = at_s + self._delay_s
        self._delay_s = min(2.0 * self._delay_s, self._max_s)

    def remaining_s(self) -> float:
        """Seconds until a connect attempt is allowed (0 when allowed now)."""
        return max(0.0, self._next_attempt_s - time.monotonic())

    def allow_now(self) -> None:
        """Lift the current window (an explicit ``connect()`` always tries)."""
        self._next_attempt_s = float("-inf")

    def answered(self) -> None:
        """A device answered: the link works, start over from the initial delay."""
        self._delay_s = self._initial_s
