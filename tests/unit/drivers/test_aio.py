"""cancel_safe re-raises a cancellation that asyncio.wait_for (3.11) swallowed."""

from __future__ import annotations

import asyncio

import pytest

from drivers.aio import cancel_safe


async def _swallowing() -> int:
    """Behave like 3.11's wait_for when the result and the cancel arrive together."""
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        return 42  # result wins, the cancel is lost
    return 0


async def test_swallowed_cancel_is_raised() -> None:
    async def call() -> int:
        return await cancel_safe(_swallowing())

    task = asyncio.create_task(call())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_plain_result_passes() -> None:
    async def value() -> str:
        return "ok"

    assert await cancel_safe(value()) == "ok"


async def test_cleanup_after_an_earlier_cancel_still_runs() -> None:
    """Shutdown code runs with cancelling() == 1; calls made there must not be aborted."""
    done: list[int] = []

    async def shut_down() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            done.append(await cancel_safe(asyncio.sleep(0, 7)))
            raise

    task = asyncio.create_task(shut_down())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert done == [7]
