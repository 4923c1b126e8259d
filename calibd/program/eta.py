"""How long the daemon takes to execute a move, in physics seconds (before `time_scale`).

Each estimator follows one system's motion sequence (`calibd/subsystems/*_motion.py`) step by
step, with the same models the daemon uses (spool, cable loop, guide tube), and times every
drive move the way the simulated drive runs it (`simulators/motion.py`): a trapezoidal
profile from standstill to standstill with the speed and acceleration the daemon writes,
rounded to whole counts per second. Every wait for a drive (or a valve) to finish ends at the
daemon's next poll: `lag_s` per wait (docs/programs.md has the measurements). Position
corrections are not modelled (their moves are millimetres). Estimators keep the position they
have reached, so a sequence of moves is timed from where the previous one ended.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from calibd.cfg_cls import ClsCfg
from calibd.cfg_gt import GtCfg
from calibd.cfg_rov import RovCfg
from calibd.config import AcuCfg, Settings
from calibd.subsystems.acu_axes import spool_model
from calibd.subsystems.cls_kinematics import ClsModel, Point
from calibd.subsystems.gt_model import GtModel
from calibd.subsystems.rov_nav import Umbilical

#: the house polls its IO module this often while a valve moves (`_FAST_POLL_S`, house.py)
HOUSE_FAST_POLL_S = 0.02
#: wall time from a drive's standstill to the sequence going on, in poll periods: the stop is
#: seen by the next poll (half a period on average) plus the bus round trips of the command
#: write and of the poll's reads (measured on the HIL stack, docs/programs.md)
LAG_PERIODS = 1.0
_SIDE_APPROACH_M = 0.003  # cls_motion: the side spool stops this far wound-in of its flag
_WEIGH_ABOVE_M = 0.01  # cls_motion: the source is weighed this far above the chimney exit


def profile_s(dist: float, speed: float, accel: float) -> float:
    """A trapezoidal (triangular when short) move over `dist` from standstill to standstill."""
    dist = abs(dist)
    if dist == 0.0 or speed <= 0.0 or accel <= 0.0:
        return 0.0
    if dist >= speed * speed / accel:
        return dist / speed + speed / accel
    return 2.0 * math.sqrt(dist / accel)


def drive_s(dist_rev: float, speed_rev_s: float, accel_rev_s2: float, cpr: float) -> float:
    """A drive move as the drive runs it: target, speed and acceleration in whole counts."""
    speed = max(1, round(speed_rev_s * cpr))
    accel = max(1, round(accel_rev_s2 * cpr))
    return profile_s(round(abs(dist_rev) * cpr), speed, accel)


def jog_s(dist: float, speed: float, accel: float) -> float:
    """A homing jog from standstill until it has covered `dist` (it stops on the switch)."""
    dist = abs(dist)
    if dist == 0.0:
        return 0.0
    ramp = speed * speed / (2 * accel)
    if dist <= ramp:
        return math.sqrt(2 * dist / accel)
    return speed / accel + (dist - ramp) / speed


@dataclass
class Leg:
    """The estimate of one command: motion time and travel per axis."""

    motion_s: float = 0.0
    travel: dict[str, float] = field(default_factory=dict)

    def add(self, seconds: float, axis: str | None = None, metres: float = 0.0) -> None:
        self.motion_s += seconds
        if axis is not None:
            self.travel[axis] = self.travel.get(axis, 0.0) + abs(metres)

    def fields(self) -> tuple[float, dict[str, float]]:
        """(motion_s, travel), as a Move takes them."""
        return self.motion_s, self.travel


class Estimator:
    """One system's motion model, at the position its last estimated move reached; `deploy`,
    `move` and `retract` time one command each (`_deploy`, `_move`, `_retract`: its waits)."""

    def __init__(self, name: str, poll_fast_hz: float, valve: bool, settings: Settings) -> None:
        self.name = name
        scale = settings.sim.time_scale
        self.lag_s = LAG_PERIODS / poll_fast_hz * scale
        valve_s = settings.program.valve_travel_s + LAG_PERIODS * HOUSE_FAST_POLL_S * scale
        self.valve_s = valve_s if valve else 0.0

    def path_problem(self, action: str, args: Mapping[str, Any]) -> str | None:
        """Why the path of this command is refused (None: it has one)."""
        return None

    def deploy(self, args: Mapping[str, Any]) -> Leg:
        leg = Leg()
        self._deploy(leg, args)
        return leg

    def move(self, args: Mapping[str, Any]) -> Leg:
        leg = Leg()
        self._move(leg, args)
        return leg

    def retract(self) -> Leg:
        leg = Leg()
        self._retract(leg)
        leg.add(self.valve_s)  # every retract ends closing the gate valve
        return leg

    def _deploy(self, leg: Leg, args: Mapping[str, Any]) -> None:
        leg.add(self.valve_s)  # every deploy starts opening the gate valve
        self._move(leg, args)

    def _move(self, leg: Leg, args: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def _retract(self, leg: Leg) -> None:
        raise NotImplementedError


class AcuEta(Estimator):
    """`acu_motion.py`: select (turntable, only when the unit changes), gate valve, spool."""

    def __init__(self, cfg: AcuCfg, settings: Settings, start: Mapping[str, Any]) -> None:
        super().__init__("acu", cfg.poll_fast_hz, True, settings)
        self.cfg = cfg
        self.models = {u.name: spool_model(cfg, u.name) for u in cfg.units}
        self.angles = {u.name: u.angle_deg for u in cfg.units}
        # homing zeroes the turntable at 0 deg: the unit there (if any) is under the port
        self.unit: str | None = start.get("unit") or next(
            (u for u, a in self.angles.items() if a == 0), None
        )
        self.angle_deg = self.angles.get(self.unit or "", 0.0)
        self.rev = {u.name: 0.0 for u in cfg.units}
        if self.unit in self.models and start.get("z_m") is not None:
            self.rev[self.unit] = self.models[self.unit].rev_for_z(float(start["z_m"]))

    def _deploy(self, leg: Leg, args: Mapping[str, Any]) -> None:
        unit = str(args["unit"])
        if unit != self.unit:  # select: the turntable turns (absolute angles, no wrap)
            tt = self.cfg.turntable
            turn_deg = self.angles[unit] - self.angle_deg
            cpr = tt.counts_per_rev * tt.gear_ratio
            t = drive_s(turn_deg / 360, tt.speed_deg_s / 360, tt.accel_deg_s2 / 360, cpr)
            leg.add(t + self.lag_s, "acu.turntable", turn_deg)
            self.unit, self.angle_deg = unit, self.angles[unit]
        super()._deploy(leg, args)

    def _move(self, leg: Leg, args: Mapping[str, Any]) -> None:
        self._spool(leg, float(args["z_m"]))

    def _retract(self, leg: Leg) -> None:
        self._spool_rev(leg, 0.0)

    def _spool(self, leg: Leg, z_m: float) -> None:
        self._spool_rev(leg, self.models[self._unit()].rev_for_z(z_m))

    def _unit(self) -> str:
        if self.unit is None:
            raise ArithmeticError("no ACU unit under the port")
        return self.unit

    def _spool_rev(self, leg: Leg, rev: float) -> None:
        unit = self._unit()
        drum = self.models[unit].drum
        now = self.rev[unit]
        m_per_rev = drum.metres_per_rev(now)
        cpr = self.cfg.spool_of(unit).counts_per_rev
        t = drive_s(rev - now, self.cfg.speed_m_s / m_per_rev, self.cfg.accel_m_s2 / m_per_rev, cpr)
        leg.add(t + self.lag_s, f"acu.{unit}", drum.paid_out_m(rev) - drum.paid_out_m(now))
        self.rev[unit] = rev


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


def estimator(system: str, settings: Settings, start: Mapping[str, Any] | None) -> Estimator:
    """The motion model of `system` (configured), at `start` (default: parked)."""
    where = dict(start or {})
    cfg = getattr(settings, system)
    if isinstance(cfg, AcuCfg):
        return AcuEta(cfg, settings, where)
    if isinstance(cfg, ClsCfg):
        return ClsEta(system, cfg, settings, where)
    if isinstance(cfg, GtCfg):
        return GtEta(cfg, settings, where)
    if isinstance(cfg, RovCfg):
        return RovEta(cfg, settings, where)
    raise KeyError(f"{system} is not configured")
