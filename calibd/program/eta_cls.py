"""A CLS's motion-time model (`cls_motion.py`): coordinated moves of both spools along the
path planner's waypoints, the chimney exit and the side spool's homing jog."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from calibd.cfg_cls import ClsCfg
from calibd.config import Settings
from calibd.program.eta import Estimator, Leg, drive_s, jog_s
from calibd.subsystems.cls_kinematics import ClsModel, Point

_SIDE_APPROACH_M = 0.003  # cls_motion: the side spool stops this far wound-in of its flag
_WEIGH_ABOVE_M = 0.01  # cls_motion: the source is weighed this far above the chimney exit


class ClsEta(Estimator):
    """`cls_motion.py`: coordinated moves of both spools, a stop at every waypoint."""

    def __init__(self, name: str, cfg: ClsCfg, settings: Settings, start: Mapping[str, Any]):
        super().__init__(name, cfg.poll_fast_hz, True, settings)
        self.cfg = cfg
        self.model = ClsModel(cfg)  # its own: the live model's warm starts stay untouched
        self.revs = (0.0, 0.0)
        self.side_accel = 0.0  # rev/s2 last written to the side drive (homing keeps it)
        self.pose: Point | None = None  # None: in the chimney (parked)
        if start.get("x_m") is not None and start.get("z_m") is not None:
            self.pose = (float(start["x_m"]), float(start["z_m"]))
            self.revs = self.model.revs_for(*self.pose)

    def path_problem(self, action: str, args: Mapping[str, Any]) -> str | None:
        if action == "retract":
            if self.pose is None:
                return None
            back = self.model.plan(self.pose, self.model.exit_point())
            return f"no way back to the chimney: {back}" if isinstance(back, str) else None
        target = (float(args["x_m"]), float(args["z_m"]))
        if action == "deploy":
            plan = self.model.plan(self.model.exit_point(), target)
            return plan if isinstance(plan, str) else None
        if action == "move" and self.pose is not None:
            return self.model.check_path(self.pose, target)
        return None

    def _coordinated(self, leg: Leg, rev_c: float, rev_s: float) -> None:
        cfg = self.cfg
        ramp_s = cfg.speed_m_s / cfg.accel_m_s2
        spools = (
            (cfg.spool, self.revs[0], rev_c, "central"),
            (cfg.side_spool, self.revs[1], rev_s, "side"),
        )
        # speeds from the bare drum radius, as cls_motion does (the cable: its layer's radius)
        dist_m = [abs(b - a) * 2 * math.pi * sp.drum_radius_m for sp, a, b, _ in spools]
        travel_s = max(dist_m) / cfg.speed_m_s
        model, times = self.model, []
        cable_m = (
            model.central_drum.paid_out_m(rev_c) - model.central_drum.paid_out_m(self.revs[0]),
            model.side_wound_in_m(rev_s) - model.side_wound_in_m(self.revs[1]),
        )
        for (sp, a, b, axis), metres in zip(spools, cable_m, strict=True):
            if abs(b - a) * sp.counts_per_rev < 1.0:
                continue
            speed = abs(b - a) / max(travel_s, 1e-9)
            times.append(drive_s(b - a, speed, speed / ramp_s, sp.counts_per_rev))
            leg.add(0.0, f"{self.name}.{axis}", metres)
            if axis == "side":
                self.side_accel = speed / ramp_s
        self.revs = (rev_c, rev_s)
        if times:
            leg.add(max(times) + self.lag_s)

    def _follow(self, leg: Leg, path: list[Point]) -> None:
        for p in path:
            self._coordinated(leg, *self.model.revs_for(*p))
        leg.add(2 * self.lag_s)  # the correction loop judges the second fresh poll
        self.pose = path[-1]

    def _deploy(self, leg: Leg, args: Mapping[str, Any]) -> None:
        model = self.model
        leg.add(self.valve_s)
        self._coordinated(leg, *model.revs_in_chimney(model.loop.c_z + _WEIGH_ABOVE_M))
        leg.add(self.lag_s)  # weighed on a fresh poll
        self._coordinated(leg, *model.exit_revs())
        leg.add(self.lag_s)
        plan = model.plan(model.exit_point(), (float(args["x_m"]), float(args["z_m"])))
        if isinstance(plan, str):
            raise ArithmeticError(plan)
        self._follow(leg, plan)

    def _move(self, leg: Leg, args: Mapping[str, Any]) -> None:
        target = (float(args["x_m"]), float(args["z_m"]))
        self._follow(leg, self.model.waypoints(self.pose or self.model.exit_point(), target))

    def _retract(self, leg: Leg) -> None:
        model, cfg = self.model, self.cfg
        if self.pose is not None:
            plan = model.plan(self.pose, model.exit_point())
            if isinstance(plan, str):
                raise ArithmeticError(plan)
            for p in plan:
                self._coordinated(leg, *model.revs_for(*p))
            self._coordinated(leg, *model.exit_revs())
        self._coordinated(leg, *model.revs_in_chimney(model.loop.c_z))
        self._coordinated(leg, 0.0, model.side_rev_at(_SIDE_APPROACH_M))
        # the side spool pays out onto its reference flag at home speed (last acceleration)
        cpr = cfg.side_spool.counts_per_rev
        speed = round(cfg.home_speed_m_s / (2 * math.pi * cfg.side_spool.drum_radius_m) * cpr)
        accel = max(1, round(self.side_accel * cpr))
        leg.add(jog_s(round(abs(self.revs[1]) * cpr), speed, accel) + self.lag_s)
        self.revs, self.pose = (0.0, 0.0), None
