"""The ROV's motion-time model (`rov_motion.py`, roughly): the winch and the navigator."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from calibd.cfg_rov import RovCfg
from calibd.config import Settings
from calibd.program.eta import Estimator, Leg, profile_s
from calibd.subsystems.rov_nav import Umbilical


class RovEta(Estimator):
    """`rov_motion.py`, roughly (no shipped program uses the ROV): winch moves at winch speed;
    navigation as the navigator's saturated proportional approach, then `settle_s`."""

    def __init__(self, cfg: RovCfg, settings: Settings, start: Mapping[str, Any]) -> None:
        super().__init__("rov", cfg.poll_fast_hz, True, settings)
        self.cfg = cfg
        self.umbilical = Umbilical.from_cfg(cfg)
        self.launch = (0.0, 0.0, cfg.z_launch_m)
        self.at = self.launch  # where the vehicle is (or will be, once launched)
        self.paid_m = 0.0
        if all(start.get(k) is not None for k in ("x_m", "y_m", "z_m")):
            self.at = (float(start["x_m"]), float(start["y_m"]), float(start["z_m"]))
            self.paid_m = self.umbilical.path_m(self.at) + cfg.slack_margin_m

    def _winch(self, leg: Leg, paid_m: float) -> None:
        t = profile_s(paid_m - self.paid_m, self.cfg.winch_speed_m_s, self.cfg.winch_accel_m_s2)
        leg.add(t + self.lag_s, "rov.winch", paid_m - self.paid_m)
        self.paid_m = paid_m

    def _navigate(self, leg: Leg, target: tuple[float, float, float]) -> None:
        cfg = self.cfg
        dist = math.dist(self.at, target)
        k, v, tol = cfg.nav_gain_per_s, cfg.speed_max_m_s, cfg.position_tolerance_m
        near = v / k  # inside this the speed is k * distance (an exponential approach)
        nav = max(dist - near, 0.0) / v + math.log(max(min(dist, near), tol) / tol) / k
        leg.add(nav + cfg.settle_s + self.lag_s, "rov.vehicle", dist)
        self.at = target
        self._winch(leg, self.umbilical.path_m(target) + cfg.slack_margin_m)

    def _deploy(self, leg: Leg, args: Mapping[str, Any]) -> None:
        leg.add(self.valve_s)
        self._winch(leg, self.cfg.z_park_m - self.cfg.z_launch_m)
        self.at = self.launch
        self._move(leg, args)

    def _move(self, leg: Leg, args: Mapping[str, Any]) -> None:
        self._navigate(leg, (float(args["x_m"]), float(args["y_m"]), float(args["z_m"])))

    def _retract(self, leg: Leg) -> None:
        self._navigate(leg, self.launch)
        self._winch(leg, 0.0)
