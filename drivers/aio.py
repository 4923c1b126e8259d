"""Keep cancellation intact across libraries that still use ``asyncio.wait_for``.

On CPython 3.11, ``asyncio.wait_for`` loses a ``Task.cancel()`` that arrives in the same loop
iteration as the inner result (gh-86296, fixed in 3.12): the result is returned and the
cancellation is gone. pymodbus (every request) and aiomqtt (publish, subscribe) await through
``wait_for``; a lost cancel there leaves a poll loop running after shutdown was requested, and
the daemon never exits. ``cancel_safe`` notices a cancel request that arrived while the call was
pending and was not delivered, and raises it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def cancel_safe(aw: Awaitable[T]) -> T:
    """Await ``aw``; raise CancelledError if a cancel request was swallowed on the way."""
    task = asyncio.current_task()
    before = task.cancelling() if task is not None else 0
    result = await aw
    if task is not None and task.cancelling() > before:
        raise asyncio.CancelledError
    return result
