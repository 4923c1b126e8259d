"""Restart recovery and the expert (maintenance) actions of every deployment system (acu, cls1,
gt, rov), against the in-memory fake rigs of the *_fsm tests.

A `Plant` is the fake hardware of one system; it outlives the daemons started on it, so a test
can run a daemon, stop it, move a drive behind its back and start another one with the first
one's journal: what a restarted calibd meets."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from calibd.config import load_config
from calibd.core.commands import Command, ReplyRoute
from calibd.core.deployment import DeploymentSystem
from calibd.core.deployment_recovery import MISMATCH
from calibd.core.errors import CommandError
from calibd.core.journal import SystemJournal
from calibd.core.outbox import Outbox, Outgoing
from calibd.store.db import Store
from calibd.store.inventory import Inventory
from calibd.store.writer import Writer
from calibd.subsystems import rov_motion
from calibd.subsystems.acu import Acu
from calibd.subsystems.acu_axes import AcuAxes, spool_model
from calibd.subsystems.cls import Cls
from calibd.subsystems.cls_axes import ClsAxes
from calibd.subsystems.cls_kinematics import ClsModel
from calibd.subsystems.gt import Gt
from calibd.subsystems.gt_axes import GtAxes
from calibd.subsystems.house import House
from calibd.subsystems.rov import Rov
from calibd.subsystems.rov_nav import Umbilical
from calibd.subsystems.rov_plant import RovPlant
from drivers.fake_drive import FakeDrive
from drivers.fake_io import FakeIo
from drivers.fake_sensors import FakeForceSensor, FakePositionSensor
from drivers.rov_vehicle import FakeVehicle
from simulators.cls_physics import LoopPhysics as ClsPhysics
from simulators.config import load_config as load_sim_config
from tests.unit.daemon.test_acu_fsm import Turntable, _configs, _hanging
from tests.unit.daemon.test_gt_fsm import NoValves
from tests.unit.daemon.test_gt_fsm import Plant as GtLoop
from tests.unit.daemon.test_gt_fsm import _cfg as gt_cfg
from tests.unit.daemon.test_rov_fsm import _cfg as rov_cfg

ROOT = Path(__file__).resolve().parents[3]
TOML = ROOT / "config" / "sim.toml"
TOLERANCE_COUNTS = 64.0
SYSTEMS = ("acu", "cls1", "gt", "rov")
_ids = itertools.count()

Runner = Callable[[], Coroutine[Any, Any, None]]


class Sink:
    """The journal's store: keeps every snapshot written and counts the commit barriers."""

    def __init__(self) -> None:
        self.docs: list[dict[str, Any]] = []
        self.syncs = 0

    def put(self, sql: str, params: tuple[Any, ...]) -> None:
        self.docs.append(json.loads(params[2]))

    async def sync(self) -> None:
        self.syncs += 1


@dataclass
class Plant:
    """The fake hardware of one system and how to build a daemon's subsystem on it."""

    name: str
    drives: dict[str, FakeDrive]  # by drive-axis name
    build: Callable[[Outbox], tuple[DeploymentSystem, list[Runner]]]
    deploy: dict[str, Any]  # a deploy's arguments
    move: dict[str, Any]  # a move's arguments
    unit: str | None = None  # the slot's unit (ACU)
    mounted: str = ""  # the source the inventory seeds on that slot
    nudge: tuple[str, ...] = ()  # the drives of the deployed source


@dataclass
class Daemon:
    sub: DeploymentSystem
    sink: Sink
    replies: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    def submit(self, action: str, *, expert: bool = False, **args: Any) -> str:
        cmd_id = f"t-{action}-{next(_ids)}"
        self.sub.submit(
            Command(cmd_id, self.sub.name, action, args, "tester", ReplyRoute(), expert)
        )
        return cmd_id

    async def final(self, cmd_id: str, timeout_s: float = 15.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout_s):
            while True:
                for r in self.replies:
                    if r["id"] == cmd_id and r["final"]:
                        return r
                await asyncio.sleep(0.005)

    async def outcome(self, action: str, *, expert: bool = False, **args: Any) -> str:
        """`rejected <code>` (refused at submission), else the final result (and its code)."""
        try:
            cmd_id = self.submit(action, expert=expert, **args)
        except CommandError as exc:
            return f"rejected {exc.code}"
        rep = await self.final(cmd_id)
        return rep["result"] if rep["error"] is None else f"{rep['result']} {rep['error']['code']}"

    async def run(self, action: str, **args: Any) -> None:
        result = await self.outcome(action, **args)
        assert result == "completed", (action, result, self.sub.latched)

    async def first_poll(self, timeout_s: float = 5.0) -> None:
        async with asyncio.timeout(timeout_s):
            while self.sub.polls < 1:
                await asyncio.sleep(0.005)
        await asyncio.sleep(0.02)  # a few more polls: nothing trips on the restored state

    def status(self) -> dict[str, Any]:
        """The status fields. Every call also checks that the presence the interlock board
        reads (`is_deployed`, `present_source`: answered without building the status) agrees."""
        fields = self.sub.status_fields()
        presence = self.sub.presence()
        assert (presence.deployed, presence.source) == (fields["deployed"], fields["source"])
        return fields


