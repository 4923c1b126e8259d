"""The ACU FSM against in-memory fake drives (pure logic: no broker, no protocol)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from calibd.config import AcuCfg, HouseCfg, load_config
from calibd.core.commands import Command, ReplyRoute
from calibd.core.errors import CommandError
from calibd.core.outbox import Outbox
from calibd.core.spool import SpoolModel
from calibd.subsystems.acu import STATES, TRANSITIONS, Acu
from calibd.subsystems.acu_axes import AcuAxes, spool_model
from calibd.subsystems.house import House
from drivers.fake_drive import FakeDrive
from drivers.fake_io import FakeIo
from drivers.fake_sensors import FakeForceSensor
from drivers.stepper import DriveStatus

ROOT = Path(__file__).resolve().parents[3]


class Turntable(FakeDrive):
    """Index switches DI1..DI4 follow the turntable angle (units at 0/90/180/270 degrees)."""

    async def read_status(self) -> DriveStatus:
        st = await super().read_status()
        inputs = 0
        for k in range(4):
            if abs(st.encoder_rev * 360 - 90 * k) < 0.2 and self.homed:
                inputs |= 1 << k
        return DriveStatus(**{**st.__dict__, "inputs": inputs})


@dataclass
class Rig:
    acu: Acu
    house: House
    drives: dict[str, FakeDrive]
    cells: dict[str, FakeForceSensor]
    turntable: Turntable
    io: FakeIo
    outbox: Outbox

    async def cmd(self, action: str, **args: Any) -> None:
        self.acu.submit(Command(f"t-{action}-{id(args)}", "acu", action, args, "t", ReplyRoute()))

    async def until(self, state: str, timeout_s: float = 5.0) -> None:
        async with asyncio.timeout(timeout_s):
            while self.acu.state != state or self.acu.command is not None:
                await asyncio.sleep(0.005)


def _configs() -> tuple[AcuCfg, HouseCfg]:
    s = load_config(ROOT / "config" / "sim.toml")
    assert s.acu is not None
    acu = s.acu.model_copy(
        update={
            "speed_m_s": 20.0,
            "home_speed_m_s": 1.0,
            "poll_fast_hz": 200.0,
            "poll_idle_s": 0.01,
            "move_margin_s": 1.0,
            "turntable": s.acu.turntable.model_copy(update={"speed_deg_s": 3600.0}),
        }
    )
    return acu, s.house


def _hanging(drive: FakeDrive, model: SpoolModel) -> Callable[[], float]:
    """The load cell reads what a freely hanging source would pull."""
    return lambda: model.expected_tension_n(max(0.0, drive.position_rev))


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    acu_cfg, house_cfg = _configs()
    outbox = Outbox()
    drives: dict[str, FakeDrive] = {}
    cells: dict[str, FakeForceSensor] = {}
    units: dict[str, Any] = {}
    for u in acu_cfg.units:
        model = spool_model(acu_cfg, u.name)
        drive = FakeDrive(f"spool-{u.name}", position_rev=0.002, home_window_rev=0.0005)
        cell = FakeForceSensor(f"cell-{u.name}", tension_fn=_hanging(drive, model))
        drives[u.name], cells[u.name] = drive, cell
        units[u.name] = (drive, cell)
    tt = Turntable("turntable", home_window_rev=0.0005)
    io = FakeIo(valve_travel_s=0.01)
    house = House(house_cfg, io, outbox)
    acu = Acu(acu_cfg, AcuAxes(acu_cfg, tt, units), house, outbox)
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(house.run()), tg.create_task(acu.run())]
        await asyncio.sleep(0.05)
        for d in (tt, *drives.values()):  # a starting daemon first stops every drive
            assert d.commands[:1] == [("halt", ())]
            d.commands.clear()
        yield Rig(acu, house, drives, cells, tt, io, outbox)
        for t in tasks:
            t.cancel()


def test_table_every_state_reachable_and_can_fault() -> None:
    dests = {row["dest"] for row in TRANSITIONS}
    assert set(STATES) - {"UNKNOWN"} <= dests
    fault_sources = {s for row in TRANSITIONS if row["trigger"] == "fault" for s in row["source"]}
    assert fault_sources == set(STATES) - {"FAULT"}
    assert all(row["source"] == "FAULT" for row in TRANSITIONS if row["trigger"] == "reset")


async def test_home_deploy_move_retract(rig: Rig) -> None:
    await rig.cmd("home")
    await rig.until("PARKED")
    assert rig.acu.axes.homed and rig.acu.axes.current == "A"
    await rig.cmd("deploy", unit="B", z_m=2.0)
    await rig.until("AT_POSITION")
    assert rig.acu.axes.current == "B"
    assert abs((rig.acu.axes.z_m("B") or 0) - 2.0) <= 0.0005
    assert rig.io.valve_open(0) is True
    await rig.cmd("move", z_m=-16.0)
    await rig.until("AT_POSITION")
    assert abs((rig.acu.axes.z_m("B") or 0) + 16.0) <= 0.0005
    await rig.cmd("retract")
    await rig.until("PARKED")
    assert rig.io.valve_open(0) is False


async def test_select_refused_while_busy_and_out_of_range(rig: Rig) -> None:
    await rig.cmd("home")
    with pytest.raises(CommandError) as exc:
        await rig.cmd("select", unit="B")
    assert exc.value.code == "busy"
    await rig.until("PARKED")
    with pytest.raises(CommandError) as exc:
        await rig.cmd("deploy", unit="A", z_m=-17.6)
    assert exc.value.code == "out_of_range"
    with pytest.raises(CommandError) as exc:
        await rig.cmd("move", z_m=0.0)
    assert exc.value.code == "invalid_state"


async def test_stop_cancels_deploy_and_halts(rig: Rig) -> None:
    rig.acu.cfg = rig.acu.motion.cfg = rig.acu.cfg.model_copy(update={"speed_m_s": 0.5})
    await rig.cmd("home")
    await rig.until("PARKED")
    await rig.cmd("deploy", unit="A", z_m=-10.0)
    async with asyncio.timeout(5):
        while rig.drives["A"].position_rev < 2:
            await asyncio.sleep(0.01)
    await rig.cmd("stop")
    await rig.until("STOPPED")
    assert any(c[0] == "halt" for c in rig.drives["A"].commands)
    pos = rig.drives["A"].position_rev
    await asyncio.sleep(0.1)
    assert rig.drives["A"].position_rev == pytest.approx(pos, abs=1e-9)


async def test_snag_latches_fault_until_cause_gone(rig: Rig) -> None:
    await rig.cmd("home")
    await rig.until("PARKED")
    rig.cells["A"].tension_fn = lambda: 50.0
    async with asyncio.timeout(2):
        while rig.acu.state != "FAULT":
            await asyncio.sleep(0.005)
    assert rig.acu.latched is not None and rig.acu.latched.code == "snag"
    with pytest.raises(CommandError) as exc:
        await rig.cmd("reset")
    assert exc.value.code == "interlock"
    rig.cells["A"].tension_fn = None
    rig.cells["A"].tension_n = 1.96
    await asyncio.sleep(0.05)
    await rig.cmd("reset")
    await rig.until("PARKED")


async def test_lost_reference_faults_and_reset_requires_homing(rig: Rig) -> None:
    await rig.cmd("home")
    await rig.until("PARKED")
    rig.drives["D"].homed = False  # e.g. the drive lost power and its counters
    async with asyncio.timeout(2):
        while rig.acu.state != "FAULT":
            await asyncio.sleep(0.005)
    assert rig.acu.latched is not None and rig.acu.latched.code == "position_lost"
    await rig.cmd("reset")
    await rig.until("UNKNOWN")
    assert not rig.acu.axes.homed
    with pytest.raises(CommandError) as exc:
        await rig.cmd("deploy", unit="A", z_m=0.0)
    assert exc.value.code == "invalid_state"
    await rig.cmd("home")
    await rig.until("PARKED")


async def test_device_loss_is_a_fault(rig: Rig) -> None:
    rig.drives["C"].lost = True
    async with asyncio.timeout(2):
        while rig.acu.state != "FAULT":
            await asyncio.sleep(0.005)
    assert rig.acu.latched is not None and rig.acu.latched.code == "comm_loss"


async def test_a_snag_while_deploying_halts_at_the_first_poll_that_reads_it(rig: Rig) -> None:
    """Issue 2: over-tension stops the unit within one poll. Each reading of the snagged cell
    notes whether the drive had already been halted: only the first may precede the halt."""
    await rig.cmd("home")
    await rig.until("PARKED")
    await rig.cmd("deploy", unit="A", z_m=-16.0)
    drive = rig.drives["A"]
    async with asyncio.timeout(5):
        while not (rig.acu.state == "DEPLOYING" and drive.moving and drive.position_rev > 1.0):
            await asyncio.sleep(0.005)
    halted_before_read: list[bool] = []

    def snag_n() -> float:
        halted_before_read.append(any(name == "halt" for name, _ in drive.commands))
        return 50.0

    rig.cells["A"].tension_fn = snag_n
    await rig.until("FAULT")
    async with asyncio.timeout(2):  # the next poll reads the cell again
        while len(halted_before_read) < 2:
            await asyncio.sleep(0.005)
    assert rig.acu.latched is not None and rig.acu.latched.code == "snag"
    assert halted_before_read[0] is False
    assert all(halted_before_read[1:]), halted_before_read
    assert not drive.moving
