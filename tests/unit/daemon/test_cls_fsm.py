"""The CLS FSM against in-memory fake drives whose load cells read the simulator's loop
physics (pure logic: no broker, no protocol)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from calibd.config import load_config
from calibd.core.commands import Command, ReplyRoute
from calibd.core.errors import CommandError
from calibd.core.outbox import Outbox
from calibd.subsystems.cls import STATES, TRANSITIONS, Cls
from calibd.subsystems.cls_axes import ClsAxes
from calibd.subsystems.cls_kinematics import ClsModel
from calibd.subsystems.house import House
from drivers.fake_drive import FakeDrive
from drivers.fake_io import FakeIo
from drivers.fake_sensors import FakeForceSensor, FakePositionSensor
from simulators.cls_physics import LoopPhysics
from simulators.config import load_config as load_sim_config

ROOT = Path(__file__).resolve().parents[3]
TOML = ROOT / "config" / "sim.toml"


@dataclass
class Rig:
    cls: Cls
    central: FakeDrive
    side: FakeDrive
    cells: dict[str, FakeForceSensor]
    uss: FakePositionSensor
    io: FakeIo

    async def cmd(self, action: str, **args: Any) -> None:
        self.cls.submit(Command(f"t-{action}-{id(args)}", "cls1", action, args, "t", ReplyRoute()))

    async def until(self, state: str, timeout_s: float = 10.0) -> None:
        async with asyncio.timeout(timeout_s):
            while self.cls.state != state or self.cls.command is not None:
                await asyncio.sleep(0.005)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    settings = load_config(TOML)
    assert settings.cls1 is not None
    cfg = settings.cls1.model_copy(
        update={
            "speed_m_s": 8.0,
            "accel_m_s2": 80.0,
            "home_speed_m_s": 2.0,
            "poll_fast_hz": 200.0,
            "poll_idle_s": 0.01,
            "move_margin_s": 2.0,
            "waypoint_step_m": 1.0,
        }
    )
    sim_cfg = load_sim_config(TOML).cls1
    assert sim_cfg is not None
    physics = LoopPhysics(sim_cfg)
    central = FakeDrive("central", position_rev=0.002, home_window_rev=0.0005)
    side = FakeDrive("side", position_rev=0.002, home_window_rev=0.0005)

    def state() -> Any:
        return physics.state(central.position_rev, side.position_rev, valve_open=True)

    cells = {
        "central": FakeForceSensor("c", tension_fn=lambda: state().central_n),
        "side": FakeForceSensor("s", tension_fn=lambda: state().side_n),
    }
    uss = FakePositionSensor("uss")
    outbox = Outbox()
    io = FakeIo(valve_travel_s=0.01)
    house = House(settings.house, io, outbox)
    axes = ClsAxes(cfg, ClsModel(cfg), (central, cells["central"]), (side, cells["side"]), uss)
    cls = Cls("cls1", cfg, axes, house, outbox)
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(house.run()), tg.create_task(cls.run())]
        await asyncio.sleep(0.05)
        for d in (central, side):  # the first thing a starting daemon does: stop every drive
            assert d.commands[:1] == [("halt", ())]
            d.commands.clear()
        yield Rig(cls, central, side, cells, uss, io)
        for t in tasks:
            t.cancel()


def test_table_every_state_reachable_and_can_fault() -> None:
    dests = {row["dest"] for row in TRANSITIONS}
    assert set(STATES) - {"UNKNOWN"} <= dests
    fault_sources = {s for row in TRANSITIONS if row["trigger"] == "fault" for s in row["source"]}
    assert fault_sources == set(STATES) - {"FAULT"}


async def test_cycle_rejections_and_snag(rig: Rig) -> None:
    with pytest.raises(CommandError) as exc:
        await rig.cmd("deploy", x_m=-3.0, z_m=0.0)
    assert exc.value.code == "out_of_range"
    assert not rig.central.commands and not rig.side.commands  # nothing moved
    await rig.cmd("home")
    await rig.until("PARKED")
    with pytest.raises(CommandError) as exc:
        await rig.cmd("move", x_m=4.0, z_m=2.0)
    assert exc.value.code == "invalid_state"
    await rig.cmd("deploy", x_m=4.0, z_m=2.0)
    await rig.until("AT_POSITION")
    pose = rig.cls.axes.pose
    assert pose is not None and abs(pose.x_m - 4.0) < 0.005 and abs(pose.z_m - 2.0) < 0.005
    assert rig.io.valve_open(1) is True
    status = rig.cls.status_fields()
    assert status["deployed"] is True and status["position"]["x_m"] == pytest.approx(4.0, abs=0.01)
    # the USS disagrees by 10 cm: a warning, nothing stops
    rig.uss.position_fn = lambda: (pose.x_m + 0.1, 0.0, pose.z_m)
    async with asyncio.timeout(2):
        while "uss_mismatch" not in rig.cls.warnings:
            await asyncio.sleep(0.005)
    assert rig.cls.state == "AT_POSITION"
    await rig.cmd("retract")
    await rig.until("PARKED")
    assert rig.io.valve_open(1) is False
    rig.cells["side"].tension_fn = lambda: 60.0
    async with asyncio.timeout(2):
        while rig.cls.state != "FAULT":
            await asyncio.sleep(0.005)
    assert rig.cls.latched is not None and rig.cls.latched.code == "snag"
    with pytest.raises(CommandError) as exc:
        await rig.cmd("reset")
    assert exc.value.code == "interlock"
