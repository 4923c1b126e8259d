"""An asyncio event loop on virtual time, for fast simulations in tests.

`VirtualTimeLoop.time()` is a virtual clock. Whenever the loop would wait for its next timer
(nothing ready, no I/O pending), the clock jumps to that timer instead of sleeping, so
`asyncio.sleep`, `asyncio.timeout` and `call_later` cost no wall time while keeping their
order and their arithmetic exact. Real file descriptors (the loop's self-pipe, so
`call_soon_threadsafe` and executors) still work: they are polled without blocking before
each jump, and a loop with no timer at all blocks on them for real.

Fakes that need the same clock take `clock=loop.time`.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar

_T = TypeVar("_T")
_FileObject = Any  # int | a file-like with fileno() (typeshed keeps its alias private)


class _JumpingSelector(selectors.BaseSelector):
    """Wraps a real selector: a timed wait polls once, then advances the virtual clock by the
    timeout instead of sleeping."""

    def __init__(self, loop: VirtualTimeLoop) -> None:
        self._loop = loop
        self._inner = selectors.DefaultSelector()

    def register(
        self, fileobj: _FileObject, events: int, data: Any = None
    ) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: _FileObject) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(self, fileobj: _FileObject, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None:  # no timer at all: only real I/O (another thread) can wake us
            return self._inner.select(None)
        events = self._inner.select(0)
        if not events and timeout > 0:
            self._loop.advance(timeout)
        return events

    def get_map(self) -> Mapping[_FileObject, selectors.SelectorKey]:
        return self._inner.get_map()

    def close(self) -> None:
        self._inner.close()


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose clock only moves when the loop would otherwise wait."""

    def __init__(self, start_s: float = 1000.0) -> None:
        self._now_s = start_s
        super().__init__(selector=_JumpingSelector(self))

    def time(self) -> float:
        return self._now_s

    def advance(self, dt_s: float) -> None:
        """Move the clock forward (the selector does this; tests rarely need to)."""
        if dt_s < 0:
            raise ValueError("virtual time only moves forward")
        self._now_s += dt_s

    def run_for(self, dt_s: float) -> None:
        """Run every task for `dt_s` of virtual time (returns at exactly now + dt_s)."""
        self.run_until_complete(asyncio.sleep(dt_s))

    def run(self, aw: Awaitable[_T]) -> _T:
        """Run an awaitable to completion on this loop and return its result."""
        return self.run_until_complete(_wrap(aw))


async def _wrap(aw: Awaitable[_T]) -> _T:
    return await aw
