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
import functools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from calibd.cfg_cls import ClsCfg
from calibd.cfg_interlocks import CHIMNEY_SYSTEMS, InterlocksCfg
from calibd.config import load_config
from calibd.core.commands import Inbound
from calibd.core.dispatcher import Dispatcher
from calibd.core.outbox import Outbox
from calibd.core.spool import Drum
from calibd.core.subsystem import Subsystem
from calibd.interlocks import InterlockBoard
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
from drivers.fake import FakeDrive, FakeForceSensor, FakeIo, FakePositionSensor
from drivers.io_module import IoSnapshot
from drivers.load_cell import LoadStatus
from drivers.rov_vehicle import FakeVehicle
from drivers.stepper import AlarmCode, DriveStatus
from simulators import cls_physics, gt_physics
from simulators.config import load_config as load_sim_config

TOML = Path(__file__).resolve().parents[3] / "config" / "sim.toml"
SYSTEMS = ("acu", "cls1", "cls2", "gt", "rov")  # deployment systems (each moves a source)
CHIMNEY = tuple(CHIMNEY_SYSTEMS)
IMMEDIATE = ("accepted", "rejected")
BROKEN_LOOP_N = 150.0  # a loop the physics cannot solve reads as badly over-tensioned
Clock = Callable[[], float]


@dataclass(frozen=True)
class Configs:
    """config/sim.toml with faster motion (every move still takes several polls)."""

    daemon: Any  # calibd Settings
    sim: Any  # simulator settings
    interlocks: InterlocksCfg
    house_poll_s: float = 0.25
    board_period_s: float = 0.25  # the board also evaluates after every poll of any system


@functools.cache
def configs() -> Configs:
    s = load_config(TOML)
    assert s.acu and s.cls1 and s.cls2 and s.gt and s.rov
    poll = {"poll_fast_hz": 10.0, "poll_idle_s": 1.0}
    acu = s.acu.model_copy(
        update={
            **poll,
            "speed_m_s": 5.0,
            "accel_m_s2": 50.0,
            "home_speed_m_s": 2.0,
            "move_margin_s": 1.0,
            "turntable": s.acu.turntable.model_copy(
                update={"speed_deg_s": 90.0, "accel_deg_s2": 900.0}
            ),
        }
    )
    fast_cls = {
        **poll,
        "speed_m_s": 2.0,
        "accel_m_s2": 20.0,
        "home_speed_m_s": 1.0,
        "move_margin_s": 2.0,
        "waypoint_step_m": 1.0,
    }
    gt = s.gt.model_copy(
        update={**poll, "speed_m_s": 10.0, "home_speed_m_s": 2.0, "move_margin_s": 1.0}
    )
    rov = s.rov.model_copy(
        update={
            **poll,
            "winch_speed_m_s": 5.0,
            "winch_accel_m_s2": 50.0,
            "payout_speed_m_s": 10.0,
            "home_speed_m_s": 2.0,
            "speed_max_m_s": 3.0,
            "nav_gain_per_s": 5.0,
            "settle_s": 0.1,
            "move_margin_s": 2.0,
        }
    )
    house = s.house.model_copy(update={"poll_s": Configs.house_poll_s, "valve_timeout_s": 1.0})
    daemon = s.model_copy(
        update={
            "acu": acu,
            "cls1": s.cls1.model_copy(update=fast_cls),
            "cls2": s.cls2.model_copy(update=fast_cls),
            "gt": gt,
            "rov": rov,
            "house": house,
        }
    )
    return Configs(daemon, load_sim_config(TOML, env={}), s.interlocks)


def make_board(
    subsystems: dict[str, Subsystem], house: House, outbox: Outbox, cfg: InterlocksCfg
) -> InterlockBoard:
    """The engine under test (the one line to adapt when its constructor changes)."""
    return InterlockBoard(subsystems, house, outbox, cfg, period_s=configs().board_period_s)


