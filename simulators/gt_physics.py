"""Pure Guide Tube physics: one cable from the top spool through the tube to the bottom spool,
the car clamped on it.

Path coordinate u runs along the cable from the top spool's reference mark (u = 0) through the
top lead-in, along the tube (polar angle theta_start -> theta_end, radius R) and the bottom
lead-in to the bottom spool's mark. The car sits at polar angle theta. Segment A (top side)
has unstretched length ``a``, segment B (bottom side) ``b``.

* Capstan friction: while the cable slides in direction ``d`` (+1: towards the bottom spool,
  the car going down; -1: towards the top), tension grows along u as e^(d*mu*wrap). When the
  cable stops, static friction keeps the last sliding profile.
* Stretch: strain T/EA integrated along each segment, plus each spool's dancer stroke T/k.
* The car: gravity pulls it down the tube with W*sin(theta); Coulomb friction F opposes its
  motion (simulator-only: the daemon does not model F).
* End stops at theta_start (garage end) and theta_end pin the car; a segment longer than its
  path goes slack (zero tension).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simulators.config_gt import GtCfg

BISECTION_STEPS = 60


def expm1_over(x: float) -> float:
    """(e^x - 1) / x, continuous at 0."""
    return 1.0 if abs(x) < 1e-12 else math.expm1(x) / x


@dataclass(frozen=True)
class LoopState:
    """The true state of the loop."""

    theta_rad: float
    tension_top_n: float  # at the top spool (its load cell)
    tension_bottom_n: float  # at the bottom spool
    car_top_n: float  # at the car, top side
    car_bottom_n: float  # at the car, bottom side
    pinned: bool  # the car rests against an end stop

    @property
    def theta_deg(self) -> float:
        """Polar angle of the car."""
        return math.degrees(self.theta_rad)


@dataclass(frozen=True)
class LoopPhysics:
    """Geometry and stiffnesses of the loop (no state)."""

    radius_m: float
    theta_start_rad: float
    theta_end_rad: float
    lead_top_m: float
    lead_bottom_m: float
    mu: float
    ea_n: float
    tensioner_top_n_m: float
    tensioner_bottom_n_m: float
    car_weight_n: float
    car_friction_n: float

    @classmethod
    def from_cfg(cls, cfg: GtCfg) -> LoopPhysics:
        """Build from the [gt] section."""
        t, s = cfg.tube, cfg.spool
        return cls(
            radius_m=t.radius_m,
            theta_start_rad=math.radians(t.theta_start_deg),
            theta_end_rad=math.radians(t.theta_end_deg),
            lead_top_m=t.lead_top_m,
            lead_bottom_m=t.lead_bottom_m,
            mu=t.friction_mu,
            ea_n=s.cable_ea_n,
            tensioner_top_n_m=s.tensioner_n_m,
            tensioner_bottom_n_m=s.tensioner_n_m,
            car_weight_n=cfg.car_weight_n,
            car_friction_n=cfg.sim.car_friction_n,
        )

    # -- geometry ----------------------------------------------------------------------------
    def path_top_m(self, theta: float) -> float:
        """Cable path from the top mark to the car."""
        return self.lead_top_m + self.radius_m * (theta - self.theta_start_rad)

    def path_bottom_m(self, theta: float) -> float:
        """Cable path from the car to the bottom mark."""
        return self.lead_bottom_m + self.radius_m * (self.theta_end_rad - theta)

    # -- compliance per newton of tension at the car -------------------------------------------
    def compliance_top(self, theta: float, d: int) -> float:
        """Stretch + dancer stroke of segment A per newton of tension at the car (top side)."""
        phi = theta - self.theta_start_rad
        at_spool = math.exp(-d * self.mu * phi)  # T_top / T_car
        tube = self.radius_m * phi * expm1_over(-d * self.mu * phi)
        return at_spool / self.tensioner_top_n_m + (at_spool * self.lead_top_m + tube) / self.ea_n

    def compliance_bottom(self, theta: float, d: int) -> float:
        """Stretch + dancer stroke of segment B per newton of tension at the car (bottom side)."""
        psi = self.theta_end_rad - theta
        at_spool = math.exp(d * self.mu * psi)  # T_bottom / T_car
        tube = self.radius_m * psi * expm1_over(d * self.mu * psi)
        return (
            at_spool / self.tensioner_bottom_n_m
            + (at_spool * self.lead_bottom_m + tube) / self.ea_n
        )

    def spool_factors(self, theta: float, d: int) -> tuple[float, float]:
        """(T_top / T_car_top, T_bottom / T_car_bottom) for the friction profile ``d``."""
        return (
            math.exp(-d * self.mu * (theta - self.theta_start_rad)),
            math.exp(d * self.mu * (self.theta_end_rad - theta)),
        )

    # -- lengths for a car position --------------------------------------------------------------
    def lengths_for(self, theta: float, car_bottom_n: float, d: int) -> tuple[float, float]:
        """Unstretched (a, b) that hold the car at ``theta`` with ``car_bottom_n`` below it
        (the car's weight carried by the top side; car friction ignored)."""
        car_top_n = car_bottom_n + self.car_weight_n * math.sin(theta)
        a = self.path_top_m(theta) - car_top_n * self.compliance_top(theta, d)
        b = self.path_bottom_m(theta) - car_bottom_n * self.compliance_bottom(theta, d)
        return a, b

    # -- equilibrium ---------------------------------------------------------------------------
    def _sides(self, theta: float, a: float, b: float, d: int) -> tuple[float, float]:
        top = max(0.0, (self.path_top_m(theta) - a) / self.compliance_top(theta, d))
        bottom = max(0.0, (self.path_bottom_m(theta) - b) / self.compliance_bottom(theta, d))
        return top, bottom

    def _imbalance(self, theta: float, a: float, b: float, d: int) -> float:
        """Net force on the car towards smaller theta (zero at equilibrium)."""
        top, bottom = self._sides(theta, a, b, d)
        return top - bottom - self.car_weight_n * math.sin(theta) + d * self.car_friction_n

    def state_at(self, theta: float, a: float, b: float, d: int, *, pinned: bool) -> LoopState:
        """Tensions with the car held at ``theta`` (equilibrium, an end stop, or a snag)."""
        top, bottom = self._sides(theta, a, b, d)
        f_top, f_bottom = self.spool_factors(theta, d)
        return LoopState(theta, top * f_top, bottom * f_bottom, top, bottom, pinned)

    def solve(self, a: float, b: float, d: int) -> LoopState:
        """The car's equilibrium for unstretched lengths (a, b) and friction direction d."""
        lo, hi = self.theta_start_rad, self.theta_end_rad
        if self._imbalance(lo, a, b, d) >= 0:
            return self.state_at(lo, a, b, d, pinned=True)
        if self._imbalance(hi, a, b, d) <= 0:
            return self.state_at(hi, a, b, d, pinned=True)
        for _ in range(BISECTION_STEPS):
            mid = (lo + hi) / 2
            if self._imbalance(mid, a, b, d) < 0:
                lo = mid
            else:
                hi = mid
        return self.state_at((lo + hi) / 2, a, b, d, pinned=False)