@asynccontextmanager
async def daemon(
    plant: Plant,
    persisted: dict[str, Any] | None,
    *,
    first_start: bool = False,
    inventory: Inventory | None = None,
) -> AsyncIterator[Daemon]:
    """A (re)started daemon on `plant`: the journal attached before anything runs."""
    outbox = Outbox()
    sub, runners = plant.build(outbox)
    sink = Sink()
    sub.attach_journal(
        SystemJournal(sub.name, sink, persisted, first_start=first_start), TOLERANCE_COUNTS
    )
    sub.inventory = inventory
    d = Daemon(sub, sink)

    def tap(item: Outgoing) -> None:
        if item.kind == "reply":
            d.replies.append(item.payload)
        elif item.kind == "event":
            d.events.append(item.payload)

    outbox.taps.append(tap)
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(r()) for r in [*runners, sub.run]]
        yield d
        for t in tasks:
            t.cancel()


# ---- the plants (as in test_{acu,cls,gt,rov}_fsm.py) -------------------------------------------


def acu_plant() -> Plant:
    cfg, house_cfg = _configs()
    cfg = cfg.model_copy(update={"home_speed_m_s": 10.0})
    spools = {
        u.name: FakeDrive(f"spool-{u.name}", position_rev=0.002, home_window_rev=0.0005)
        for u in cfg.units
    }
    cells = {
        n: FakeForceSensor(f"cell-{n}", tension_fn=_hanging(d, spool_model(cfg, n)))
        for n, d in spools.items()
    }
    tt = Turntable("turntable", home_window_rev=0.0005)
    io = FakeIo(valve_travel_s=0.01)

    def build(outbox: Outbox) -> tuple[DeploymentSystem, list[Runner]]:
        house = House(house_cfg, io, outbox)
        axes = AcuAxes(cfg, tt, {n: (spools[n], cells[n]) for n in spools})
        return Acu(cfg, axes, house, outbox), [house.run]

    return Plant(
        "acu",
        {"turntable": tt, **spools},
        build,
        deploy={"unit": "A", "z_m": 15.0},
        move={"z_m": 10.0},
        unit="A",
        mounted="AmC-1",
        nudge=("A",),
    )


def cls_plant() -> Plant:
    settings = load_config(TOML)
    assert settings.cls1 is not None
    cfg = settings.cls1.model_copy(
        update={
            "speed_m_s": 8.0,
            "accel_m_s2": 80.0,
            "home_speed_m_s": 10.0,
            "poll_fast_hz": 200.0,
            "poll_idle_s": 0.01,
            "move_margin_s": 2.0,
            "waypoint_step_m": 1.0,
        }
    )
    sim_cfg = load_sim_config(TOML).cls1
    assert sim_cfg is not None
    physics = ClsPhysics(sim_cfg)
    central = FakeDrive("central", position_rev=0.002, home_window_rev=0.0005)
    side = FakeDrive("side", position_rev=0.002, home_window_rev=0.0005)

    last: list[Any] = []

    def state() -> Any:
        # as calibsim does: where the loop has no equilibrium, keep the last one
        try:
            last[:] = [physics.state(central.position_rev, side.position_rev, valve_open=True)]
        except ArithmeticError:
            if not last:
                raise
        return last[0]

    cells = {
        "central": FakeForceSensor("c", tension_fn=lambda: state().central_n),
        "side": FakeForceSensor("s", tension_fn=lambda: state().side_n),
    }
    io = FakeIo(valve_travel_s=0.01)

    def build(outbox: Outbox) -> tuple[DeploymentSystem, list[Runner]]:
        house = House(settings.house, io, outbox)
        axes = ClsAxes(
            cfg,
            ClsModel(cfg),
            (central, cells["central"]),
            (side, cells["side"]),
            FakePositionSensor("uss"),
        )
        return Cls("cls1", cfg, axes, house, outbox), [house.run]

    return Plant(
        "cls1",
        {"central": central, "side": side},
        build,
        deploy={"x_m": 4.0, "z_m": 2.0},
        move={"x_m": 4.0, "z_m": 2.0},
        mounted="AmC-2",
        nudge=("central", "side"),
    )


