"""The ROV FSM against in-memory fakes (winch, load cell, vehicle, USS): pure logic."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from calibd.cfg_rov import RovCfg
from calibd.config import load_config
from calibd.core.commands import Command, ReplyRoute
from calibd.core.errors import CommandError
from calibd.core.outbox import Outbox
from calibd.subsystems import rov_motion
from calibd.subsystems.house import House
from calibd.subsystems.rov import STATES, TRANSITIONS, Rov
from calibd.subsystems.rov_nav import Umbilical
from calibd.subsystems.rov_plant import RovPlant
from drivers.fake_drive import FakeDrive
from drivers.fake_io import FakeIo
from drivers.fake_sensors import FakeForceSensor, FakePositionSensor
from drivers.rov_vehicle import FakeVehicle

ROOT = Path(__file__).resolve().parents[3]
ROV_VALVE_CHANNEL = 3


def _cfg() -> tuple[RovCfg, Any]:
    s = load_config(ROOT / "config" / "sim.toml")
    assert s.rov is not None
    fast = s.rov.model_copy(
        update={
            "winch_speed_m_s": 20.0,
            "winch_accel_m_s2": 200.0,
            "payout_speed_m_s": 40.0,
            "home_speed_m_s": 5.0,
            "speed_max_m_s": 10.0,
            "nav_gain_per_s": 20.0,
            "settle_s": 0.02,
            "poll_fast_hz": 200.0,
            "poll_idle_s": 0.01,
            "move_margin_s": 2.0,
        }
    )
    return fast, s.house


@dataclass
class Rig:
    rov: Rov
    winch: FakeDrive
    vehicle: FakeVehicle
    io: FakeIo
    um: Umbilical

    async def cmd(self, action: str, **args: Any) -> None:
        self.rov.submit(Command(f"t-{action}-{id(args)}", "rov", action, args, "t", ReplyRoute()))

    async def until(self, state: str, timeout_s: float = 20.0) -> None:
        async with asyncio.timeout(timeout_s):
            while self.rov.state != state or self.rov.command is not None:
                await asyncio.sleep(0.005)

    def paid_m(self) -> float:
        return self.um.paid_out_m(max(0.0, self.winch.position_rev))


async def _world(rig: Rig, cfg: RovCfg) -> None:
    """Thrusters on: the vehicle flies; off: it hangs on the winch on the axis."""
    loop = asyncio.get_running_loop()
    last = loop.time()
    while True:
        await asyncio.sleep(0.002)
        now = loop.time()
        if rig.vehicle.thrusters_on:
            rig.vehicle.advance(now - last)
        else:
            rig.vehicle.position_m = (0.0, 0.0, cfg.z_park_m - rig.paid_m())
        last = now


@pytest.fixture
async def rig(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Rig]:
    monkeypatch.setattr(rov_motion, "HANG_SETTLE_S", 0.02)
    cfg, house_cfg = _cfg()
    outbox = Outbox()
    um = Umbilical.from_cfg(cfg)
    winch = FakeDrive("winch", position_rev=0.002, home_window_rev=0.0005)
    vehicle = FakeVehicle(position_m=(0.0, 0.0, cfg.z_park_m))
    rig_box: list[Rig] = []

    def tension() -> float:
        paid = rig_box[0].paid_m()
        return um.slack_tension_n(paid) if vehicle.thrusters_on else um.hanging_tension_n(paid)

    def fix() -> tuple[float, float, float] | None:
        p = vehicle.position_m
        return p if p[2] < cfg.z_exit_m - 0.2 else None

    cell = FakeForceSensor("cell", tension_fn=tension)
    uss = FakePositionSensor("uss", position_fn=fix)
    io = FakeIo(valve_travel_s=0.01)
    house = House(house_cfg, io, outbox)
    plant = RovPlant(cfg, winch, cell, vehicle, uss)
    rov = Rov(cfg, plant, house, outbox)
    rig_box.append(Rig(rov, winch, vehicle, io, um))
    async with asyncio.TaskGroup() as tg:
        tasks = [
            tg.create_task(house.run()),
            tg.create_task(rov.run()),
            tg.create_task(_world(rig_box[0], cfg)),
        ]
        await asyncio.sleep(0.05)
        assert rig_box[0].winch.commands[:1] == [("halt", ())]  # a starting daemon stops it
        rig_box[0].winch.commands.clear()
        yield rig_box[0]
        for t in tasks:
            t.cancel()


def test_table_every_state_reachable_and_can_fault() -> None:
    dests = {row["dest"] for row in TRANSITIONS}
    assert set(STATES) - {"UNKNOWN"} <= dests
    fault_sources = {s for row in TRANSITIONS if row["trigger"] == "fault" for s in row["source"]}
    assert fault_sources == set(STATES) - {"FAULT"}


async def test_home_deploy_move_retract(rig: Rig) -> None:
    await rig.cmd("home")
    await rig.until("PARKED")
    assert rig.rov.plant.homed and rig.rov.plant.parked
    beats = rig.vehicle.heartbeats
    await asyncio.sleep(0.05)
    assert rig.vehicle.heartbeats > beats  # the vehicle hears from us even while parked
    assert all(not on for _, on in rig.vehicle.commands)

    await rig.cmd("deploy", x_m=1.0, y_m=-2.0, z_m=10.0)
    await rig.until("HOLDING")
    assert rig.io.valve_open(ROV_VALVE_CHANNEL) is True
    pos = rig.rov.plant.position()
    assert pos is not None
    assert max(abs(a - b) for a, b in zip(pos, (1.0, -2.0, 10.0), strict=True)) <= 0.02
    assert rig.vehicle.thrusters_on
    # umbilical: the straight path plus the slack margin
    need = rig.um.path_m((1.0, -2.0, 10.0)) + rig.rov.cfg.slack_margin_m
    assert rig.paid_m() == pytest.approx(need, abs=0.01)
    # heartbeats keep coming while holding station
    beats = rig.vehicle.heartbeats
    await asyncio.sleep(0.05)
    assert rig.vehicle.heartbeats >= beats + 3

    await rig.cmd("move", x_m=-3.0, y_m=0.0, z_m=5.0)
    await rig.until("HOLDING")
    assert rig.rov.plant.nav.error_m() is not None
    assert (rig.rov.plant.nav.error_m() or 1.0) <= 0.02

    await rig.cmd("retract")
    await rig.until("PARKED")
    assert rig.rov.plant.parked and not rig.vehicle.thrusters_on
    assert rig.io.valve_open(ROV_VALVE_CHANNEL) is False


async def test_bad_targets_and_states_refused(rig: Rig) -> None:
    with pytest.raises(CommandError) as exc:
        await rig.cmd("deploy", x_m=0.0, y_m=0.0, z_m=-17.4)
    assert exc.value.code == "out_of_range"
    with pytest.raises(CommandError) as exc:
        await rig.cmd("deploy", x_m=0.0, y_m=0.0, z_m=5.0)
    assert exc.value.code == "invalid_state"  # UNKNOWN: home first
    await rig.cmd("home")
    with pytest.raises(CommandError) as exc:
        await rig.cmd("home")
    assert exc.value.code == "busy"
    await rig.until("PARKED")
    with pytest.raises(CommandError) as exc:
        await rig.cmd("move", x_m=0.0, y_m=0.0, z_m=5.0)
    assert exc.value.code == "invalid_state"
    with pytest.raises(CommandError) as exc:
        await rig.cmd("deploy", x_m=0.0, y_m=0.0, z_m=float("nan"))
    assert exc.value.code == "bad_request"


async def test_thruster_fault_zeroes_thrust_halts_winch_and_resets(rig: Rig) -> None:
    await rig.cmd("home")
    await rig.until("PARKED")
    await rig.cmd("deploy", x_m=2.0, y_m=0.0, z_m=8.0)
    await asyncio.sleep(0.3)  # launching or navigating: the winch may be moving
    rig.vehicle.fault()
    await rig.until("FAULT")
    assert rig.rov.latched is not None and rig.rov.latched.code == "thruster_fault"
    assert rig.vehicle.commands[-1] == ((0.0, 0.0, 0.0), False)
    assert rig.winch.commands[-1][0] == "halt" and not rig.winch.moving
    with pytest.raises(CommandError) as exc:
        await rig.cmd("move", x_m=1.0, y_m=0.0, z_m=8.0)
    assert exc.value.code == "interlock" and "thruster_fault" in exc.value.message
    rig.vehicle.fault_cleared = True
    await rig.cmd("reset")
    await rig.until("STOPPED")
    assert rig.rov.latched is None


async def test_lost_uss_while_navigating_is_a_fault(rig: Rig) -> None:
    await rig.cmd("home")
    await rig.until("PARKED")
    await rig.cmd("deploy", x_m=0.0, y_m=3.0, z_m=12.0)
    await rig.until("HOLDING")
    rig.rov.plant.uss.lost = True  # type: ignore[attr-defined]
    await rig.until("FAULT")
    assert rig.rov.latched is not None and rig.rov.latched.code == "comm_loss"
    assert not rig.vehicle.thrusters
    with pytest.raises(CommandError) as exc:
        await rig.cmd("reset")
    assert exc.value.code == "interlock"
