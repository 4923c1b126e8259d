"""Fakes on the true plant: drives with a true drum apart from motor and encoder counters
(stall, slip, switches on the drum, limit switches), load cells on the loop physics, the ROV
vehicle, the house IO."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from calibd.subsystems.rov_nav import Umbilical
from drivers.fake_drive import FakeDrive
from drivers.fake_io import FakeIo
from drivers.fake_sensors import FakeForceSensor
from drivers.io_module import IoSnapshot
from drivers.rov_vehicle import FakeVehicle
from drivers.stepper import AlarmCode, DriveStatus
from simulators import gt_physics
from tests.unit.daemon.plant.config import BROKEN_LOOP_N, Clock

if TYPE_CHECKING:
    from tests.unit.daemon.plant.monitor import Monitor


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
