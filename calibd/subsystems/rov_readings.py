"""What the latest ROV readings mean: position, the tension window, and the protections.

`RovReadings` is the part of `RovPlant` (`rov_plant.py`) that does no I/O: pure functions of
the readings the poll loop stored (winch status and load, vehicle status, the navigator's
estimate) and of the tension mode the motion sequences set. `violation` names the first
protection the readings break; `check_protections` raises it (tension trips once they persist).
"""

from __future__ import annotations

import math
from enum import StrEnum

from calibd.cfg_rov import RovCfg
from calibd.core.axis import Axis, TensionWindow
from calibd.core.errors import ErrorCode, Trip, fault_cause
from calibd.subsystems.rov_nav import Navigator, Umbilical, Vec, norm
from drivers.base import LoadStatus
from drivers.rov_vehicle import FaultCode, VehicleStatus

HANG_SKEW_M = 0.15  # position uncertainty of a hanging vehicle (stretch, sensor skew)
TENSION_TRIP_POLLS = 3
GEOFENCE_MARGIN_M = 0.2  # beyond the target limit before the estimate trips


class TensionMode(StrEnum):
    """What the umbilical should be doing, hence which tension window applies."""

    UNKNOWN = "unknown"  # only the load cell's overload trips
    HANGING = "hanging"  # the vehicle hangs on the winch in the chimney
    SLACK = "slack"  # the vehicle navigates on a slack umbilical


class RovReadings:
    """The derived state and the protections; `RovPlant` fills in the readings."""

    cfg: RovCfg
    time_scale: float
    winch: Axis
    umbilical: Umbilical
    nav: Navigator
    vstatus: VehicleStatus | None
    homed: bool
    thrusters: bool
    tension_mode: TensionMode
    lost: dict[str, str]
    poll_dt_sim_s: float  # physics time between the last two polls
    _tension_strikes: int

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
        return fault_cause(self.lost, lambda: self.violation(ignore_alarms=True))

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