@dataclass(frozen=True)
class Fault:
    """One injectable fault: `device` as the rig names it, `kind` what goes wrong."""

    device: str
    kind: str


DRIVE_FAULTS = ("alarm", "lost", "stall", "slip", "limit_pos", "limit_neg", "power_loss")
CELL_FAULTS = ("snag", "slack", "cell_lost", "cell_error")
IO_FAULTS = ("estop", "o2_high", "radon_high", "lost")


def fault_catalog() -> list[Fault]:
    """Every fault on every device of the rig."""
    d = configs().daemon
    spools = [f"acu/{u.name}" for u in d.acu.units]
    spools += [f"{c}/{a}" for c in ("cls1", "cls2") for a in ("central", "side")]
    spools += ["gt/top", "gt/bottom", "rov/winch"]
    out = [Fault(dev, k) for dev in ["acu/turntable", *spools] for k in DRIVE_FAULTS]
    out += [Fault(dev, k) for dev in spools for k in CELL_FAULTS]
    out += [Fault("rov/vehicle", k) for k in ("lost", "thruster")]
    out += [Fault(f"{s}/uss", "lost") for s in ("cls1", "cls2", "rov")]
    out += [Fault("house/io", k) for k in IO_FAULTS]
    out += [Fault("house/io", f"stuck:{v}") for v in d.house.valves]
    return out


# ---- the monitor -------------------------------------------------------------------------------


class Monitor:
    """Judges the invariants from the fakes at the instant things happen: every drive reports
    its motion (`moved`), the vehicle its thrust, the IO module an open e-stop reading.

    Fakes update lazily (on calls); before judging two systems together everything is brought
    to the present (`catch_up`). E-stop: motion is blamed from `estop_since + estop_grace_s`
    on, and for a device that did not answer, from one grace period after it answers again.
    """

    def __init__(self, clock: Clock, cfg: InterlocksCfg) -> None:
        self.clock = clock
        self.cfg = cfg
        self.estop_grace_s = 0.0
        self.spools: dict[str, list[PlantDrive]] = {name: [] for name in SYSTEMS}
        self.drives: list[PlantDrive] = []  # every drive, spools and turntable
        self.turntable: PlantDrive | None = None
        self.vehicle: PlantVehicle | None = None
        self.estop_since: float | None = None
        self.violations: list[str] = []
        self._flagged: set[str] = set()

    def record(self, key: str, message: str) -> None:
        """A violation, once per key (a condition that persists is reported once)."""
        if key not in self._flagged:
            self._flagged.add(key)
            self.violations.append(f"t={self.clock():.3f}s: {message}")

    def out(self, system: str) -> bool:
        """Any of the system's spools (or its winch) off its parked switch."""
        return any(not d.on_switch() for d in self.spools[system])

    def estop_enforced(self) -> bool:
        since = self.estop_since
        return since is not None and self.clock() >= since + self.estop_grace_s

    def blamable(self, device: Reachable) -> bool:
        """The e-stop is enforced and the daemon has had a grace period to reach `device`."""
        now = self.clock()
        return (
            self.estop_enforced()
            and not device.lost
            and now >= device.reachable_since + self.estop_grace_s
        )

    def moved(self, drive: PlantDrive) -> None:
        """A drive's motor or drum just moved."""
        if self.blamable(drive):
            self.record(
                f"estop:{drive.name}:{self.estop_since}",
                f"[2 e-stop] {drive.name} moves, e-stop latched at t={self.estop_since:.3f}s",
            )
        if drive is self.turntable and self.out("acu"):
            for d in self.spools["acu"]:
                d.advance(0.0)
        if drive is self.turntable and self.out("acu"):
            out = [d.name for d in self.spools["acu"] if not d.on_switch()]
            self.record(
                f"turntable:{out}", f"[3 turntable] rotates while {', '.join(out)} off switch"
            )
        lim = drive.limit_revs
        if lim is not None and not lim[0] < drive.drum_rev < lim[1]:
            self.record(
                f"limit:{drive.name}",
                f"[5 hard limit] {drive.name} drum at {drive.drum_rev:.3f} rev, limit "
                f"switches at {lim[0]:.3f} / {lim[1]:.3f} rev",
            )
        self.check_placement()

    def vehicle_moves(self, vehicle: PlantVehicle) -> None:
        if self.blamable(vehicle):
            self.record(
                f"estop:{vehicle.name}:{self.estop_since}",
                f"[2 e-stop] {vehicle.name} thrusts, e-stop latched at t={self.estop_since:.3f}s",
            )

    def latch(self, grace_s: float) -> None:
        """The e-stop latches now; motion is blamed from `grace_s` on (the daemon's reaction
        time: the polls that must see the cause)."""
        if self.estop_since is None:
            self.catch_up()  # motion up to now is not blamed on it
            self.estop_since = self.clock()
            self.estop_grace_s = grace_s

    def release(self) -> None:
        self.estop_since = None

    def catch_up(self) -> None:
        """Bring every fake to the present (they update lazily, on calls)."""
        for d in self.drives:
            d.advance(0.0)
        if self.vehicle is not None:
            self.vehicle.sync()

    def _out(self) -> tuple[list[str], list[str]]:
        out = [s for s in SYSTEMS if self.out(s)]
        return out, [s for s in out if s in CHIMNEY]

    def check_placement(self) -> None:
        out, chimney = self._out()
        limit = self.cfg.max_sources_in_detector
        if len(chimney) > self.cfg.max_in_chimney or len(out) > limit:
            self.catch_up()  # judge on every drum as it is now, not as last read
            out, chimney = self._out()
        if len(chimney) > self.cfg.max_in_chimney:
            self.record(f"chimney:{chimney}", f"[1 chimney] in the detector at once: {chimney}")
        if len(out) > limit:
            self.record(f"sources:{out}", f"[6 sources] {len(out)} out (max {limit}): {out}")


