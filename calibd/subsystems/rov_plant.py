"""ROV hardware as the daemon sees it: winch (drive + load cell), vehicle, ultrasonic fix.

The poll loop is the only reader: `poll()` reads every device at once, folds the fix into the
navigator, and sends the vehicle its velocity setpoint with a fresh heartbeat (every poll,
so the vehicle's watchdog zeroes the thrusters if the daemon stops). Motion sequences wait
for fresh data (`until`). What the readings mean (position, tension window, protections) is
`RovReadings` (`rov_readings.py`), pure functions of the latest readings that `RovPlant` extends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import structlog

from calibd.cfg_interlocks import InterlocksCfg
from calibd.cfg_rov import RovCfg
from calibd.core.axes import driver_io
from calibd.core.axis import Axis, cable_soft_rev
from calibd.core.errors import Trip
from calibd.core.fresh import FreshReadings, wait_fresh_until
from calibd.core.motion_tracker import MotionTracker
from calibd.subsystems.rov_nav import Navigator, Umbilical, Vec
from calibd.subsystems.rov_readings import RovReadings, TensionMode
from drivers.base import Drive, ForceSensor, PositionSensor, UssFix
from drivers.errors import CommError, DriverError
from drivers.rov_vehicle import Vehicle, VehicleStatus

log = structlog.get_logger("calibd.rov.plant", subsystem="rov")
ZERO: Vec = (0.0, 0.0, 0.0)


class RovPlant(RovReadings, FreshReadings):
    def __init__(
        self,
        cfg: RovCfg,
        winch: Drive,
        cell: ForceSensor,
        vehicle: Vehicle,
        uss: PositionSensor,
        *,
        time_scale: float = 1.0,
        limits: InterlocksCfg | None = None,
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.time_scale = time_scale
        sp = cfg.spool
        self.winch = Axis(
            name="winch",
            drive=winch,
            cell=cell,
            counts_per_rev=sp.counts_per_rev,
            soft_rev=cable_soft_rev(sp.drum_radius_m, sp.cable_length_m),
            tracker=MotionTracker.for_drum(limits or InterlocksCfg(), sp.drum_radius_m),
        )
        self.vehicle = vehicle
        self.uss = uss
        #: the configured device name behind each poll label (for the device_lost/back logs)
        self._devices = {
            "winch": winch.name,
            "load_cell": cell.name if cell is not None else "load_cell",
            "vehicle": vehicle.name,
            "uss": uss.name,
        }
        self.umbilical = Umbilical.from_cfg(cfg)
        self.nav = Navigator(cfg.nav_gain_per_s, cfg.speed_max_m_s)
        self.vstatus: VehicleStatus | None = None
        self.fix: UssFix | None = None
        self.homed = False
        self.thrusters = False
        self.tension_mode = TensionMode.UNKNOWN
        self.lost: dict[str, str] = {}
        self.polls = 0
        self._tension_strikes = 0
        self.poll_dt_sim_s = 0.0  # physics time between the last two polls
        self._last_poll_s: float | None = None

    # ---- polling -----------------------------------------------------------------------------

    async def poll(self) -> None:
        """Read every device, steer the vehicle; Trip(comm_loss) naming the first lost one."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        dt_sim_s = 0.0 if self._last_poll_s is None else (now - self._last_poll_s) * self.time_scale
        self._last_poll_s = now
        self.poll_dt_sim_s = dt_sim_s
        w = self.winch
        jobs: list[tuple[str, Any]] = [
            ("winch", w.drive.read_status()),
            ("load_cell", w.cell.read() if w.cell is not None else _none()),
            ("vehicle", self.vehicle.read_status()),
            ("uss", self.uss.read()),
        ]
        results = await asyncio.gather(*(j for _, j in jobs), return_exceptions=True)
        lost: dict[str, str] = {}
        for (label, _), res in zip(jobs, results, strict=True):
            if isinstance(res, BaseException):
                if not isinstance(res, DriverError):
                    raise res
                lost[label] = str(res)
            elif label == "winch":
                w.status = res
            elif label == "load_cell":
                w.load = res
            elif label == "vehicle":
                self.vstatus = res
            else:
                self.fix = res
        if "uss" in lost:
            self.fix = None
        fix = self.fix
        self.nav.observe((fix.x_m, fix.y_m, fix.z_m) if fix is not None and fix.ok else None)
        if "vehicle" not in lost:
            try:
                await self.send(dt_sim_s)
            except DriverError as exc:
                lost["vehicle"] = str(exc)
        for label in lost.keys() - self.lost.keys():
            log.error("device_lost", device=self._devices[label], axis=label, error=lost[label])
        for label in self.lost.keys() - lost.keys():
            log.info("device_back", device=self._devices[label], axis=label)
        self.lost = lost
        self.polls += 1
        if lost:
            label, err = next(iter(lost.items()))
            raise Trip("comm_loss", f"{label}: {err}", axis=label)

    async def send(self, dt_sim_s: float) -> None:
        """The vehicle's command for this poll (setpoint, mode, heartbeat)."""
        velocity = self.nav.command(dt_sim_s) if self.thrusters else ZERO
        await self.vehicle.command(velocity, thrusters=self.thrusters)

    async def thrusters_on(self) -> None:
        """Arm the watchdog (its timeout in the vehicle's time), then enable the thrusters."""
        await self.io(
            "vehicle watchdog",
            "vehicle",
            self.vehicle.set_watchdog(self.cfg.heartbeat_timeout_s * self.time_scale),
        )
        self.thrusters = True

    async def thrusters_off(self) -> None:
        """Zero thrust now (not at the next poll); a lost vehicle is logged, not raised."""
        self.thrusters = False
        self.nav.target = None
        try:
            await self.vehicle.command(ZERO, thrusters=False)
        except DriverError as exc:
            log.error("thrusters_off_failed", error=str(exc))

    async def stop_in_place(self) -> None:
        """Zero velocity (thrusters, if on, hold the vehicle where it is); quick-stop the winch."""
        self.nav.target = None
        try:
            await self.vehicle.command(ZERO, thrusters=self.thrusters)
        except DriverError as exc:
            log.error("stop_failed", device=self.vehicle.name, error=str(exc))
        try:
            await self.winch.drive.halt()
        except DriverError as exc:
            log.error("halt_failed", device=self.winch.drive.name, error=str(exc))
        self.tension_mode = TensionMode.UNKNOWN

    async def halt(self) -> None:
        """Zero thrust first, then quick-stop the winch."""
        await self.thrusters_off()
        try:
            await self.winch.drive.halt()
        except DriverError as exc:
            log.error("halt_failed", device=self.winch.drive.name, error=str(exc))

    async def halt_all(self) -> None:
        """The Hardware protocol's stop-everything: thrust zero, winch halted."""
        await self.halt()

    def drive_axes(self) -> dict[str, Axis]:
        """The winch (the vehicle's position is absolute: it needs no journal)."""
        return {"winch": self.winch}

    def any_moving(self) -> bool:
        """The winch is moving (the vehicle's own motion is its velocity loop's business)."""
        st = self.winch.status
        return st is not None and st.moving

    async def until(self, ok: Callable[[], bool], sim_s: float, what: str) -> None:
        """Wait for fresh readings until `ok()`; Trip(move_timeout) after the deadline."""
        deadline_s = sim_s / self.time_scale + self.cfg.move_margin_s
        await wait_fresh_until(self.wait_poll, ok, deadline_s, what)

    io = staticmethod(driver_io)

    async def reset_alarms(self) -> None:
        s = self.winch.status
        if s is not None and s.alarm:
            with contextlib.suppress(CommError):
                await self.winch.drive.reset_alarm()
        vs = self.vstatus
        if vs is not None and (vs.fault or vs.watchdog):
            with contextlib.suppress(CommError):
                await self.vehicle.reset_fault()

    # ---- publishing --------------------------------------------------------------------------

    def telemetry(self) -> dict[str, Any]:
        vs, fix = self.vstatus, self.fix
        paid = self.paid_out_m()
        return {
            "winch": {**self.winch.telemetry(), "paid_out_m": _r(paid)},
            "vehicle": None
            if vs is None
            else {
                "thrusters_on": vs.thrusters_on,
                "saturated": vs.saturated,
                "fault_code": vs.fault_code,
                "depth_m": vs.depth_m,
                "velocity_m_s": list(vs.velocity_m_s),
                "thrust_n": list(vs.thrust_n),
            },
            "uss": None
            if fix is None
            else {"x_m": fix.x_m, "y_m": fix.y_m, "z_m": fix.z_m, "ok": fix.ok},
            "tension_mode": str(self.tension_mode),
            "lost": sorted(self.lost),
        }


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 5)


async def _none() -> None:
    return None
