"""Guide Tube kinematics: drum positions + measured tensions -> polar angle of the car, and back.

Pure functions, no I/O (docs/systems/gt.md has the derivation). The cable runs from the top
spool's reference mark through the top lead-in, along the tube (radius R, polar angle
theta_start -> theta_end) and the bottom lead-in to the bottom spool's mark; the car is clamped
on it at theta. Segment A (top side) has unstretched length a = a_park + top drum metres,
segment B (bottom side) b = b_park - bottom drum metres (both drives count positive when the
car goes down).

While the cable slides in direction d (+1 towards the bottom spool, -1 towards the top), PTFE
friction makes the tension grow as e^(d*mu*wrap) along it (capstan); when it stops, the last
profile stays. Each side stretches by its strain (T/EA) plus its dancer stroke (T/k).

* Position: each side alone gives theta from its length and its *measured* spool tension;
  the estimate is the mean of the two (their difference is a health check).
* Targets: the lengths that put the car at theta with `pretension_n` at the car's bottom side
  (and pretension + W sin(theta) on its top side).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from calibd.cfg_gt import GtCfg

_NEWTON_STEPS = 8


def _e1(x: float) -> float:
    """(e^x - 1) / x, continuous at 0."""
    return 1.0 if abs(x) < 1e-12 else math.expm1(x) / x


@dataclass(frozen=True)
class GtModel:
    radius_m: float
    theta_start_rad: float
    theta_end_rad: float
    lead_top_m: float
    lead_bottom_m: float
    mu: float
    ea_n: float
    tensioner_n_m: float
    car_weight_n: float
    pretension_n: float
    theta_park_rad: float
    metres_per_rev: float

    @classmethod
    def from_cfg(cls, cfg: GtCfg) -> GtModel:
        t, s = cfg.tube, cfg.spool
        return cls(
            radius_m=t.radius_m,
            theta_start_rad=math.radians(t.theta_start_deg),
            theta_end_rad=math.radians(t.theta_end_deg),
            lead_top_m=t.lead_top_m,
            lead_bottom_m=t.lead_bottom_m,
            mu=t.friction_mu,
            ea_n=s.cable_ea_n,
            tensioner_n_m=s.tensioner_n_m,
            car_weight_n=cfg.car_weight_n,
            pretension_n=cfg.pretension_n,
            theta_park_rad=math.radians(cfg.theta_park_deg),
            metres_per_rev=s.metres_per_rev,
        )

    # ---- geometry --------------------------------------------------------------------------

    def path_top_m(self, theta: float) -> float:
        return self.lead_top_m + self.radius_m * (theta - self.theta_start_rad)

    def path_bottom_m(self, theta: float) -> float:
        return self.lead_bottom_m + self.radius_m * (self.theta_end_rad - theta)

    def arc_m(self, theta: float) -> float:
        return self.radius_m * theta

    # ---- stretch per newton at the spool (for the position estimate) ------------------------

    def _top_per_spool_n(self, theta: float, d: int) -> float:
        """Stretch + dancer stroke of side A per newton measured at the top spool."""
        phi = theta - self.theta_start_rad
        tube = self.radius_m * phi * _e1(d * self.mu * phi)
        return 1 / self.tensioner_n_m + (self.lead_top_m + tube) / self.ea_n

    def _bottom_per_spool_n(self, theta: float, d: int) -> float:
        """Stretch + dancer stroke of side B per newton measured at the bottom spool."""
        psi = self.theta_end_rad - theta
        tube = self.radius_m * psi * _e1(-d * self.mu * psi)
        return 1 / self.tensioner_n_m + (self.lead_bottom_m + tube) / self.ea_n

    def theta_from_top(self, a_m: float, tension_n: float, d: int) -> float:
        """Solve path_top(theta) - stretch(theta, T_top) = a (Newton from the naive guess)."""
        theta = self.theta_start_rad + (a_m - self.lead_top_m) / self.radius_m
        for _ in range(_NEWTON_STEPS):
            f = self.path_top_m(theta) - tension_n * self._top_per_spool_n(theta, d) - a_m
            phi = theta - self.theta_start_rad
            slope = self.radius_m * (1 - tension_n * math.exp(d * self.mu * phi) / self.ea_n)
            theta -= f / slope
        return theta

    def theta_from_bottom(self, b_m: float, tension_n: float, d: int) -> float:
        """Solve path_bottom(theta) - stretch(theta, T_bottom) = b."""
        theta = self.theta_end_rad - (b_m - self.lead_bottom_m) / self.radius_m
        for _ in range(_NEWTON_STEPS):
            f = self.path_bottom_m(theta) - tension_n * self._bottom_per_spool_n(theta, d) - b_m
            psi = self.theta_end_rad - theta
            slope = -self.radius_m * (1 - tension_n * math.exp(-d * self.mu * psi) / self.ea_n)
            theta -= f / slope
        return theta

    def theta_rad(
        self, a_m: float, b_m: float, top_n: float, bottom_n: float, d: int
    ) -> tuple[float, float, float]:
        """(estimate, from the top side, from the bottom side)."""
        ta = self.theta_from_top(a_m, top_n, d)
        tb = self.theta_from_bottom(b_m, bottom_n, d)
        return (ta + tb) / 2, ta, tb

    # ---- the set point: tensions and lengths for a car position ------------------------------

    def car_tensions_n(self, theta: float) -> tuple[float, float]:
        """(top side, bottom side) at the car: the top side also carries W sin(theta)."""
        bottom = self.pretension_n
        return bottom + self.car_weight_n * math.sin(theta), bottom

    def spool_tensions_n(self, theta: float, d: int) -> tuple[float, float]:
        """Expected (top, bottom) spool tensions at the set point."""
        top, bottom = self.car_tensions_n(theta)
        return (
            top * math.exp(-d * self.mu * (theta - self.theta_start_rad)),
            bottom * math.exp(d * self.mu * (self.theta_end_rad - theta)),
        )

    def lengths_m(self, theta: float, d: int) -> tuple[float, float]:
        """Unstretched (a, b) that hold the car at theta at the set point."""
        t_top, t_bottom = self.spool_tensions_n(theta, d)
        a = self.path_top_m(theta) - t_top * self._top_per_spool_n(theta, d)
        b = self.path_bottom_m(theta) - t_bottom * self._bottom_per_spool_n(theta, d)
        return a, b

    def park_lengths_m(self) -> tuple[float, float]:
        """(a, b) at the reference marks: the car in its garage, hauled up (d = -1)."""
        return self.lengths_m(self.theta_park_rad, -1)

    # ---- drums ---------------------------------------------------------------------------

    def revs_for(self, theta: float, d: int) -> tuple[float, float]:
        """Drum targets (top, bottom) in revolutions from the marks for the car at theta."""
        a, b = self.lengths_m(theta, d)
        a0, b0 = self.park_lengths_m()
        return (a - a0) / self.metres_per_rev, (b0 - b) / self.metres_per_rev

    def lengths_at(self, top_rev: float, bottom_rev: float) -> tuple[float, float]:
        """Unstretched (a, b) for drum positions (revolutions from the marks)."""
        a0, b0 = self.park_lengths_m()
        return a0 + top_rev * self.metres_per_rev, b0 - bottom_rev * self.metres_per_rev

    def naive_theta_rad(self, top_rev: float) -> float:
        """Cable length over radius, nothing else (what the model must beat)."""
        return self.theta_park_rad + top_rev * self.metres_per_rev / self.radius_m
