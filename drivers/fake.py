"""What the in-memory fakes of the ``drivers.base`` Protocols share (``fake_drive``, ``fake_io``,
``fake_sensors``; for the daemon's FSM unit tests): the injectable clock and the fault switches.

Time: every fake reads an injectable ``clock`` (default ``time.monotonic``) and catches up on
the time elapsed since its last call, so moves and valve travel complete in real time. For
deterministic tests pass a shared ``ManualClock`` and advance it; ``FakeDrive.advance(dt_s)``
also steps a drive's motion explicitly.

Faults: ``lost = True`` makes every call raise CommError; ``fail_next = n`` fails the next n
calls. Calls that fail are not recorded.
"""

from __future__ import annotations

from collections.abc import Callable

from drivers.errors import CommError

Clock = Callable[[], float]


class ManualClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, start_s: float = 0.0) -> None:
        self.now_s = start_s

    def __call__(self) -> float:
        return self.now_s

    def advance(self, dt_s: float) -> None:
        """Move time forward by ``dt_s``."""
        if dt_s < 0:
            raise ValueError("time only moves forward")
        self.now_s += dt_s


class FakeFaults:
    """``lost`` / ``fail_next`` switches shared by the fakes."""

    name: str
    lost: bool
    fail_next: int

    def _check_faults(self, what: str) -> None:
        if self.lost:
            raise CommError(f"{what}: no answer (fake lost)", device=self.name)
        if self.fail_next > 0:
            self.fail_next -= 1
            raise CommError(f"{what}: no answer (fake fail_next)", device=self.name)