# ---- fakes on the true plant ---------------------------------------------------------------


class Reachable:
    """`lost` (comm loss) that remembers when the device answers again: until one grace
    period after that the daemon cannot be blamed for not stopping it."""

    _clock: Clock
    _lost = False
    reachable_since = -math.inf

    @property
    def lost(self) -> bool:
        return self._lost

    @lost.setter
    def lost(self, value: bool) -> None:
        if self._lost and not value:
            self.reachable_since = self._clock()
        self._lost = value


class PlantDrive(Reachable, FakeDrive):
    """A FakeDrive with a true drum position. `switch` is how its home switch sits on the drum:
    `below` active at or below 0 (parked spools), `flag` active only around 0 (the CLS side
    spool's reference flag), `turn` around every whole revolution (the turntable)."""

    def __init__(
        self,
        name: str,
        monitor: Monitor,
        *,
        clock: Clock,
        counts_per_rev: int,
        switch: str = "below",
        limit_revs: tuple[float, float] | None = None,
    ) -> None:
        self.drum_rev = 0.0
        self.enc_rev = 0.0
        self.stalled = False
        self.slipping = False
        self.forced_pos = False
        self.forced_neg = False
        self.limit_revs = limit_revs
        self.switch = switch
        self.tol_rev = 0.5 / counts_per_rev
        self.monitor = monitor
        super().__init__(name, clock=clock)

    # limit switches follow the drum (a `limit` fault forces one active)
    @property
    def limit_pos(self) -> bool:
        lim = self.limit_revs
        return self.forced_pos or (lim is not None and self.drum_rev >= lim[1])

    @limit_pos.setter
    def limit_pos(self, active: bool) -> None:
        self.forced_pos = active

    @property
    def limit_neg(self) -> bool:
        lim = self.limit_revs
        return self.forced_neg or (lim is not None and self.drum_rev <= lim[0])

    @limit_neg.setter
    def limit_neg(self, active: bool) -> None:
        self.forced_neg = active

    def on_switch(self) -> bool:
        """The home (parked) switch, on the true drum."""
        x = self.drum_rev
        if self.switch == "turn":
            return abs(x - round(x)) <= self.tol_rev
        if self.switch == "flag":
            return abs(x) <= self.tol_rev
        return x <= self.tol_rev

    def _home_switch_active(self) -> bool:
        return self.on_switch() if self.home_switch is None else self.home_switch

    def _step(self, dt_s: float) -> None:
        if not self.moving:
            return
        direction = self._direction()
        if (direction > 0 and self.limit_pos) or (direction < 0 and self.limit_neg):
            self.alarm_code = int(AlarmCode.LIMIT_SWITCH)
            self._standstill()
            return
        step = self.speed_rev_s * dt_s
        if self.homing:
            self._home_step(step)
            return
        remaining = self.target_rev - self.position_rev
        motor = remaining if abs(remaining) <= step else direction * step
        drum = 0.0 if self.stalled else motor
        lim = self.limit_revs
        if lim is not None and drum != 0.0:  # the drive stops on the switch it runs onto
            edge = lim[1] if drum > 0 else lim[0]
            if (edge - self.drum_rev) / drum < 1.0:
                motor = drum = edge - self.drum_rev
                self.alarm_code = int(AlarmCode.LIMIT_SWITCH)
                self._move(motor, drum)
                self._standstill()
                return
        if motor == remaining:
            self.moving = False
        self._move(motor, drum)

    def _home_step(self, step: float) -> None:
        """Run negative until the switch: stop on its edge and zero the counters there."""
        if self.on_switch():  # the switch sits on the drum: a stalled motor sees it too
            self._homed_here()
            return
        drum = 0.0 if self.stalled else -step
        if self.switch == "turn":
            edge: float | None = math.ceil(self.drum_rev - self.tol_rev) - 1.0
        else:
            edge = 0.0 if self.drum_rev > self.tol_rev else None
        if edge is not None and drum != 0.0 and self.drum_rev + drum <= edge:
            self._move(-step, edge - self.drum_rev)
            self._homed_here()
            return
        lim = self.limit_revs
        if lim is not None and drum != 0.0 and self.drum_rev + drum <= lim[0]:
            self._move(lim[0] - self.drum_rev, lim[0] - self.drum_rev)
            self.alarm_code = int(AlarmCode.LIMIT_SWITCH)
            self._standstill()
            return
        self._move(-step, drum)

    def _homed_here(self) -> None:
        self.position_rev = self.target_rev = self.enc_rev = 0.0
        self.encoder_error_rev = 0.0
        self.homed = True
        self._standstill()

    def _move(self, motor: float, drum: float) -> None:
        self.position_rev += motor
        self.drum_rev += drum
        if not self.slipping:
            self.enc_rev += drum
        self.encoder_error_rev = self.enc_rev - self.position_rev
        if motor != 0.0 or drum != 0.0:
            self.monitor.moved(self)


