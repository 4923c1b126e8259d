"""GT axes: the top and bottom spools (drive + load cell each), the car position estimate
from them, and the protections (tension windows around the model's expected tensions)."""

from __future__ import annotations

import math
from typing import Any

from calibd.cfg_gt import GtCfg
from calibd.cfg_interlocks import InterlocksCfg
from calibd.core.axes import Axes
from calibd.core.axis import Axis, TensionWindow, cable_soft_rev
from calibd.core.errors import Trip, fault_cause
from calibd.core.motion_tracker import MotionTracker
from calibd.subsystems.gt_model import GtModel
from drivers.base import Drive, ForceSensor

AXES = ("top", "bottom")


class GtAxes(Axes):
    def __init__(
        self,
        cfg: GtCfg,
        devices: dict[str, tuple[Drive, ForceSensor]],
        *,
        time_scale: float = 1.0,
        limits: InterlocksCfg | None = None,
    ) -> None:
        limits = limits or InterlocksCfg()
        sp = cfg.spool
        super().__init__(
            (
                Axis(
                    name,
                    devices[name][0],
                    devices[name][1],
                    sp.counts_per_rev,
                    soft_rev=cable_soft_rev(sp.drum_radius_m, sp.cable_length_m),
                    tracker=MotionTracker.for_drum(limits, sp.drum_radius_m),
                )
                for name in AXES
            ),
            move_margin_s=cfg.move_margin_s,
            time_scale=time_scale,
        )
        self.cfg = cfg
        self.model = GtModel.from_cfg(cfg)
        self.homed = False
        #: friction profile: +1 the cable last slid towards the bottom spool, -1 towards the top
        self.direction = -1

    @property
    def top(self) -> Axis:
        return self.axes["top"]

    @property
    def bottom(self) -> Axis:
        return self.axes["bottom"]

    # ---- position ----------------------------------------------------------------------------

    def estimate(self) -> tuple[float, float, float] | None:
        """(theta, theta from the top side, from the bottom side) in radians; None unknown."""
        top, bottom = self.top, self.bottom
        if not self.homed or top.rev is None or bottom.rev is None:
            return None
        if top.tension_n is None or bottom.tension_n is None:
            return None
        a, b = self.model.lengths_at(top.rev, bottom.rev)
        return self.model.theta_rad(a, b, top.tension_n, bottom.tension_n, self.direction)

    def theta_deg(self) -> float | None:
        est = self.estimate()
        return None if est is None else math.degrees(est[0])

    def note_motion(self, d_top_rev: float, d_bottom_rev: float) -> None:
        """The friction profile follows the sliding direction (both drums the same way)."""
        if d_top_rev > 0 and d_bottom_rev > 0:
            self.direction = 1
        elif d_top_rev < 0 and d_bottom_rev < 0:
            self.direction = -1

    # ---- protections -------------------------------------------------------------------------

    def windows(self) -> dict[str, TensionWindow]:
        est = self.estimate()
        theta = self.model.theta_park_rad if est is None else est[0]
        theta = min(max(theta, self.model.theta_start_rad), self.model.theta_end_rad)
        expected = self.model.spool_tensions_n(theta, self.direction)
        cfg = self.cfg
        return {
            name: TensionWindow.around(
                t,
                snag_factor=cfg.snag_factor,
                slack_factor=cfg.slack_factor,
                floor_n=cfg.tension_floor_n,
                range_n=cfg.spool.load_cell_range_n,
            )
            for name, t in zip(AXES, expected, strict=True)
        }

    def violation(self, *, ignore_alarms: bool = False) -> Trip | None:
        windows = self.windows()
        for name in AXES:
            trip = self.axes[name].trip(
                windows[name], homed=self.homed, ignore_alarms=ignore_alarms
            )
            if trip is not None:
                return trip
        return None

    def check_protections(self) -> None:
        trip = self.violation()
        if trip is not None:
            raise trip

    def fault_cause(self) -> str | None:
        """Why a fault may not be reset yet (None: the cause is gone)."""
        return fault_cause(self.lost, lambda: self.violation(ignore_alarms=True))

    # ---- publishing --------------------------------------------------------------------------

    def telemetry(self) -> dict[str, Any]:
        doc = super().telemetry()
        est = self.estimate()
        doc["theta_deg"] = None if est is None else round(math.degrees(est[0]), 5)
        doc["theta_top_deg"] = None if est is None else round(math.degrees(est[1]), 5)
        doc["theta_bottom_deg"] = None if est is None else round(math.degrees(est[2]), 5)
        doc["friction_dir"] = self.direction
        return doc
