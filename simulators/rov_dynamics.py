"""ROV rigid-body translation: mass + added mass, quadratic drag, trim, thrust, umbilical.

Pure physics, no I/O. The umbilical runs from the winch in the house (at ``z_park_m`` on the
chimney axis) straight down the chimney to its exit into the sphere (``z_exit_m``), then
straight to the vehicle. When the winch has paid out less than that path the umbilical pulls
the vehicle towards the anchor (a stiff spring, EA/L, with damping); otherwise it hangs slack.
In the chimney the walls keep the vehicle on the axis; a closed gate valve stops it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

G_M_S2 = 9.81
MIN_SPRING_LENGTH_M = 1.0  # EA/L stiffness is capped as if at least this much were out
TETHER_DAMPING_RATIO = 1.0
AIR_DAMPING_N_S_M = 2.0  # keeps a vehicle hanging in air from ringing for ever
DT_TAUT_S = 0.004  # integration step while the umbilical is (nearly) taut
DT_FREE_S = 0.02  # and while it hangs slack
TAUT_MARGIN_M = 0.05

Vec = tuple[float, float, float]


@dataclass(frozen=True)
class Body:
    """The vehicle: apparent weights from the umbilical spool config, hydrodynamics."""

    mass_kg: float
    added_mass_kg: float
    trim_n: float  # net buoyancy when fully submerged (negative: heavy)
    length_m: float
    radius_m: float
    drag_h_n_s2_m2: float  # ½ρ·Cd·A, horizontal
    drag_v_n_s2_m2: float  # ½ρ·Cd·A, vertical

    @property
    def weight_n(self) -> float:
        return self.mass_kg * G_M_S2


@dataclass(frozen=True)
class Geometry:
    """Heights on the chimney axis, the sphere, the umbilical."""

    z_park_m: float
    z_valve_m: float
    z_liquid_m: float
    z_exit_m: float
    chimney_clearance_m: float  # how far the vehicle centre can be off the axis in the chimney
    sphere_radius_m: float
    tether_ea_n: float
    tether_air_n_m: float
    tether_liquid_n_m: float

    @property
    def chimney_length_m(self) -> float:
        """Umbilical from the winch to the chimney exit."""
        return self.z_park_m - self.z_exit_m

    def path_m(self, p: Vec) -> tuple[float, Vec]:
        """Umbilical length needed to reach ``p`` and the unit pull direction at the vehicle."""
        x, y, z = p
        if z >= self.z_exit_m:
            return self.z_park_m - z, (0.0, 0.0, 1.0)
        dx, dy, dz = -x, -y, self.z_exit_m - z
        d = math.sqrt(dx * dx + dy * dy + dz * dz)
        return self.chimney_length_m + d, (dx / d, dy / d, dz / d)

    def column_weight_n(self, z_bottom_m: float) -> float:
        """Apparent weight of the umbilical hanging from the winch down to ``z_bottom_m``."""
        bottom = max(z_bottom_m, self.z_exit_m)
        dry = max(0.0, self.z_park_m - max(bottom, self.z_liquid_m))
        wet = max(0.0, min(self.z_liquid_m, self.z_park_m) - bottom)
        return self.tether_air_n_m * dry + self.tether_liquid_n_m * wet


def submerged_fraction(z_m: float, z_liquid_m: float, length_m: float) -> float:
    """Fraction of the body below the liquid surface (linear over its height)."""
    return min(1.0, max(0.0, (z_liquid_m - (z_m - length_m / 2)) / length_m))


def apparent_weight_n(body: Body, z_m: float, z_liquid_m: float) -> float:
    """Downward net force of gravity and buoyancy at height ``z_m``."""
    f = submerged_fraction(z_m, z_liquid_m, body.length_m)
    return body.weight_n - f * (body.weight_n + body.trim_n)


class Dynamics:
    """The vehicle's state and one integration step."""

    def __init__(self, body: Body, geo: Geometry, position_m: Vec) -> None:
        self.body = body
        self.geo = geo
        self.p: list[float] = list(position_m)
        self.v: list[float] = [0.0, 0.0, 0.0]
        self.tension_end_n = 0.0  # umbilical tension at the vehicle
        self.last_dv_m_s = 1.0  # largest velocity change of the last step
        self.contact = False  # touching the acrylic, a chimney wall or the valve
        self._above_valve = position_m[2] >= geo.z_valve_m

    @property
    def position_m(self) -> Vec:
        return (self.p[0], self.p[1], self.p[2])

    @property
    def velocity_m_s(self) -> Vec:
        return (self.v[0], self.v[1], self.v[2])

    def submerged(self) -> float:
        return submerged_fraction(self.p[2], self.geo.z_liquid_m, self.body.length_m)

    def dt_s(self, paid_out_m: float) -> float:
        """The integration step for the current slack."""
        need, _ = self.geo.path_m(self.position_m)
        return DT_TAUT_S if need > paid_out_m - TAUT_MARGIN_M else DT_FREE_S

    def tether(self, paid_out_m: float, pay_rate_m_s: float) -> tuple[float, Vec]:
        """Umbilical tension at the vehicle and its direction."""
        need, u = self.geo.path_m(self.position_m)
        stretch = need - paid_out_m
        if stretch <= 0:
            return 0.0, u
        b = self.body
        k = self.geo.tether_ea_n / max(paid_out_m, MIN_SPRING_LENGTH_M)
        m = b.mass_kg + self.submerged() * b.added_mass_kg
        c = 2 * TETHER_DAMPING_RATIO * math.sqrt(k * m)
        need_rate = -(u[0] * self.v[0] + u[1] * self.v[1] + u[2] * self.v[2])
        return max(0.0, k * stretch + c * (need_rate - pay_rate_m_s)), u

    def step(
        self, dt_s: float, thrust_n: Vec, paid_out_m: float, pay_rate_m_s: float, valve_open: bool
    ) -> None:
        """Advance by ``dt_s`` (semi-implicit Euler), then apply the contacts."""
        b, p, v = self.body, self.p, self.v
        f = self.submerged()
        m = b.mass_kg + f * b.added_mass_kg
        tension, u = self.tether(paid_out_m, pay_rate_m_s)
        self.tension_end_n = tension
        drags = (b.drag_h_n_s2_m2, b.drag_h_n_s2_m2, b.drag_v_n_s2_m2)
        v0 = (v[0], v[1], v[2])
        for i in range(3):
            force = f * thrust_n[i] + tension * u[i]
            force -= f * drags[i] * v[i] * abs(v[i]) + (1.0 - f) * AIR_DAMPING_N_S_M * v[i]
            if i == 2:
                force -= b.weight_n - f * (b.weight_n + b.trim_n)
            v[i] += force / m * dt_s
        for i in range(3):
            p[i] += v[i] * dt_s
        self._constrain(valve_open)
        self.last_dv_m_s = max(abs(a - b) for a, b in zip(v, v0, strict=True))

    def _constrain(self, valve_open: bool) -> None:
        geo, p, v = self.geo, self.p, self.v
        self.contact = False
        if p[2] >= geo.z_exit_m:
            r = math.hypot(p[0], p[1])
            if r > geo.chimney_clearance_m:
                self._clamp_radial_xy(r, geo.chimney_clearance_m)
        elif p[2] < 0 or math.hypot(p[0], p[1]) > geo.chimney_clearance_m:  # the mouth is open
            r_max = geo.sphere_radius_m - self.body.radius_m
            r = math.sqrt(p[0] ** 2 + p[1] ** 2 + p[2] ** 2)
            if r > r_max:
                scale = r_max / r
                radial = [c / r for c in p]
                out = sum(vi * ui for vi, ui in zip(v, radial, strict=True))
                for i in range(3):
                    p[i] *= scale
                    if out > 0:
                        v[i] -= out * radial[i]
                self.contact = True
        # the gate valve: closed, it holds the vehicle on its side
        if p[2] >= geo.z_valve_m:
            if not self._above_valve and not valve_open:
                p[2] = geo.z_valve_m - 1e-6
                v[2] = min(v[2], 0.0)
                self.contact = True
            else:
                self._above_valve = True
        elif self._above_valve:
            if valve_open:
                self._above_valve = False
            else:
                p[2] = geo.z_valve_m
                v[2] = max(v[2], 0.0)
                self.contact = True

    def _clamp_radial_xy(self, r: float, r_max: float) -> None:
        p, v = self.p, self.v
        ux, uy = p[0] / r, p[1] / r
        p[0], p[1] = ux * r_max, uy * r_max
        out = v[0] * ux + v[1] * uy
        if out > 0:
            v[0] -= out * ux
            v[1] -= out * uy
        self.contact = True

    def top_tension_n(self, paid_out_m: float) -> float:
        """Tension at the winch (the load cell): the end tension plus the umbilical weight."""
        geo = self.geo
        z = self.p[2]
        column = geo.column_weight_n(z)
        free_m = max(0.0, paid_out_m - geo.chimney_length_m) if z < geo.z_exit_m else 0.0
        return self.tension_end_n + column + 0.5 * geo.tether_liquid_n_m * free_m

    def rest(self) -> None:
        """Stop dead (a snag holds the vehicle)."""
        self.v = [0.0, 0.0, 0.0]
