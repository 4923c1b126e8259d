"""The virtual-time event loop: timers fire in order at exact virtual instants, timeouts work,
and real wake-ups from other threads still reach the loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from tests.vtime import VirtualTimeLoop


@pytest.fixture
def loop() -> Iterator[VirtualTimeLoop]:
    lp = VirtualTimeLoop(start_s=100.0)
    yield lp
    lp.run_until_complete(lp.shutdown_asyncgens())
    lp.close()


def test_sleeps_jump_the_clock_in_timer_order(loop: VirtualTimeLoop) -> None:
    seen: list[tuple[str, float]] = []

    async def sleeper(name: str, dt_s: float) -> None:
        await asyncio.sleep(dt_s)
        seen.append((name, asyncio.get_running_loop().time()))

    async def main() -> None:
        await asyncio.gather(sleeper("late", 3600.0), sleeper("early", 0.25), sleeper("mid", 7.0))

    loop.run(main())
    assert seen == [("early", 100.25), ("mid", 107.0), ("late", 3700.0)]
    assert loop.time() == 3700.0


def test_ready_callbacks_run_before_the_clock_moves(loop: VirtualTimeLoop) -> None:
    times: list[float] = []

    async def spinner() -> None:
        for _ in range(1000):
            times.append(asyncio.get_running_loop().time())
            await asyncio.sleep(0)

    loop.run(spinner())
    assert set(times) == {100.0}


def test_timeout_fires_at_the_virtual_deadline(loop: VirtualTimeLoop) -> None:
    async def main() -> float:
        lp = asyncio.get_running_loop()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(2.5):
                await asyncio.Event().wait()
        return lp.time()

    assert loop.run(main()) == 102.5


def test_run_for_stops_exactly_and_tasks_keep_their_state(loop: VirtualTimeLoop) -> None:
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            await asyncio.sleep(0.1)
            ticks.append(round(asyncio.get_running_loop().time(), 9))

    task = loop.create_task(ticker())
    loop.run_for(0.35)
    assert loop.time() == pytest.approx(100.35)
    assert ticks == [100.1, 100.2, 100.3]
    loop.run_for(0.1)
    assert ticks[-1] == 100.4
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        loop.run_until_complete(task)


def test_wakeup_from_another_thread_reaches_the_loop(loop: VirtualTimeLoop) -> None:
    """No timer pending: the loop blocks on its real self-pipe until the thread writes it."""

    async def main() -> str:
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        worker = threading.Thread(
            target=lambda: loop.call_soon_threadsafe(fut.set_result, "from thread")
        )
        worker.start()
        try:
            return await fut
        finally:
            worker.join(5.0)

    assert loop.run(main()) == "from thread"
    assert loop.time() == 100.0


def test_clock_never_goes_back(loop: VirtualTimeLoop) -> None:
    with pytest.raises(ValueError, match="forward"):
        loop.advance(-1.0)
    assert loop.time() == 100.0