class Turntable(PlantDrive):
    """Index switches DI1..DI4 at 0/90/180/270 degrees of the true turntable angle."""

    async def read_status(self) -> DriveStatus:
        st = await super().read_status()
        inputs = 0
        for k in range(4):
            off_deg = (self.drum_rev * 360.0 - 90.0 * k + 180.0) % 360.0 - 180.0
            if abs(off_deg) < 0.2:
                inputs |= 1 << k
        return DriveStatus(**{**st.__dict__, "inputs": inputs})


class PlantCell(FakeForceSensor):
    """A load cell reading the plant; `override_n` (a snag or slack) replaces the plant."""

    def __init__(self, name: str, plant: Callable[[], float], range_n: float) -> None:
        self.override_n: float | None = None
        self.range_n = range_n
        super().__init__(name, tension_fn=lambda: self._tension(plant))

    def _tension(self, plant: Callable[[], float]) -> float:
        return plant() if self.override_n is None else self.override_n


class LoopPlant:
    """CLS/GT loop physics on the true drums, solved once per drum position."""

    def __init__(self, solve: Callable[[float, float], Any], a: PlantDrive, b: PlantDrive) -> None:
        self.solve, self.a, self.b = solve, a, b
        self._key: tuple[float, float] | None = None
        self._state: Any = None

    def state(self) -> Any:
        self.a.advance(0.0)
        self.b.advance(0.0)
        key = (self.a.drum_rev, self.b.drum_rev)
        if key != self._key:
            self._key = key
            try:
                self._state = self.solve(*key)
            except ArithmeticError:
                self._state = None
        return self._state

    def tension(self, field: str) -> Callable[[], float]:
        def read() -> float:
            st = self.state()
            return BROKEN_LOOP_N if st is None else float(getattr(st, field))

        return read


