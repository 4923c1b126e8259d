"""The house drives gate valves for the deployment systems and faults them on a timeout."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from calibd.config import load_config
from calibd.core.errors import Trip
from calibd.core.outbox import Outbox
from calibd.subsystems.house import House
from drivers.fake_io import FakeIo

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
async def house_io() -> AsyncIterator[tuple[House, FakeIo]]:
    cfg = load_config(ROOT / "config" / "sim.toml").house
    cfg = cfg.model_copy(update={"valve_timeout_s": 0.1, "poll_s": 0.02})
    io = FakeIo(valve_travel_s=0.01)
    house = House(cfg, io, Outbox(1024))
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(house.run())
        for _ in range(100):
            if house.state == "READY":
                break
            await asyncio.sleep(0.01)
        yield house, io
        task.cancel()


async def test_open_and_close_wait_for_the_end_switch(house_io: tuple[House, FakeIo]) -> None:
    house, io = house_io
    await house.open_valve("cls1")
    assert house.valve("cls1") == "open" and io.valve_open(1) is True
    await house.close_valve("cls1")
    assert house.valve("cls1") == "closed" and io.valve_open(1) is False


async def test_open_timeout_trips_and_withdraws_the_open_command(
    house_io: tuple[House, FakeIo],
) -> None:
    house, io = house_io
    io.stuck_valves.add(3)
    with pytest.raises(Trip) as info:
        await house.open_valve("rov")
    assert info.value.code == "valve_timeout"
    # commanded open, then closed again: once freed it must not open behind anyone's back
    assert io.valve_calls == [(3, True), (3, False)]


async def test_close_timeout_trips_and_leaves_the_valve_alone(
    house_io: tuple[House, FakeIo],
) -> None:
    house, io = house_io
    await house.open_valve("acu")
    io.stuck_valves.add(0)
    with pytest.raises(Trip) as info:
        await house.close_valve("acu")
    assert info.value.code == "valve_timeout"
    assert io.valve_calls == [(0, True), (0, False)]  # no further command: a cable may be in it


async def test_a_valve_asked_for_before_the_first_reading_waits_for_it() -> None:
    """Just after start the house is UNKNOWN until its first IO reading: a valve request
    then waits for that reading instead of failing `house_unavailable`."""
    cfg = load_config(ROOT / "config" / "sim.toml").house
    cfg = cfg.model_copy(update={"valve_timeout_s": 0.2, "poll_s": 0.05})
    io = FakeIo(valve_travel_s=0.01)
    house = House(cfg, io, Outbox(1024))
    assert house.state == "UNKNOWN"
    async with asyncio.TaskGroup() as tg:
        opener = tg.create_task(house.open_valve("acu"))
        runner = tg.create_task(house.run())
        await opener
        assert house.valve("acu") == "open"
        runner.cancel()


async def test_status_at_once_on_a_discrete_change_analog_readings_at_least_every_second(
    house_io: tuple[House, FakeIo],
) -> None:
    """The O2/radon/temperature readings are noisy on every poll: a status for each would be
    one per poll (10 Hz), retained, for nothing. A discrete change (e-stop input, N2 flow,
    valves, state) goes out at the poll that reads it; analog readings at least every second."""
    house, io = house_io
    statuses: list[dict[str, object]] = []
    house.outbox.taps.append(lambda item: statuses.append(item.payload))
    polls = 0

    def noisy(_: str) -> None:  # a new O2 reading at every poll, as the real sensor gives
        nonlocal polls
        polls += 1
        io.o2_ppm += 0.01

    house.on_fresh = noisy

    async def after_polls(n: int) -> None:
        start = polls
        async with asyncio.timeout(5.0):
            while polls < start + n:
                await asyncio.sleep(0.005)

    await after_polls(2)
    statuses.clear()
    await after_polls(10)  # 10 new O2 readings in 0.2 s (poll_s 0.02)
    assert len(statuses) <= 1, statuses  # at most the once-a-second one

    io.estop_ok = False
    await after_polls(1)
    at_estop = statuses[-1]["position"]
    assert isinstance(at_estop, dict) and at_estop["estop_ok"] is False

    statuses.clear()
    async with asyncio.timeout(3.0):  # the analog readings refresh within about a second
        while not statuses:
            await asyncio.sleep(0.01)
    later = statuses[-1]["position"]
    assert isinstance(later, dict) and later["estop_ok"] is False
    assert later["o2_ppm"] > at_estop["o2_ppm"]  # newer readings than the e-stop status's