def gt_plant() -> Plant:
    cfg = gt_cfg().model_copy(update={"home_speed_m_s": 10.0})
    drives = {
        n: FakeDrive(f"gt-{n}", position_rev=0.004, home_window_rev=0.0001)
        for n in ("top", "bottom")
    }
    loop = GtLoop(cfg, drives["top"], drives["bottom"])
    cells = {
        "top": FakeForceSensor("cell-top", tension_fn=lambda: loop.state().tension_top_n),
        "bottom": FakeForceSensor("cell-bottom", tension_fn=lambda: loop.state().tension_bottom_n),
    }

    def build(outbox: Outbox) -> tuple[DeploymentSystem, list[Runner]]:
        axes = GtAxes(cfg, {n: (drives[n], cells[n]) for n in drives})
        return Gt(cfg, axes, NoValves(), outbox), []

    return Plant(
        "gt",
        dict(drives),
        build,
        deploy={"theta_deg": 20.0},
        move={"theta_deg": 30.0},
        mounted="AmC-4",
        nudge=("top", "bottom"),
    )


def rov_plant() -> Plant:
    cfg, house_cfg = rov_cfg()
    cfg = cfg.model_copy(update={"home_speed_m_s": 10.0})
    um = Umbilical.from_cfg(cfg)
    winch = FakeDrive("winch", position_rev=0.002, home_window_rev=0.0005)
    vehicle = FakeVehicle(position_m=(0.0, 0.0, cfg.z_park_m))
    io = FakeIo(valve_travel_s=0.01)

    def paid_m() -> float:
        return um.paid_out_m(max(0.0, winch.position_rev))

    def tension() -> float:
        paid = paid_m()
        return um.slack_tension_n(paid) if vehicle.thrusters_on else um.hanging_tension_n(paid)

    def fix() -> tuple[float, float, float] | None:
        p = vehicle.position_m
        return p if p[2] < cfg.z_exit_m - 0.2 else None

    cell = FakeForceSensor("cell", tension_fn=tension)
    uss = FakePositionSensor("uss", position_fn=fix)

    async def world() -> None:
        """Thrusters on: the vehicle flies; off: it hangs on the winch on the axis."""
        clock = asyncio.get_running_loop()
        last = clock.time()
        while True:
            await asyncio.sleep(0.002)
            now = clock.time()
            if vehicle.thrusters_on:
                vehicle.advance(now - last)
            else:
                vehicle.position_m = (0.0, 0.0, cfg.z_park_m - paid_m())
            last = now

    def build(outbox: Outbox) -> tuple[DeploymentSystem, list[Runner]]:
        house = House(house_cfg, io, outbox)
        plant = RovPlant(cfg, winch, cell, vehicle, uss)
        return Rov(cfg, plant, house, outbox), [house.run, world]

    return Plant(
        "rov",
        {"winch": winch},
        build,
        deploy={"x_m": 1.0, "y_m": -2.0, "z_m": 10.0},
        move={"x_m": 0.0, "y_m": 0.0, "z_m": 12.0},
        mounted="Co60-2",
        nudge=("winch",),
    )


PLANTS = {"acu": acu_plant, "cls1": cls_plant, "gt": gt_plant, "rov": rov_plant}


