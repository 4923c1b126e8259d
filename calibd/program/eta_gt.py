"""The guide tube's motion-time model (`gt_motion.py`): both drums in step to theta."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from calibd.cfg_gt import GtCfg
from calibd.config import Settings
from calibd.program.eta import Estimator, Leg, drive_s
from calibd.subsystems.gt_model import GtModel


class GtEta(Estimator):
    """`gt_motion.py`: both drums in step to the lengths that put the car at theta."""

    def __init__(self, cfg: GtCfg, settings: Settings, start: Mapping[str, Any]) -> None:
        super().__init__("gt", cfg.poll_fast_hz, cfg.valve is not None, settings)
        self.cfg = cfg
        self.model = GtModel.from_cfg(cfg)
        self.theta = self.model.theta_park_rad
        self.revs = (0.0, 0.0)
        if start.get("theta_deg") is not None:
            self.theta = math.radians(float(start["theta_deg"]))
            self.revs = self.model.revs_for(self.theta, 1)

    def _drums_to(self, leg: Leg, top: float, bottom: float) -> None:
        cfg, mpr = self.cfg, self.model.metres_per_rev
        cpr = cfg.spool.counts_per_rev
        delta = [b - a for a, b in zip(self.revs, (top, bottom), strict=True)]
        delta = [d if abs(d) * cpr >= 0.5 else 0.0 for d in delta]
        lead_m = max(abs(d) for d in delta) * mpr
        self.revs = (top, bottom)
        if lead_m == 0.0:
            return
        times = []
        for axis, d in zip(("top", "bottom"), delta, strict=True):
            share = abs(d) * mpr / lead_m
            speed = max(cfg.speed_m_s * share / mpr, 1.5 / cpr)
            accel = max(cfg.accel_m_s2 * share / mpr, 1.5 / cpr)
            times.append(drive_s(d, speed, accel, cpr))
            leg.add(0.0, f"gt.{axis}", d * mpr)
        leg.add(max(times) + self.lag_s)

    def _move(self, leg: Leg, args: Mapping[str, Any]) -> None:
        target = math.radians(float(args["theta_deg"]))
        d = 1 if target > self.theta else -1
        self._drums_to(leg, *self.model.revs_for(target, d))
        leg.add(self.lag_s)  # the position is judged on the next poll
        self.theta = target

    def _retract(self, leg: Leg) -> None:
        self._drums_to(leg, 0.0, 0.0)
        self.theta = self.model.theta_park_rad
