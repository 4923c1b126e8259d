"""`laser_scan`: each intensity for its dwell at the current point, then off; its progress.

The scan runs in its command's task (it occupies the ACU like a motion). It ends early when
`stop()` is called: by `stop` and `laser_off` (the command is `aborted`), a trip (`failed` with
the trip's code) or the emission condition ceasing (`failed`, `interlock`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, Protocol

from calibd.core.errors import CommandError, ErrorCode


class ScanLaser(Protocol):
    """What a scan needs of the laser (`AcuLaser`)."""

    lost: str | None

    @property
    def emitting(self) -> bool: ...

    async def emit(self, rate_hz: float, intensity: float, command: str, ends: str) -> None: ...

    async def off(self, reason: str) -> bool: ...

    def published(self) -> None: ...


class Scan:
    def __init__(
        self, command: str, rate_hz: float, steps: list[tuple[float, float]], time_scale: float
    ) -> None:
        self.command = command
        self.rate_hz = rate_hz
        self.steps = steps  # (intensity, dwell_s in physics seconds)
        self.time_scale = time_scale
        self.step = 0
        self.ended: tuple[str, ErrorCode] | None = None
        self._event = asyncio.Event()
        self._step_ends_s = 0.0  # monotonic

    def stop(self, reason: str, code: ErrorCode) -> None:
        """End the scan early (the first reason counts)."""
        if self.ended is None:
            self.ended = (reason, code)
            self._event.set()

    async def run(self, laser: ScanLaser) -> None:
        """Step through; CommandError when it ended early or the laser failed."""
        try:
            for n, (intensity, dwell_s) in enumerate(self.steps, start=1):
                await laser.emit(self.rate_hz, intensity, self.command, "scan_step")
                self.step = n
                self._step_ends_s = time.monotonic() + dwell_s / self.time_scale
                laser.published()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(dwell_s / self.time_scale):
                        await self._event.wait()
                if self.ended is not None:
                    reason, code = self.ended
                    raise CommandError(
                        code, f"laser_scan ended at step {n}/{len(self.steps)}: {reason}"
                    )
            if not await laser.off("scan_done"):
                raise CommandError(ErrorCode.HARDWARE, f"laser off not confirmed: {laser.lost}")
        except CommandError:
            if self.ended is None and laser.emitting:
                await laser.off("scan_failed")  # e.g. a step refused: no light stays on
            raise

    def progress(self) -> dict[str, Any]:
        """`{"command", "step", "steps", "intensity", "rate_hz", "remaining_s"}`; remaining_s:
        physics seconds of dwell still due, this step's included."""
        n = self.step
        remaining_s: float | None = None
        intensity = None
        if n:
            intensity = self.steps[n - 1][0]
            due_s = max(0.0, self._step_ends_s - time.monotonic()) * self.time_scale
            remaining_s = round(due_s + sum(d for _, d in self.steps[n:]), 1)
        return {
            "command": self.command,
            "step": n,
            "steps": len(self.steps),
            "intensity": intensity,
            "rate_hz": self.rate_hz,
            "remaining_s": remaining_s,
        }
