"""ROV navigation and umbilical kinematics: pure functions and small state, no I/O.

- `check_target`: the operator's target against the sphere (acrylic clearance) and the
  chimney column (only launch/recovery pass there).
- `Navigator`: filters the ultrasonic fixes and turns the position error into the vehicle's
  velocity setpoint: v = clamp(k·e, v_max), never more than half the error per poll.
- `Umbilical`: winch drum revolutions <-> paid-out length, the straight path the umbilical
  needs, the height of a vehicle hanging in the chimney, and the tension the load cell
  should read (hanging on the winch, or slack while the vehicle navigates).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from calibd.cfg_rov import RovCfg
from calibd.core.spool import Drum

G_M_S2 = 9.81
JUMP_RESET_M = 0.5  # a fix this far from the estimate restarts the filter
FILTER_ALPHA = 0.5
MIN_SPRING_LENGTH_M = 1.0

Vec = tuple[float, float, float]


def norm(v: Vec) -> float:
    return math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])


def sub(a: Vec, b: Vec) -> Vec:
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2])


def scale(v: Vec, k: float) -> Vec:
    return (v[0] * k, v[1] * k, v[2] * k)


def check_target(cfg: RovCfg, target: Vec) -> str | None:
    """Why a target is refused (None: acceptable)."""
    x, y, z = target
    r = norm(target)
    if r > cfg.max_radius_m:
        return (
            f"({x}, {y}, {z}) is {r:.3f} m from the centre: targets keep "
            f"{cfg.acrylic_clearance_m} m from the acrylic (max {cfg.max_radius_m:.2f} m)"
        )
    if z > cfg.z_launch_m and math.hypot(x, y) < cfg.chimney_radius_m:
        return (
            f"({x}, {y}, {z}) is in the chimney column above the launch point "
            f"(z > {cfg.z_launch_m} m within {cfg.chimney_radius_m} m of the axis)"
        )
    return None


class Navigator:
    """Position estimate from ultrasonic fixes and the velocity setpoint towards a target."""

    def __init__(self, gain_per_s: float, speed_max_m_s: float) -> None:
        self.gain_per_s = gain_per_s
        self.speed_max_m_s = speed_max_m_s
        self.target: Vec | None = None
        self.estimate: Vec | None = None

    def observe(self, fix: Vec | None) -> None:
        """Fold a fix into the estimate (None: no fix, the estimate is dropped)."""
        if fix is None:
            self.estimate = None
            return
        est = self.estimate
        if est is None or norm(sub(fix, est)) > JUMP_RESET_M:
            self.estimate = fix
            return
        self.estimate = (
            est[0] + FILTER_ALPHA * (fix[0] - est[0]),
            est[1] + FILTER_ALPHA * (fix[1] - est[1]),
            est[2] + FILTER_ALPHA * (fix[2] - est[2]),
        )

    def error_m(self) -> float | None:
        """Distance from the estimate to the target."""
        if self.target is None or self.estimate is None:
            return None
        return norm(sub(self.target, self.estimate))

    def command(self, dt_s: float) -> Vec:
        """Velocity setpoint for the next poll interval ``dt_s`` (simulated seconds)."""
        if self.target is None or self.estimate is None:
            return (0.0, 0.0, 0.0)
        err = sub(self.target, self.estimate)
        dist = norm(err)
        if dist == 0.0:
            return (0.0, 0.0, 0.0)
        speed = min(self.gain_per_s * dist, self.speed_max_m_s)
        if dt_s > 0:
            speed = min(speed, 0.5 * dist / dt_s)  # no overshoot within one poll
        return scale(err, speed / dist)


@dataclass(frozen=True)
class Umbilical:
    """The winch drum, the umbilical path and the tensions to expect."""

    drum: Drum
    z_park_m: float
    z_liquid_m: float
    z_exit_m: float
    ea_n: float
    air_n_m: float
    liquid_n_m: float
    vehicle_air_n: float
    vehicle_liquid_n: float
    body_length_m: float

    @classmethod
    def from_cfg(cls, cfg: RovCfg) -> Umbilical:
        sp = cfg.spool
        return cls(
            drum=Drum(sp.drum_radius_m, sp.cable_diameter_m, sp.turns_per_layer, sp.cable_length_m),
            z_park_m=cfg.z_park_m,
            z_liquid_m=cfg.z_liquid_m,
            z_exit_m=cfg.z_exit_m,
            ea_n=sp.cable_ea_n,
            air_n_m=sp.cable_weight_air_n_m,
            liquid_n_m=sp.cable_weight_liquid_n_m,
            vehicle_air_n=sp.source_weight_air_n,
            vehicle_liquid_n=sp.source_weight_liquid_n,
            body_length_m=cfg.body_length_m,
        )

    @property
    def chimney_m(self) -> float:
        return self.z_park_m - self.z_exit_m

    def path_m(self, p: Vec) -> float:
        """Umbilical length from the winch down the chimney to a vehicle at ``p``."""
        if p[2] >= self.z_exit_m:
            return self.z_park_m - p[2]
        return self.chimney_m + norm(sub(p, (0.0, 0.0, self.z_exit_m)))

    def paid_out_m(self, rev: float) -> float:
        return self.drum.paid_out_m(rev)

    def rev_for(self, paid_out_m: float) -> float:
        return self.drum.rev_for_paid_out(paid_out_m)

    def vehicle_weight_n(self, z_m: float) -> float:
        """Apparent weight of the vehicle at ``z_m`` (partly submerged near the surface)."""
        f = min(
            1.0, max(0.0, (self.z_liquid_m - (z_m - self.body_length_m / 2)) / self.body_length_m)
        )
        return (1 - f) * self.vehicle_air_n + f * self.vehicle_liquid_n

    def column_n(self, z_bottom_m: float) -> float:
        """Weight of the umbilical hanging from the winch down to ``z_bottom_m`` (≥ exit)."""
        bottom = max(z_bottom_m, self.z_exit_m)
        dry = max(0.0, self.z_park_m - max(bottom, self.z_liquid_m))
        wet = max(0.0, min(self.z_liquid_m, self.z_park_m) - bottom)
        return self.air_n_m * dry + self.liquid_n_m * wet

    def hanging_z_m(self, paid_out_m: float, tension_n: float) -> float:
        """Height of a vehicle hanging in the chimney (stretch from the end tension)."""
        z = self.z_park_m - paid_out_m
        end_n = max(0.0, tension_n - self.column_n(z))
        return z - end_n * max(paid_out_m, MIN_SPRING_LENGTH_M) / self.ea_n

    def hanging_tension_n(self, paid_out_m: float) -> float:
        """Load cell reading with the vehicle hanging on the winch."""
        z = self.z_park_m - paid_out_m
        return self.vehicle_weight_n(z) + self.column_n(z)

    def slack_tension_n(self, paid_out_m: float) -> float:
        """Load cell reading while the vehicle navigates on a slack umbilical."""
        free = max(0.0, paid_out_m - self.chimney_m)
        return self.column_n(self.z_exit_m) + 0.5 * self.liquid_n_m * free
