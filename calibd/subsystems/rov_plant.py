"""ROV hardware as the daemon sees it: winch (drive + load cell), vehicle, ultrasonic fix.

The poll loop is the only reader: `poll()` reads every device at once, folds the fix into the
navigator, and sends the vehicle its velocity setpoint with a fresh heartbeat (every poll,
so the vehicle's watchdog zeroes the thrusters if the daemon stops). Motion sequences wait
for fresh data (`until`). Protections are pure functions of the latest readings.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import structlog

from calibd.cfg_interlocks import InterlocksCfg
from calibd.cfg_rov import RovCfg
from calibd.core.axis import (
    Axis,
    MotionTracker,
    TensionWindow,
    cable_soft_rev,
    driver_io,
    wait_fresh_until,
)
from calibd.core.errors import ErrorCode, Trip
from calibd.subsystems.rov_nav import Navigator, Umbilical, Vec, norm
from drivers.base import Drive, ForceSensor, LoadStatus, PositionSensor, UssFix
from drivers.errors import CommError, DriverError
from drivers.rov_vehicle import FaultCode, Vehicle, VehicleStatus

log = structlog.get_logger("calibd.rov.plant", subsystem="rov")
ZERO: Vec = (0.0, 0.0, 0.0)
HANG_SKEW_M = 0.15  # position uncertainty of a hanging vehicle (stretch, sensor skew)
TENSION_TRIP_POLLS = 3
GEOFENCE_MARGIN_M = 0.2  # beyond the target limit before the estimate trips


class TensionMode(StrEnum):
    """What the umbilical should be doing, hence which tension window applies."""

    UNKNOWN = "unknown"  # only the load cell's overload trips
    HANGING = "hanging"  # the vehicle hangs on the winch in the chimney
    SLACK = "slack"  # the vehicle navigates on a slack umbilical


class RovPlant:
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
        self._fresh = asyncio.Condition()

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
        devices = {
            "winch": w.drive.name,
            "load_cell": w.cell.name if w.cell is not None else "load_cell",
            "vehicle": self.vehicle.name,
            "uss": self.uss.name,
        }
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
            log.error("device_lost", device=devices[label], axis=label, error=lost[label])
        for label in self.lost.keys() - lost.keys():
            log.info("device_back", device=devices[label], axis=label)
        self.lost = lost
        self.polls += 1
        if lost:
            label, err = next(iter(lost.items()))
            raise Trip("comm_loss", f"{label}: {err}", axis=label)

    async def wake(self) -> None:
        """Wake the motion sequences waiting for fresh readings (the poll loop calls it once
        the protections have judged the readings, and not when they tripped)."""
        async with self._fresh:
            self._fresh.notify_all()

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

    async def wait_poll(self) -> None:
        async with self._fresh:
            await self._fresh.wait()

    async def until(self, ok: Callable[[], bool], sim_s: float, what: str) -> None:
        """Wait for fresh readings until `ok()`; Trip(move_timeout) after the deadline."""
        deadline_s = sim_s / self.time_scale + self.cfg.move_margin_s
        await wait_fresh_until(self.wait_poll, ok, deadline_s, what)

    io = staticmethod(driver_io)

    # ---- derived -----------------------------------------------------------------------------

    @property
    def parked(self) -> bool:
        return self.winch.parked

    def paid_out_m(self) -> float | None:
        rev = self.winch.rev
        if not self.homed or rev is None:
            return None
        return self.umbilical.paid_out_m(rev)

    def has_fix(self) -> bool:
        return self.nav.estimate is not None

    def position(self) -> Vec | None:
        """The USS estimate when there is a fix, else the hanging model on the winch."""
        if self.nav.estimate is not None:
            return self.nav.estimate
        paid = self.paid_out_m()
        tension = self.winch.tension_n
        if paid is None or tension is None:
            return None
        return (0.0, 0.0, self.umbilical.hanging_z_m(paid, tension))

    def expected_tension_n(self) -> tuple[float, float] | None:
        """The range of tensions the load cell may read now (None: unknown).

        Hanging, the vehicle's apparent weight changes by ~500 N/m while it crosses the
        liquid surface, so the range spans the position the winch can reach between the
        drive and the load-cell reading of one poll (plus the stretch)."""
        paid = self.paid_out_m()
        if paid is None or self.tension_mode == TensionMode.UNKNOWN:
            return None
        um = self.umbilical
        if self.tension_mode == TensionMode.SLACK:
            t = um.slack_tension_n(paid)
            return t, t
        cfg = self.cfg
        poll_s = max(self.time_scale / cfg.poll_fast_hz, self.poll_dt_sim_s)
        skew_m = HANG_SKEW_M + 2 * cfg.winch_speed_m_s * poll_s
        samples = [um.hanging_tension_n(max(0.0, paid + k * skew_m / 4)) for k in range(-4, 5)]
        return min(samples), max(samples)

    def window(self) -> TensionWindow:
        cfg = self.cfg
        range_n = cfg.spool.load_cell_range_n
        expected = self.expected_tension_n()
        if expected is None:
            return TensionWindow(-1.0, 0.8 * range_n)
        low, high = (
            TensionWindow.around(
                t,
                snag_factor=cfg.snag_factor,
                slack_factor=cfg.slack_factor,
                floor_n=cfg.tension_floor_n,
                range_n=range_n,
            )
            for t in expected
        )
        return TensionWindow(low.low_n, high.high_n)

    def settled(self) -> bool:
        """At the target within tolerance and (nearly) still."""
        err = self.nav.error_m()
        vs = self.vstatus
        return (
            err is not None
            and err <= self.cfg.position_tolerance_m
            and vs is not None
            and norm(vs.velocity_m_s) <= 0.25 * self.cfg.position_tolerance_m
        )

    # ---- protections -------------------------------------------------------------------------

    def check_protections(self) -> None:
        """Raise the first violated protection. Tension trips must persist for
        TENSION_TRIP_POLLS polls (the umbilical jerks when it catches a falling vehicle);
        an overloaded load cell trips at once."""
        trip = self.violation()
        load = self.winch.load
        if trip is None or trip.code not in ("snag", "slack"):
            self._tension_strikes = 0
        elif load is not None and load.status != LoadStatus.OVERLOAD:
            self._tension_strikes += 1
            if self._tension_strikes < TENSION_TRIP_POLLS:
                return
        if trip is not None:
            raise trip

    def fault_cause(self) -> str | None:
        """Why a fault may not be reset yet (None: the cause is gone)."""
        if self.lost:
            return "; ".join(f"{k}: {v}" for k, v in self.lost.items())
        trip = self.violation(ignore_alarms=True)
        return None if trip is None else f"{trip.code}: {trip.message}"

    def violation(self, *, ignore_alarms: bool = False) -> Trip | None:
        vs = self.vstatus
        if vs is not None:
            if vs.leak:
                return Trip("leak", "the vehicle reports a leak", axis="vehicle")
            if vs.fault and not ignore_alarms:
                code = "watchdog" if vs.fault_code == FaultCode.WATCHDOG else "thruster_fault"
                return Trip(code, f"vehicle fault code {vs.fault_code}", axis="vehicle")
        trip = self.winch.trip(self.window(), homed=self.homed, ignore_alarms=ignore_alarms)
        if trip is not None:
            return trip
        if self.thrusters and self.nav.target is not None and self.nav.estimate is None:
            return Trip("no_fix", "navigating without an ultrasonic fix", axis="uss")
        est = self.nav.estimate
        if (
            est is not None
            and norm(est) > self.cfg.max_radius_m + GEOFENCE_MARGIN_M
            and math.hypot(est[0], est[1]) > self.cfg.chimney_radius_m
        ):
            return Trip(
                "geofence",
                f"vehicle {norm(est):.2f} m from the centre, limit {self.cfg.max_radius_m} m",
                error=ErrorCode.INTERLOCK,
                axis="vehicle",
            )
        return None

    def reference_lost(self) -> bool:
        s = self.winch.status
        return s is not None and not s.homed

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
