"""A rig for the ACU laser's FSM tests: the real ACU on fake drives, load cells and house IO, and
the real laser driver talking to the simulated controller (simulators/laser.py) through an
in-memory line that keeps the order and time of every frame."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from calibd.config import AcuCfg, HouseCfg, load_config
from calibd.core.commands import Command, ReplyRoute
from calibd.core.outbox import Outbox, Outgoing
from calibd.core.spool import SpoolModel
from calibd.subsystems.acu import Acu
from calibd.subsystems.acu_axes import AcuAxes, spool_model
from calibd.subsystems.house import House
from drivers.errors import CommError
from drivers.fake_drive import FakeDrive
from drivers.fake_io import FakeIo
from drivers.fake_sensors import FakeForceSensor
from drivers.laser import LaserController
from drivers.stepper import DriveStatus
from simulators.clock import SimClock
from simulators.laser import LaserController as SimLaser
from simulators.laser import LaserLine

ROOT = Path(__file__).resolve().parents[3]
TIME_SCALE = 100.0


class Turntable(FakeDrive):
    """Index switches DI1..DI4 follow the turntable angle (units at 0/90/180/270 degrees)."""

    async def read_status(self) -> DriveStatus:
        st = await super().read_status()
        inputs = 0
        for k in range(4):
            if abs(st.encoder_rev * 360 - 90 * k) < 0.2 and self.homed:
                inputs |= 1 << k
        return DriveStatus(**{**st.__dict__, "inputs": inputs})


class TimedDrive(FakeDrive):
    """Notes when each halt was sent (the trip order)."""

    halts: list[tuple[float, str]]

    async def halt(self) -> None:
        self.halts.append((time.perf_counter(), self.name))
        await super().halt()


class MemoryLine:
    """The LineBus of the driver: each request answered by the simulated line at once (a
    silent line raises CommError like a SerialLine whose retries ran out)."""

    name = "memory laser line"

    def __init__(self, line: LaserLine) -> None:
        self.line = line
        self.silent = False
        self.frames: list[tuple[float, bytes]] = []
        self._lock = asyncio.Lock()

    async def transact(self, request: bytes, *, terminator: bytes = b"\n") -> bytes:
        async with self._lock:
            self.frames.append((time.perf_counter(), request))
            answer = None if self.silent else self.line.handle(request.rstrip(b"\r"))
            await asyncio.sleep(0)  # an answer takes a turn of the loop, like a pty's
            if answer is None:
                raise CommError(f"{request!r}: no answer", device=self.name)
            return answer

    def sent(self, *, since: int = 0) -> list[bytes]:
        return [r for _, r in self.frames[since:]]


@dataclass
class Rig:
    acu: Acu
    house: House
    drives: dict[str, FakeDrive]
    cells: dict[str, FakeForceSensor]
    turntable: Turntable
    io: FakeIo
    outbox: Outbox
    sim: SimLaser
    line: MemoryLine
    clock: SimClock
    halts: list[tuple[float, str]]
    events: list[dict[str, Any]]

    async def cmd(self, action: str, **args: Any) -> asyncio.Future[tuple[str, Any]]:
        cmd = Command(f"t-{action}-{time.monotonic_ns()}", "acu", action, args, "t", ReplyRoute())
        return self.acu.submit_and_wait(cmd)

    async def run(self, action: str, timeout_s: float = 10.0, **args: Any) -> tuple[str, Any]:
        future = await self.cmd(action, **args)
        async with asyncio.timeout(timeout_s):
            return await future

    async def until(self, ok: Callable[[], bool], timeout_s: float = 5.0) -> None:
        async with asyncio.timeout(timeout_s):
            while not ok():
                await asyncio.sleep(0.005)

    def laser_events(self, change: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == "laser" and change in (None, e["change"])]


def configs(**laser: Any) -> tuple[AcuCfg, HouseCfg]:
    s = load_config(ROOT / "config" / "sim.toml")
    assert s.acu is not None and s.acu.laser is not None
    acu = s.acu.model_copy(
        update={
            "speed_m_s": 50.0,
            "home_speed_m_s": 1.0,
            "poll_fast_hz": 200.0,
            "poll_idle_s": 0.01,
            "move_margin_s": 1.0,
            "turntable": s.acu.turntable.model_copy(update={"speed_deg_s": 3600.0}),
            "laser": s.acu.laser.model_copy(update={"poll_s": 0.01, **laser}),
        }
    )
    return acu, s.house


def _hanging(drive: FakeDrive, model: SpoolModel) -> Callable[[], float]:
    return lambda: model.expected_tension_n(max(0.0, drive.position_rev))


@asynccontextmanager
async def laser_rig(**laser: Any) -> AsyncIterator[Rig]:
    acu_cfg, house_cfg = configs(**laser)
    outbox = Outbox(100_000)
    events: list[dict[str, Any]] = []

    def tap(item: Outgoing) -> None:
        if item.kind == "event":
            events.append(item.payload)

    outbox.taps.append(tap)
    halts: list[tuple[float, str]] = []
    drives: dict[str, FakeDrive] = {}
    cells: dict[str, FakeForceSensor] = {}
    units: dict[str, Any] = {}
    for u in acu_cfg.units:
        model = spool_model(acu_cfg, u.name)
        drive = TimedDrive(f"spool-{u.name}", position_rev=0.002, home_window_rev=0.0005)
        drive.halts = halts
        cell = FakeForceSensor(f"cell-{u.name}", tension_fn=_hanging(drive, model))
        drives[u.name], cells[u.name] = drive, cell
        units[u.name] = (drive, cell)
    tt = Turntable("turntable", home_window_rev=0.0005)
    io = FakeIo(valve_travel_s=0.01)
    house = House(house_cfg, io, outbox)
    clock = SimClock(TIME_SCALE)
    sim = SimLaser(1, random.Random(1), clock.now_s(), noise_c=0.0)
    line = MemoryLine(LaserLine([sim], clock.now_s))
    device = LaserController(line, 1, name="acu-laser-D")
    acu = Acu(
        acu_cfg, AcuAxes(acu_cfg, tt, units), house, outbox, time_scale=TIME_SCALE, laser=device
    )
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(house.run()), tg.create_task(acu.run())]
        await asyncio.sleep(0.05)
        yield Rig(acu, house, drives, cells, tt, io, outbox, sim, line, clock, halts, events)
        for t in tasks:
            t.cancel()


async def deployed(rig: Rig, z_m: float = 17.0, unit: str = "D") -> None:
    """Homed, then `unit` deployed to `z_m`."""
    assert (await rig.run("home"))[0] == "completed"
    result, error = await rig.run("deploy", unit=unit, z_m=z_m)
    assert result == "completed", error
