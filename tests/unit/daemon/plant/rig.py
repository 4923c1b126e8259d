"""The whole plant on in-memory fakes, on virtual time: acu, cls1, cls2, gt, rov and the house
(one FakeIo), the interlock board and the dispatcher, with a `Monitor` that judges the safety
invariants from the fakes' TRUE state (drum positions), never from the daemon's beliefs.

Physics (as in the per-system FSM tests): ACU load cells read what a hanging source pulls,
CLS/GT cells read the simulator's loop physics on the true drums, the ROV hangs on its winch
with the thrusters off and flies with them on. `PlantDrive` adds to `FakeDrive` a true drum
position apart from the motor and encoder counters, so stall (drum stays, motor runs) and slip
(encoder stays, drum runs) can be injected, switches that follow the drum, and limit switches
at the simulator's positions where the drive stops with a limit alarm.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable
from typing import Any

from calibd.cfg_cls import ClsCfg
from calibd.core.commands import Inbound
from calibd.core.dispatcher import Dispatcher
from calibd.core.outbox import Outbox
from calibd.core.spool import Drum
from calibd.core.subsystem import Subsystem
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
from drivers.base import Drive, ForceSensor
from drivers.fake_sensors import FakePositionSensor
from drivers.load_cell import LoadStatus
from drivers.stepper import AlarmCode
from simulators import cls_physics
from tests.unit.daemon.plant.config import IMMEDIATE, Clock, Fault, configs, make_board
from tests.unit.daemon.plant.fakes import (
    GtLoop,
    LoopPlant,
    PlantCell,
    PlantDrive,
    PlantIo,
    PlantVehicle,
    Turntable,
)
from tests.unit.daemon.plant.monitor import Monitor

# ---- the rig -------------------------------------------------------------------------------------


def _limits(drum: Drum, cable_m: float) -> tuple[float, float]:
    """Over-wind and end-of-cable switches of a spool (as the simulator places them)."""
    return drum.rev_for_paid_out(-0.02), drum.rev_for_paid_out(cable_m - 1.0)


class Rig:
    """Every system on fakes sharing one house; `run()` is the daemon's task tree."""

    def __init__(self, clock: Clock) -> None:
        cfg = configs()
        d = cfg.daemon
        poll_s = 1.0 / d.acu.poll_fast_hz  # every system polls at the same rate
        # reaction allowed to an e-stop: to the command, one poll of the systems; to the
        # input, from the house's reading that shows it open, one board period and one poll
        self.estop_grace_s = poll_s
        self.input_grace_s = cfg.board_period_s + poll_s
        self.clock = clock
        self.monitor = Monitor(clock, cfg.interlocks)
        self.outbox = Outbox()
        self.io = PlantIo(self.monitor, self.input_grace_s, valve_travel_s=0.1, clock=clock)
        self.house = House(d.house, self.io, self.outbox)
        self.drives: dict[str, PlantDrive] = {}
        self.cells: dict[str, PlantCell] = {}
        self.uss: dict[str, FakePositionSensor] = {}
        self.subsystems: dict[str, Subsystem] = {
            "house": self.house,
            "acu": self._acu(),
            "cls1": self._cls("cls1", d.cls1, cfg.sim.cls1),
            "cls2": self._cls("cls2", d.cls2, cfg.sim.cls2),
            "gt": self._gt(),
            "rov": self._rov(),
        }
        self.board = make_board(self.subsystems, self.house, self.outbox, cfg.interlocks)
        self.dispatcher = Dispatcher(self.subsystems, self.outbox, self.board)
        self.replies: dict[str, list[str]] = {}  # command id -> results, in order
        self.sent: dict[str, str] = {}  # command id -> "system.action"
        self.task: asyncio.Task[None] | None = None
        self._n = 0

    def _drive(self, name: str, system: str, cpr: int, **kw: Any) -> PlantDrive:
        drive = PlantDrive(name, self.monitor, clock=self.clock, counts_per_rev=cpr, **kw)
        self.drives[name] = drive
        self.monitor.drives.append(drive)
        self.monitor.spools[system].append(drive)
        return drive

    def _cell(self, name: str, plant: Callable[[], float], range_n: float) -> PlantCell:
        self.cells[name] = PlantCell(name, plant, range_n)
        return self.cells[name]

    def _acu(self) -> Acu:
        cfg = configs().daemon.acu
        units: dict[str, tuple[Drive, ForceSensor]] = {}
        for u in cfg.units:
            model, sp = spool_model(cfg, u.name), cfg.spool_of(u.name)
            drive = self._drive(
                f"acu/{u.name}",
                "acu",
                sp.counts_per_rev,
                limit_revs=_limits(model.drum, sp.cable_length_m),
            )

            def hanging(drive: PlantDrive = drive, model: Any = model) -> float:
                drive.advance(0.0)
                return float(model.expected_tension_n(max(0.0, drive.drum_rev)))

            units[u.name] = (drive, self._cell(f"acu/{u.name}", hanging, sp.load_cell_range_n))
        tt = Turntable(
            "acu/turntable", self.monitor, clock=self.clock, counts_per_rev=1, switch="turn"
        )
        tt.tol_rev = 0.01 / 360.0
        self.drives[tt.name] = self.monitor.turntable = tt
        self.monitor.drives.append(tt)
        return Acu(cfg, AcuAxes(cfg, tt, units), self.house, self.outbox)

    def _cls(self, name: str, cfg: ClsCfg, sim_cfg: Any) -> Cls:
        model = ClsModel(cfg)
        p0, side_m = cfg.side_park_paid_out_m, cfg.side_spool.cable_length_m
        central = self._drive(
            f"{name}/central",
            name,
            cfg.spool.counts_per_rev,
            limit_revs=_limits(model.central_drum, cfg.spool.cable_length_m),
        )
        side = self._drive(
            f"{name}/side",
            name,
            cfg.side_spool.counts_per_rev,
            switch="flag",
            limit_revs=(model.side_rev_at(p0 - side_m + 1.0), model.side_rev_at(p0 - 0.5)),
        )
        physics = cls_physics.LoopPhysics(sim_cfg)
        loop = LoopPlant(lambda c, s: physics.state(c, s, valve_open=True), central, side)
        cc = self._cell(f"{name}/central", loop.tension("central_n"), cfg.spool.load_cell_range_n)
        sc = self._cell(f"{name}/side", loop.tension("side_n"), cfg.side_spool.load_cell_range_n)
        self.uss[f"{name}/uss"] = uss = FakePositionSensor(f"{name}/uss")
        axes = ClsAxes(cfg, model, (central, cc), (side, sc), uss)
        return Cls(name, cfg, axes, self.house, self.outbox)

    def _gt(self) -> Gt:
        cfg = configs().daemon.gt
        mpr = cfg.spool.metres_per_rev
        travel_m = cfg.tube.radius_m * math.radians(cfg.tube.theta_end_deg - cfg.theta_park_deg)
        drives = {
            n: self._drive(
                f"gt/{n}",
                "gt",
                cfg.spool.counts_per_rev,
                limit_revs=(-0.02 / mpr, (travel_m + 0.3) / mpr),
            )
            for n in ("top", "bottom")
        }
        solve = GtLoop(configs().sim.gt, mpr, cfg.theta_park_deg, cfg.pretension_n)
        loop = LoopPlant(solve, drives["top"], drives["bottom"])
        range_n = cfg.spool.load_cell_range_n
        devices: dict[str, tuple[Drive, ForceSensor]] = {
            n: (drives[n], self._cell(f"gt/{n}", loop.tension(f"tension_{n}_n"), range_n))
            for n in drives
        }
        return Gt(cfg, GtAxes(cfg, devices), self.house, self.outbox)

    def _rov(self) -> Rov:
        cfg = configs().daemon.rov
        um = Umbilical.from_cfg(cfg)
        winch = self._drive(
            "rov/winch",
            "rov",
            cfg.spool.counts_per_rev,
            limit_revs=_limits(um.drum, cfg.spool.cable_length_m),
        )
        vehicle = PlantVehicle(self.monitor, winch, um, cfg.z_park_m, self.clock)
        self.vehicle = self.monitor.vehicle = vehicle

        def tension() -> float:
            vehicle.sync()
            paid = vehicle.paid_m()
            return um.slack_tension_n(paid) if vehicle.thrusters_on else um.hanging_tension_n(paid)

        def fix() -> tuple[float, float, float] | None:
            vehicle.sync()
            p = vehicle.position_m
            return p if p[2] < cfg.z_exit_m - 0.2 else None

        cell = self._cell("rov/winch", tension, cfg.spool.load_cell_range_n)
        self.uss["rov/uss"] = uss = FakePositionSensor("rov/uss", position_fn=fix)
        return Rov(cfg, RovPlant(cfg, winch, cell, vehicle, uss), self.house, self.outbox)

    # ---- operating the rig -------------------------------------------------------------------

    def send(self, system: str | None, action: str, args: dict[str, Any]) -> str:
        """One operator command through the dispatcher (global when `system` is None)."""
        self._n += 1
        cmd_id = f"c{self._n}"
        self.replies[cmd_id] = []
        self.sent[cmd_id] = f"{system or 'global'}.{action}"
        if system is None and action == "estop":
            self.monitor.latch(self.estop_grace_s)
        doc = {"id": cmd_id, "action": action, "args": args, "operator": "hypothesis"}
        self.dispatcher.handle(Inbound(system, json.dumps(doc).encode()))
        return cmd_id

    def _on_reply(self, payload: dict[str, Any]) -> None:
        cmd_id, result = payload.get("id"), payload.get("result")
        if not isinstance(cmd_id, str) or not isinstance(result, str):
            return
        got = self.replies.get(cmd_id)
        if got is None:
            return  # not an operator command (e.g. a global reset's per-system reset)
        problem = None
        if not got and result not in IMMEDIATE:
            problem = f"first reply is {result}"
        elif got and got[0] == "rejected":
            problem = f"{result} after rejected"
        elif got and result in IMMEDIATE:
            problem = f"second immediate reply {result}"
        elif len(got) >= 2:
            problem = f"second final reply {result}"
        if problem is not None:
            self.monitor.record(
                f"reply:{cmd_id}:{len(got)}",
                f"[4 replies] {cmd_id} {self.sent[cmd_id]}: {problem} (before: {got})",
            )
        got.append(result)
        if self.sent[cmd_id] == "global.reset" and result == "accepted" and self.io.seen_closed:
            self.monitor.release()

    def pending(self) -> list[str]:
        """Accepted commands still without their final reply."""
        return [f"{i} {self.sent[i]}" for i, got in self.replies.items() if got == ["accepted"]]

    def observe(self) -> list[str]:
        """Bring the fakes to the present, check what is judged at any instant; violations."""
        self.monitor.catch_up()
        self.monitor.check_placement()
        for cmd_id, got in self.replies.items():
            if not got:
                self.monitor.record(
                    f"reply:{cmd_id}:none", f"[4 replies] {cmd_id} {self.sent[cmd_id]}: no reply"
                )
        if self.task is not None and self.task.done():
            exc = None if self.task.cancelled() else self.task.exception()
            self.monitor.record("crash", f"the daemon's task tree ended: {exc!r}")
        return self.monitor.violations

    # ---- faults ------------------------------------------------------------------------------

    def inject(self, fault: Fault) -> None:
        self._fault(fault, True)

    def clear(self, fault: Fault) -> None:
        self._fault(fault, False)

    def _fault(self, fault: Fault, on: bool) -> None:
        dev, kind = fault.device, fault.kind
        self.monitor.catch_up()  # what happened before the fault happened without it
        if dev == "house/io":
            self._io_fault(kind, on)
        elif dev == "rov/vehicle":
            if kind == "lost":
                self.vehicle.lost = on
            elif on:
                self.vehicle.fault()
            else:
                self.vehicle.fault_cleared = True
        elif dev in self.uss:
            self.uss[dev].lost = on
        elif kind.startswith("cell_") or kind in ("snag", "slack"):
            cell = self.cells[dev]
            if kind == "cell_lost":
                cell.lost = on
            elif kind == "cell_error":
                cell.status = LoadStatus.ERROR if on else LoadStatus.STABLE
            else:
                cell.override_n = (0.9 * cell.range_n if kind == "snag" else 0.0) if on else None
        else:
            self._drive_fault(self.drives[dev], kind, on)

    def _drive_fault(self, drive: PlantDrive, kind: str, on: bool) -> None:
        if kind == "alarm":
            drive.alarm_latched = on  # the cause: reset_alarm clears the code once it is gone
            if on:
                drive.trip(AlarmCode.OVER_CURRENT)
        elif kind == "lost":
            drive.lost = on
        elif kind == "stall":
            drive.stalled = on
        elif kind == "slip":
            drive.slipping = on
        elif kind == "limit_pos":
            drive.limit_pos = on
        elif kind == "limit_neg":
            drive.limit_neg = on
        elif kind == "power_loss" and on:
            drive.homed = False

    def _io_fault(self, kind: str, on: bool) -> None:
        io = self.io
        if kind == "estop":
            io.estop_ok = not on
        elif kind == "o2_high":
            io.o2_ppm = 25.0 if on else 4.0
        elif kind == "radon_high":
            io.radon_mbq_m3 = 40.0 if on else 8.0
        elif kind == "lost":
            io.lost = on
        elif kind.startswith("stuck:"):
            channel = self.house.cfg.valves[kind.removeprefix("stuck:")]
            (io.stuck_valves.add if on else io.stuck_valves.discard)(channel)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            for name, sub in self.subsystems.items():
                tg.create_task(sub.run(), name=f"subsystem:{name}")
            tg.create_task(self.board.run(), name="interlocks")
            tg.create_task(self._consume(), name="outbox")

    async def _consume(self) -> None:
        while True:
            item = await self.outbox.get()
            if item.kind == "reply":
                self._on_reply(item.payload)