class PlantVehicle(Reachable, FakeVehicle):
    """The ROV: flies with its thrusters on, hangs on the winch on the axis otherwise."""

    def __init__(
        self, monitor: Monitor, winch: PlantDrive, um: Umbilical, z_park_m: float, clock: Clock
    ) -> None:
        super().__init__("rov-vehicle", position_m=(0.0, 0.0, z_park_m), clock=clock)
        self.monitor, self.winch, self.um, self.z_park_m = monitor, winch, um, z_park_m
        self._now = clock
        self._last_s = clock()

    def paid_m(self) -> float:
        self.winch.advance(0.0)
        return self.um.paid_out_m(max(0.0, self.winch.drum_rev))

    def sync(self) -> None:
        now = self._now()
        dt_s, self._last_s = now - self._last_s, now
        if self.thrusters_on:
            self.advance(dt_s)
            if any(v != 0.0 for v in self.setpoint_m_s):
                self.monitor.vehicle_moves(self)
        else:
            self.position_m = (0.0, 0.0, self.z_park_m - self.paid_m())

    async def read_status(self) -> Any:
        self.sync()
        return await super().read_status()

    async def command(self, velocity_m_s: Any, *, thrusters: bool) -> None:
        self.sync()
        await super().command(velocity_m_s, thrusters=thrusters)


class PlantIo(FakeIo):
    """The house IO module; the e-stop latches for the monitor when a reading shows the
    circuit open (a pulse between two readings is invisible to a polling daemon)."""

    def __init__(self, monitor: Monitor, grace_s: float, **kw: Any) -> None:
        super().__init__("house-io", **kw)
        self.monitor, self.grace_s = monitor, grace_s
        self.seen_closed = True  # what the daemon's latest reading says

    async def read(self) -> IoSnapshot:
        snap = await super().read()
        self.seen_closed = snap.estop_ok
        if not snap.estop_ok:
            self.monitor.latch(self.grace_s)
        return snap


class GtLoop:
    """The GT loop on two drums (revolutions from the marks); friction follows the motion."""

    def __init__(self, sim_cfg: Any, m_per_rev: float, theta_park_deg: float, pre_n: float) -> None:
        self.physics = gt_physics.LoopPhysics.from_cfg(sim_cfg)
        self.m_per_rev = m_per_rev
        self.a0, self.b0 = self.physics.lengths_for(math.radians(theta_park_deg), pre_n, -1)
        self.d = -1
        self.last = (0.0, 0.0)

    def __call__(self, top_rev: float, bottom_rev: float) -> Any:
        moved = (top_rev - self.last[0], bottom_rev - self.last[1])
        if moved[0] > 0 and moved[1] > 0:
            self.d = 1
        elif moved[0] < 0 and moved[1] < 0:
            self.d = -1
        self.last = (top_rev, bottom_rev)
        a = self.a0 + top_rev * self.m_per_rev
        b = self.b0 - bottom_rev * self.m_per_rev
        return self.physics.solve(a, b, self.d)


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
