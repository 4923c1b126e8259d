"""The GT FSM against in-memory fake drives; the load cells read a fake plant (the simulator's
loop physics on the fake drums), so positions and tensions are consistent."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from calibd.cfg_gt import GtCfg
from calibd.config import load_config
from calibd.core.commands import Command, ReplyRoute
from calibd.core.errors import CommandError
from calibd.core.outbox import Outbox
from calibd.subsystems.gt import STATES, TRANSITIONS, Gt
from calibd.subsystems.gt_axes import GtAxes
from drivers.fake_drive import FakeDrive
from drivers.fake_sensors import FakeForceSensor
from simulators.config import load_config as load_sim_config
from simulators.gt_physics import LoopPhysics, LoopState

ROOT = Path(__file__).resolve().parents[3]


class NoValves:
    """The GT has no gate valve: any call is a bug."""

    def valve(self, name: str) -> str:
        raise AssertionError("the GT has no valve")

    async def open_valve(self, name: str) -> None:
        raise AssertionError("the GT has no valve")

    async def close_valve(self, name: str) -> None:
        raise AssertionError("the GT has no valve")


class Plant:
    """The true loop on two fake drums (drum revolutions from the reference marks)."""

    def __init__(self, cfg: GtCfg, top: FakeDrive, bottom: FakeDrive) -> None:
        sim = load_sim_config(ROOT / "config" / "sim.toml", env={}).gt
        assert sim is not None
        self.physics = LoopPhysics.from_cfg(sim)
        self.m_per_rev = cfg.spool.metres_per_rev
        self.a0, self.b0 = self.physics.lengths_for(math.radians(2.5), 20.0, -1)
        self.top, self.bottom = top, bottom
        self.d = -1
        self.last = (top.position_rev, bottom.position_rev)

    def state(self) -> LoopState:
        for drive in (self.top, self.bottom):
            drive.advance(0.0)
        now = (self.top.position_rev, self.bottom.position_rev)
        moved = (now[0] - self.last[0], now[1] - self.last[1])
        if moved[0] > 0 and moved[1] > 0:
            self.d = 1
        elif moved[0] < 0 and moved[1] < 0:
            self.d = -1
        if moved != (0.0, 0.0):
            self.last = now
        a = self.a0 + now[0] * self.m_per_rev
        b = self.b0 - now[1] * self.m_per_rev
        return self.physics.solve(a, b, self.d)


@dataclass
class Rig:
    gt: Gt
    drives: dict[str, FakeDrive]
    cells: dict[str, FakeForceSensor]
    plant: Plant

    async def cmd(self, action: str, **args: Any) -> None:
        self.gt.submit(Command(f"t-{action}-{id(args)}", "gt", action, args, "t", ReplyRoute()))

    async def until(self, state: str, timeout_s: float = 5.0) -> None:
        async with asyncio.timeout(timeout_s):
            while self.gt.state != state or self.gt.command is not None:
                await asyncio.sleep(0.005)

    def true_theta_deg(self) -> float:
        return self.plant.state().theta_deg


def _cfg() -> GtCfg:
    gt = load_config(ROOT / "config" / "sim.toml").gt
    assert gt is not None
    return gt.model_copy(
        update={
            "speed_m_s": 40.0,
            "home_speed_m_s": 5.0,
            "poll_fast_hz": 200.0,
            "poll_idle_s": 0.01,
            "move_margin_s": 1.0,
        }
    )


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    cfg = _cfg()
    drives = {
        n: FakeDrive(f"gt-{n}", position_rev=0.004, home_window_rev=0.0001)
        for n in ("top", "bottom")
    }
    plant = Plant(cfg, drives["top"], drives["bottom"])
    cells = {
        "top": FakeForceSensor("cell-top", tension_fn=lambda: plant.state().tension_top_n),
        "bottom": FakeForceSensor("cell-bottom", tension_fn=lambda: plant.state().tension_bottom_n),
    }
    axes = GtAxes(cfg, {n: (drives[n], cells[n]) for n in drives})
    gt = Gt(cfg, axes, NoValves(), Outbox())
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(gt.run())
        await asyncio.sleep(0.05)
        for d in drives.values():  # a starting daemon first stops every drive
            assert d.commands[:1] == [("halt", ())]
            d.commands.clear()
        yield Rig(gt, drives, cells, plant)
        task.cancel()


def test_table_every_state_reachable_and_can_fault() -> None:
    dests = {row["dest"] for row in TRANSITIONS}
    assert set(STATES) - {"UNKNOWN"} <= dests
    fault_sources = {s for row in TRANSITIONS if row["trigger"] == "fault" for s in row["source"]}
    assert fault_sources == set(STATES) - {"FAULT"}
    assert all(row["source"] == "FAULT" for row in TRANSITIONS if row["trigger"] == "reset")


async def test_home_deploy_move_retract(rig: Rig) -> None:
    await rig.cmd("home")
    await rig.until("PARKED")
    assert rig.gt.axes.homed and rig.gt.axes.all_parked()
    assert rig.gt.status_fields()["deployed"] is False
    for action, theta in (("deploy", 90.0), ("move", 150.0), ("move", 4.0)):
        await rig.cmd(action, theta_deg=theta)
        await rig.until("AT_POSITION")
        believed = rig.gt.axes.theta_deg()
        assert believed is not None
        true_deg = rig.true_theta_deg()
        assert abs(math.radians(believed - true_deg)) * 17.836 < 0.001
        assert abs(math.radians(true_deg - theta)) * 17.836 <= 0.003
        assert rig.gt.status_fields()["deployed"] is True
    assert rig.gt.axes.direction == -1  # the last move went up
    await rig.cmd("retract")
    await rig.until("PARKED")
    assert rig.gt.status_fields()["deployed"] is False
    assert rig.true_theta_deg() == pytest.approx(2.5, abs=0.01)


async def test_rejections_before_anything_moves(rig: Rig) -> None:
    for theta, code in ((178.0, "out_of_range"), (2.0, "out_of_range"), (90.0, "invalid_state")):
        with pytest.raises(CommandError) as exc:
            await rig.cmd("deploy", theta_deg=theta)
        assert exc.value.code == code
    with pytest.raises(CommandError) as exc:
        await rig.cmd("deploy", theta_deg=math.nan)
    assert exc.value.code == "bad_request"
    await rig.cmd("home")
    with pytest.raises(CommandError) as exc:
        await rig.cmd("deploy", theta_deg=90.0)
    assert exc.value.code == "busy"
    await rig.until("PARKED")
    with pytest.raises(CommandError) as exc:
        await rig.cmd("move", theta_deg=90.0)
    assert exc.value.code == "invalid_state"
    assert all(c[0] != "move_to" for d in rig.drives.values() for c in d.commands)


async def test_stop_then_move_on(rig: Rig) -> None:
    rig.gt.cfg = rig.gt.motion.cfg = rig.gt.cfg.model_copy(update={"speed_m_s": 2.0})
    await rig.cmd("home")
    await rig.until("PARKED")
    await rig.cmd("deploy", theta_deg=170.0)
    async with asyncio.timeout(5):
        while rig.drives["top"].position_rev < 3:
            await asyncio.sleep(0.01)
    await rig.cmd("stop")
    await rig.until("STOPPED")
    assert all(any(c[0] == "halt" for c in d.commands) for d in rig.drives.values())
    with pytest.raises(CommandError) as exc:
        await rig.cmd("deploy", theta_deg=20.0)
    assert exc.value.code == "invalid_state"
    rig.gt.cfg = rig.gt.motion.cfg = rig.gt.cfg.model_copy(update={"speed_m_s": 40.0})
    await rig.cmd("move", theta_deg=20.0)
    await rig.until("AT_POSITION")


async def test_snag_latches_until_the_cause_is_gone(rig: Rig) -> None:
    await rig.cmd("home")
    await rig.until("PARKED")
    rig.cells["bottom"].tension_fn = lambda: 150.0
    async with asyncio.timeout(2):
        while rig.gt.state != "FAULT":
            await asyncio.sleep(0.005)
    assert rig.gt.latched is not None and rig.gt.latched.code == "snag"
    assert rig.gt.latched.axis == "bottom"
    with pytest.raises(CommandError) as exc:
        await rig.cmd("reset")
    assert exc.value.code == "interlock"
    plant = rig.plant
    rig.cells["bottom"].tension_fn = lambda: plant.state().tension_bottom_n
    await asyncio.sleep(0.05)
    await rig.cmd("reset")
    await rig.until("PARKED")


async def test_device_loss_is_a_fault(rig: Rig) -> None:
    rig.drives["bottom"].lost = True
    async with asyncio.timeout(2):
        while rig.gt.state != "FAULT":
            await asyncio.sleep(0.005)
    assert rig.gt.latched is not None and rig.gt.latched.code == "comm_loss"
