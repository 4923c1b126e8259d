"""CLS motion sequences: home, deploy, move, retract.

Every move is coordinated: both spools get speeds and accelerations proportional to their
travel, so they start and arrive together and the source follows the straight segment between
waypoints (every `waypoint_step_m`). After the last waypoint the measured position (cable
model with the measured tension) drives correction moves until within `position_tolerance_m`.
Failures raise Trip; the FSM turns a Trip into a latched fault.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any, TypeVar

import structlog

from calibd.cfg_cls import ClsCfg
from calibd.core.axis import Axis
from calibd.core.errors import ErrorCode, Trip
from calibd.core.valves import ValveControl
from calibd.subsystems.cls_axes import ClsAxes
from calibd.subsystems.cls_kinematics import Point

log = structlog.get_logger("calibd.cls.motion")
_CORRECTIONS = 4
_SIDE_APPROACH_M = 0.003
_WEIGH_ABOVE_M = 0.01  # weigh the source hanging just inside the chimney
_T = TypeVar("_T")
_WEIGHT_RANGE = (0.5, 2.0)  # plausible measured / nominal source weight


def _solved(fn: Callable[..., _T], *args: Any) -> _T:
    """Call a model function; no solution of the cable model becomes Trip(model)."""
    try:
        return fn(*args)
    except ArithmeticError as exc:
        raise Trip("model", f"cable model: {exc}") from exc


class ClsMotion:
    def __init__(self, name: str, cfg: ClsCfg, axes: ClsAxes, valves: ValveControl) -> None:
        self.name = name
        self.cfg = cfg
        self.axes = axes
        self.model = axes.model
        self.valves = valves

    # ---- helpers -----------------------------------------------------------------------------

    def _m_per_rev(self, axis: Axis) -> float:
        sp = self.cfg.spool if axis is self.axes.central else self.cfg.side_spool
        return 2 * math.pi * sp.drum_radius_m

    async def coordinated(self, rev_c: float, rev_s: float, what: str) -> None:
        """Both spools to their targets, starting and arriving together."""
        now = self.axes.revs()
        legs = [(self.axes.central, now[0], rev_c), (self.axes.side, now[1], rev_s)]
        dist_m = [abs(b - a) * self._m_per_rev(ax) for ax, a, b in legs]
        travel_s = max(dist_m) / self.cfg.speed_m_s
        ramp_s = self.cfg.speed_m_s / self.cfg.accel_m_s2
        jobs = []
        for ax, a, b in legs:
            if abs(b - a) * ax.counts_per_rev < 1.0:
                continue
            speed = abs(b - a) / max(travel_s, 1e-9)
            jobs.append(
                self.axes.axes.io(
                    f"{what}: {ax.name}", ax.name, ax.drive.move_to(b, speed, speed / ramp_s)
                )
            )
        if not jobs:
            return
        await asyncio.gather(*jobs)

        def arrived() -> bool:
            return self.axes.central.arrived(rev_c) and self.axes.side.arrived(rev_s)

        await self.axes.axes.until(arrived, travel_s + 2 * ramp_s, what)

    async def _valve(self, *, open_: bool) -> None:
        """Through the house, never behind its back."""
        name = self.cfg.valve
        await (self.valves.open_valve(name) if open_ else self.valves.close_valve(name))

    def _pose_point(self) -> Point:
        pose = self.axes.pose
        if pose is None:
            raise Trip("position_unknown", "no source position from the cable model")
        return pose.x_m, pose.z_m

    def _revs_for(self, p: Point) -> tuple[float, float]:
        try:
            return self.model.revs_for(*p)
        except ArithmeticError as exc:
            raise Trip("model", f"no cable lengths for ({p[0]:.3f}, {p[1]:.3f}): {exc}") from exc

    async def _home_axis(self, axis: Axis, length_m: float) -> None:
        speed_rev_s = self.cfg.home_speed_m_s / self._m_per_rev(axis)
        await self.axes.axes.io(f"home {axis.name}", axis.name, axis.drive.home(speed_rev_s))

        def done() -> bool:
            s = axis.status
            return s is not None and s.homed and s.home_switch and not s.moving

        await self.axes.axes.until(done, length_m / self.cfg.home_speed_m_s, f"homing {axis.name}")

    # ---- sequences ---------------------------------------------------------------------------

    async def home(self) -> None:
        """Reference the central spool (source up to its parked switch), then the side spool
        (from just wound-in, paying out onto its reference flag)."""
        self.axes.homed = False
        out = not self.axes.central.parked
        if out:
            await self._valve(open_=True)
        await self._home_axis(self.axes.central, self.cfg.spool.cable_length_m)
        await self._home_axis(self.axes.side, 2.0)
        if out:
            await self._valve(open_=False)
        self.axes.homed = True

    async def deploy(self, x_m: float, z_m: float) -> None:
        """Valve open, down the chimney to its exit (the side cable following), weigh the
        source, out below the exit, then along the planned path to the target."""
        await self._valve(open_=True)
        c_z = self.model.loop.c_z
        await self.coordinated(*self.model.revs_in_chimney(c_z + _WEIGH_ABOVE_M), "down")
        await self.axes.wait_poll()
        self._weigh_in_chimney()
        await self.coordinated(*self.model.exit_revs(), "out of the chimney")
        await self.axes.wait_poll()
        plan = _solved(self.model.plan, self._pose_point(), (x_m, z_m))
        if isinstance(plan, str):
            raise Trip("out_of_range", plan, error=ErrorCode.OUT_OF_RANGE)
        await self._follow(plan)

    def _weigh_in_chimney(self) -> None:
        rc, rs = self.axes.revs()
        tension = self.axes.central.tension_n
        if tension is None:
            raise Trip("position_unknown", "no central tension reading")
        w = _solved(self.model.weight_in_chimney, rc, rs, tension)
        nominal = self.cfg.spool.source_weight_liquid_n
        if not _WEIGHT_RANGE[0] * nominal <= w <= _WEIGHT_RANGE[1] * nominal:
            raise Trip(
                "source_weight", f"weighed {w:.3f} N, nominal {nominal:.3f} N", axis="central"
            )
        log.info("source_weighed", subsystem=self.name, weight_n=round(w, 4))
        self.model.w_src_n = w

    async def move(self, x_m: float, z_m: float) -> None:
        """Straight line from where the source is to (x, z)."""
        await self._follow(self.model.waypoints(self._pose_point(), (x_m, z_m)))

    async def _follow(self, path: list[Point]) -> None:
        for k, p in enumerate(path):
            await self.coordinated(*self._revs_for(p), f"waypoint {k + 1}/{len(path)}")
        await self._correct(path[-1])

    async def _correct(self, target: Point) -> None:
        """Correction moves with the measured position until within tolerance."""
        aim = target
        err = (0.0, 0.0)
        for attempt in range(_CORRECTIONS + 1):
            await self.axes.wait_poll()
            await self.axes.wait_poll()
            x, z = self._pose_point()
            err = (target[0] - x, target[1] - z)
            if math.hypot(*err) <= self.cfg.position_tolerance_m:
                return
            log.info("position_correction", subsystem=self.name, error_m=err, attempt=attempt)
            aim = (aim[0] + err[0], aim[1] + err[1])
            await self.coordinated(*self._revs_for(aim), "correction")
        raise Trip(
            "position_error",
            f"{math.hypot(*err) * 1000:.1f} mm off target after {_CORRECTIONS} corrections",
        )

    async def retract(self) -> None:
        """Back along a planned path to the exit, into the chimney, up to parked; valve closed.
        A source already on its parked switches (e.g. a deploy stopped before it left) is not
        moved at all: re-referencing the side spool would take it off its flag while another
        system may be passing the chimney."""
        if self.axes.homed and self.axes.all_parked():
            await self._valve(open_=False)
            return
        pose = self.axes.pose
        if pose is not None and not pose.in_chimney:
            exit_point = _solved(self.model.exit_point)
            plan = _solved(self.model.plan, (pose.x_m, pose.z_m), exit_point)
            if isinstance(plan, str):
                raise Trip("out_of_range", f"no way back: {plan}", error=ErrorCode.OUT_OF_RANGE)
            for k, p in enumerate(plan):
                await self.coordinated(*self._revs_for(p), f"back {k + 1}/{len(plan)}")
            await self.coordinated(*self.model.exit_revs(), "to the exit")
        if pose is None or not pose.in_chimney:
            # a source already in the chimney only goes up: never down to the exit first
            # (another system may be in the detector below it)
            await self.coordinated(
                *self.model.revs_in_chimney(self.model.loop.c_z), "into the chimney"
            )
        # the side stops just wound-in of its reference flag and pays out onto it
        await self.coordinated(0.0, self.model.side_rev_at(_SIDE_APPROACH_M), "up the chimney")
        if not self.axes.central.parked:
            await self._home_axis(self.axes.central, 1.0)
        await self._home_axis(self.axes.side, 1.0)
        if not self.axes.all_parked():
            raise Trip("not_parked", "the source did not reach its parked switches")
        await self._valve(open_=False)
