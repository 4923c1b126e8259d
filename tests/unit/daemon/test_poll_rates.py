"""Issue 2: the ACU polls fast while moving (`poll_fast_hz`, default 50 Hz) and slowly when idle
(`poll_idle_s`, default 0.5 s). Counted as load-cell reads on the virtual-time loop (no wall
time): the config's defaults, fakes on the loop's clock."""

from __future__ import annotations

import asyncio
from pathlib import Path

from calibd.config import load_config
from calibd.core.commands import Command, ReplyRoute
from calibd.core.outbox import Outbox
from calibd.core.spool import SpoolModel
from calibd.subsystems.acu import Acu
from calibd.subsystems.acu_axes import AcuAxes, spool_model
from calibd.subsystems.house import House
from drivers.base import Drive, ForceSensor
from drivers.fake_drive import FakeDrive
from drivers.fake_io import FakeIo
from drivers.fake_sensors import FakeForceSensor
from tests.unit.daemon.test_acu_fsm import Turntable
from tests.vtime import VirtualTimeLoop

ROOT = Path(__file__).resolve().parents[3]


async def _reads_per_s(cell: FakeForceSensor, window_s: float) -> float:
    before = cell.reads
    await asyncio.sleep(window_s)
    return (cell.reads - before) / window_s


async def _scenario(loop: VirtualTimeLoop) -> tuple[float, float, float, bool]:
    s = load_config(ROOT / "config" / "sim.toml")
    assert s.acu is not None
    cfg = s.acu
    clock = loop.time
    drives: dict[str, FakeDrive] = {}
    cells: dict[str, FakeForceSensor] = {}
    for u in cfg.units:
        model = spool_model(cfg, u.name)
        drive = FakeDrive(
            f"spool-{u.name}", position_rev=0.002, home_window_rev=0.0005, clock=clock
        )

        def hanging(d: FakeDrive = drive, m: SpoolModel = model) -> float:
            return m.expected_tension_n(max(0.0, d.position_rev))

        drives[u.name] = drive
        cells[u.name] = FakeForceSensor(f"cell-{u.name}", tension_fn=hanging)
    tt = Turntable("turntable", home_window_rev=0.0005, clock=clock)
    outbox = Outbox()
    house = House(s.house, FakeIo(valve_travel_s=0.5, clock=clock), outbox)
    units: dict[str, tuple[Drive, ForceSensor]] = {n: (drives[n], cells[n]) for n in drives}
    acu = Acu(cfg, AcuAxes(cfg, tt, units), house, outbox)
    cell = cells["A"]
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(house.run()), tg.create_task(acu.run())]
        await asyncio.sleep(2.0)
        idle_hz = await _reads_per_s(cell, 20.0)
        acu.submit(Command("c-home", "acu", "home", {}, "t", ReplyRoute()))
        while acu.state != "PARKED" or acu.command is not None:
            await asyncio.sleep(0.1)
        await asyncio.sleep(2.0)
        parked_hz = await _reads_per_s(cell, 20.0)
        acu.submit(
            Command("c-dep", "acu", "deploy", {"unit": "A", "z_m": -15.0}, "t", ReplyRoute())
        )
        while not drives["A"].moving:
            await asyncio.sleep(0.01)
        moving_hz = await _reads_per_s(cell, 5.0)
        still_moving = drives["A"].moving and acu.state == "DEPLOYING"
        for t in tasks:
            t.cancel()
    return idle_hz, parked_hz, moving_hz, still_moving


def test_fast_polls_while_moving_slow_polls_when_idle() -> None:
    loop = VirtualTimeLoop()
    try:
        idle_hz, parked_hz, moving_hz, still_moving = loop.run_until_complete(_scenario(loop))
    finally:
        loop.close()
    cfg = load_config(ROOT / "config" / "sim.toml").acu
    assert cfg is not None and (cfg.poll_fast_hz, cfg.poll_idle_s) == (50.0, 0.5)
    assert still_moving  # the whole window was motion (a 5 s share of a long deploy)
    assert abs(moving_hz - cfg.poll_fast_hz) <= 1.0, moving_hz
    for hz in (idle_hz, parked_hz):
        assert abs(hz - 1 / cfg.poll_idle_s) <= 0.1, (idle_hz, parked_hz)