@pytest.fixture(params=SYSTEMS)
def plant(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Plant:
    monkeypatch.setattr(rov_motion, "HANG_SETTLE_S", 0.02)
    return PLANTS[request.param]()


@pytest.fixture
async def inventory(tmp_path: Path) -> AsyncIterator[Inventory]:
    store = Store.in_dir(tmp_path)
    await store.open()
    inv = Inventory(Writer(store), Outbox(), {n: n.rstrip("0123456789") for n in SYSTEMS})
    await inv.load(load_config(TOML).inventory)
    yield inv
    await inv.writer.flush()
    await store.close()


def resting(plant: Plant) -> str:
    return "HOLDING" if plant.name == "rov" else "AT_POSITION"


async def deployed_journal(plant: Plant) -> tuple[dict[str, Any], dict[str, Any]]:
    """A first daemon (new state directory) homes and deploys; its last snapshot and status."""
    async with daemon(plant, None, first_start=True) as d:
        await d.first_poll()
        assert d.sub.state == "UNKNOWN" and d.sub.latched is None
        await d.run("home")
        await d.run("deploy", **plant.deploy)
        assert d.sub.state == resting(plant)
        assert d.sink.syncs > 0  # the moves waited for their ranges to be committed
        return d.sink.docs[-1], d.status()


async def mismatch_then_slow_retract(d: Daemon, plant: Plant) -> None:
    """FAULT position_mismatch: nothing but a retract gets out of it, and that homes."""
    await d.first_poll()
    assert d.sub.state == "FAULT", d.sub.state
    assert d.sub.latched is not None and d.sub.latched.code == MISMATCH
    assert d.status()["homed"] is False and d.status()["deployed"] is True
    recovery = [e for e in d.events if e["event"] == "recovery"]
    assert [e["outcome"] for e in recovery] == ["mismatch"]
    assert d.sink.docs[-1]["state"] == "FAULT"
    assert await d.outcome("reset") in {"rejected interlock", "failed interlock"}
    assert await d.outcome("move", **plant.move) == "rejected interlock"
    assert await d.outcome("deploy", **plant.deploy) == "rejected interlock"
    assert await d.outcome("override", accept="unknown") == "rejected unauthorized"
    assert d.sub.state == "FAULT" and d.sub.latched.code == MISMATCH
    for drive in plant.drives.values():
        drive.commands.clear()
    await d.run("retract")
    assert d.sub.state == "PARKED" and d.sub.latched is None
    assert d.status()["homed"] is True and d.status()["deployed"] is False
    assert any(c[0] == "home" for dr in plant.drives.values() for c in dr.commands)
    assert all(dr.homed and not dr.moving for dr in plant.drives.values())
    assert d.sink.docs[-1]["state"] == "PARKED" and d.sink.docs[-1]["homed"] is True


# ---- restart recovery --------------------------------------------------------------------------


async def test_agreeing_snapshot_restores_then_a_moved_drive_is_a_mismatch(plant: Plant) -> None:
    persisted, before = await deployed_journal(plant)
    assert persisted["state"] == resting(plant) and persisted["homed"] is True

    async with daemon(plant, persisted) as d:
        await d.first_poll()
        assert d.sub.state == resting(plant) and d.sub.latched is None
        status = d.status()
        assert status["homed"] is True and status["deployed"] is True
        assert status["target"] == before["target"]
        if plant.name == "acu":
            assert status["position"] == before["position"]
            assert status["position"]["unit"] == "A"
            assert status["position"]["z_m"] == pytest.approx(15.0, abs=0.001)
        recovery = [e for e in d.events if e["event"] == "recovery"]
        assert [(e["outcome"], e["state"]) for e in recovery] == [("restore", resting(plant))]
        assert not [e for e in d.events if e["event"] == "fault"]
        persisted = d.sink.docs[-1]
        assert persisted["state"] == resting(plant)

    # while no daemon runs, someone turns the drums of the deployed source by hand
    for name in plant.nudge:
        plant.drives[name].position_rev += 0.2
    async with daemon(plant, persisted) as d:
        await mismatch_then_slow_retract(d, plant)
        fault = next(e for e in d.events if e["event"] == "fault")
        assert fault["code"] == MISMATCH and "drive reads" in fault["message"]


async def test_no_record_with_a_source_out_is_a_mismatch(plant: Plant) -> None:
    # not a first start (the store was lost), never homed, the drives off their home switches
    async with daemon(plant, None, first_start=False) as d:
        await mismatch_then_slow_retract(d, plant)
        fault = next(e for e in d.events if e["event"] == "fault")
        assert fault["message"].startswith("no persisted record, but ")


async def test_first_start_is_unknown_not_a_fault(plant: Plant) -> None:
    async with daemon(plant, None, first_start=True) as d:
        await d.first_poll()
        assert d.sub.state == "UNKNOWN" and d.sub.latched is None
        assert d.sink.docs and d.sink.docs[-1]["state"] == "UNKNOWN"
        recovery = [e for e in d.events if e["event"] == "recovery"]
        assert [(e["outcome"], e["state"]) for e in recovery] == [("unknown", "UNKNOWN")]


async def test_expert_override_accepts_the_drives_or_the_unknown() -> None:
    plant = acu_plant()
    for drive in plant.drives.values():
        drive.homed, drive.position_rev = True, 0.0
    plant.drives["A"].position_rev = 0.5
    ranges = {name: [0.0, 0.0] for name in plant.drives} | {"A": [0.3, 0.3]}
    persisted = {"state": "AT_POSITION", "homed": True, "ranges": ranges, "target": None}
    async with daemon(plant, persisted) as d:
        await d.first_poll()
        assert d.sub.state == "FAULT" and d.sub.latched is not None
        assert d.sub.latched.message == "A: persisted +0.3000 rev, drive reads +0.5000 rev"
        assert await d.outcome("override", accept="drive") == "rejected unauthorized"
        assert await d.outcome("override", expert=True, accept="drive") == "completed"
        assert d.sub.state == "STOPPED" and d.sub.latched is None
        assert d.status()["homed"] is True and d.status()["deployed"] is True
        override = next(e for e in d.events if e["event"] == "override")
        assert (override["accept"], override["operator"]) == ("drive", "tester")
        await d.run("retract")
        assert d.sub.state == "PARKED" and plant.drives["A"].position_rev == 0.0

    # the drives lost their reference: their readings cannot be accepted, only the unknown
    plant = acu_plant()
    async with daemon(plant, None) as d:
        await d.first_poll()
        assert d.sub.latched is not None and d.sub.latched.code == MISMATCH
        assert await d.outcome("override", expert=True, accept="drive") == (
            "rejected invalid_state"
        )
        assert await d.outcome("override", expert=True, accept="unknown") == "completed"
        assert d.sub.state == "UNKNOWN" and d.sub.latched is None
        assert d.status()["homed"] is False
        assert await d.outcome("override", expert=True, accept="unknown") == (
            "rejected invalid_state"
        )  # only in FAULT
        await d.run("home")
        assert d.sub.state == "PARKED"


# ---- expert (maintenance) actions ---------------------------------------------------------------


async def test_mount_unmount_only_while_parked_and_only_as_expert(
    plant: Plant, inventory: Inventory
) -> None:
    slot: dict[str, Any] = {} if plant.unit is None else {"unit": plant.unit}
    async with daemon(plant, None, first_start=True, inventory=inventory) as d:
        await d.first_poll()
        await d.run("home")
        assert d.status()["source"] == plant.mounted

        assert await d.outcome("unmount", **slot) == "rejected unauthorized"
        assert await d.outcome("override", accept="drive") == "rejected unauthorized"
        assert await d.outcome("home", expert=True) == "rejected unknown_action"
        assert await d.outcome("status", expert=True) == "rejected unknown_action"
        assert d.status()["source"] == plant.mounted

        assert await d.outcome("unmount", expert=True, **slot) == "completed"
        assert d.status()["source"] is None
        assert inventory.mounted(plant.name, plant.unit) is None
        record = inventory.get(plant.mounted)
        assert record is not None and record.state == "checked_out"
        assert await d.outcome("mount", expert=True, source="Cs137-1", **slot) == "completed"
        assert d.status()["source"] == "Cs137-1"
        # override applies to a position mismatch only
        assert await d.outcome("override", expert=True, accept="drive") == "rejected invalid_state"

        await d.run("deploy", **plant.deploy)
        assert d.status()["deployed"] is True and d.status()["source"] == "Cs137-1"
        refused = await d.outcome("unmount", expert=True, **slot)
        assert refused == "rejected invalid_state"
        refused = await d.outcome("mount", expert=True, source="Mn54-1", **slot)
        assert refused == "rejected invalid_state"
        mounted = inventory.mounted(plant.name, plant.unit)
        assert mounted is not None and mounted.id == "Cs137-1"
        record = inventory.get("Mn54-1")
        assert record is not None and record.state == "in_stock"
