"""Fresh readings: the poll loop of a system wakes its motion sequences once the protections
have judged a poll's readings (`FreshReadings.wake`); a sequence waits for the next judged poll
(`wait_poll`), or for a condition on them with a deadline (`wait_fresh_until`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from calibd.core.errors import ErrorCode, Trip


class FreshReadings:
    """The wake-up between one system's poll loop and its motion sequences."""

    def __init__(self) -> None:
        self._fresh = asyncio.Condition()

    async def wake(self) -> None:
        """Wake the motion sequences waiting for fresh readings (the poll loop calls it once
        the protections have judged the readings, and not when they tripped)."""
        async with self._fresh:
            self._fresh.notify_all()

    async def wait_poll(self) -> None:
        """Until the next poll has stored fresh readings."""
        async with self._fresh:
            await self._fresh.wait()


async def wait_fresh_until(
    wait_poll: Callable[[], Awaitable[None]], ok: Callable[[], bool], deadline_s: float, what: str
) -> None:
    """Wait for fresh readings (`wait_poll`) until `ok()`; Trip(move_timeout) after
    `deadline_s` of wall time."""
    try:
        async with asyncio.timeout(deadline_s):
            await wait_poll()
            while not ok():
                await wait_poll()
    except TimeoutError:
        message = f"{what}: not done after {deadline_s:.1f} s"
        raise Trip("move_timeout", message, error=ErrorCode.TIMEOUT) from None
