"""GT motion sequences: home, deploy, move, retract (pull-pull coordinated spool moves).

A move gives both drives proportional trapezoidal profiles (speed and acceleration scaled by
each drum's share of the travel), so the two sides change length in step; the side that
lengthens its segment is started first, so a start delay between the two requests lets the
cable go a little softer, never tighter. After arrival the car position is estimated from
both drums and both measured tensions, and corrected until within tolerance.
"""

from __future__ import annotations

import math

import structlog

from calibd.cfg_gt import GtCfg
from calibd.core.errors import Trip
from calibd.core.valves import ValveControl
from calibd.subsystems.gt_axes import AXES, GtAxes

log = structlog.get_logger("calibd.gt.motion", subsystem="gt")
_CORRECTIONS = 3


class GtMotion:
    def __init__(
        self, cfg: GtCfg, axes: GtAxes, valves: ValveControl, *, time_scale: float = 1.0
    ) -> None:
        self.cfg = cfg
        self.axes = axes
        self.valves = valves
        self.time_scale = time_scale
        self.model = axes.model

    # ---- sequences ---------------------------------------------------------------------------

    async def home(self) -> None:
        """Both drives run to their reference marks at the same cable speed: the bottom pays out
        while the top hauls (bottom started first: the loop softens, never tightens), each stops
        on its own mark switch and zeroes there; the car is then in its garage."""
        axes = self.axes
        axes.homed = False
        speed_rev_s = self.cfg.home_speed_m_s / self.model.metres_per_rev
        for name in ("bottom", "top"):
            await axes.io(f"home {name}", name, axes[name].drive.home(speed_rev_s))

        def done() -> bool:
            return all(
                (s := axes[n].status) is not None and s.homed and s.home_switch and not s.moving
                for n in AXES
            )

        m = self.model
        travel_m = m.path_top_m(m.theta_end_rad) + m.lead_bottom_m
        await axes.until(done, travel_m / self.cfg.home_speed_m_s, "homing both spools")
        axes.direction = -1
        axes.homed = True

    async def deploy(self, theta_deg: float) -> None:
        if self.cfg.valve is not None:
            await self.valves.open_valve(self.cfg.valve)
        await self.move(theta_deg)

    async def retract(self) -> None:
        """Both drums back to their marks (the car to its garage), then onto the switches."""
        await self.drums_to(0.0, 0.0)
        if not self.axes.all_parked():
            await self.home()
        if not self.axes.all_parked():
            raise Trip("not_parked", "the car did not reach its garage")
        if self.cfg.valve is not None:
            await self.valves.close_valve(self.cfg.valve)

    async def move(self, theta_deg: float) -> None:
        """To theta, then correct with the measured position until within tolerance."""
        target = math.radians(theta_deg)
        command = target
        err_m = math.inf
        for attempt in range(_CORRECTIONS + 1):
            now = self._theta()
            d = 1 if command > now else -1
            top_rev, bottom_rev = self.model.revs_for(command, d)
            await self.drums_to(top_rev, bottom_rev)
            await self.axes.wait_poll()  # readings taken entirely after the standstill
            theta = self._theta()
            err_m = (theta - target) * self.model.radius_m
            if abs(err_m) <= self.cfg.position_tolerance_m:
                return
            log.info("position_correction", error_m=err_m, attempt=attempt)
            command -= theta - target
        raise Trip(
            "position_error",
            f"{err_m * 1000:.1f} mm along the tube off target after {_CORRECTIONS} corrections",
        )

    def _theta(self) -> float:
        est = self.axes.estimate()
        if est is None:
            raise Trip("position_unknown", "no car position (not homed or no readings)")
        return est[0]

    # ---- the coordinated move ----------------------------------------------------------------

    async def drums_to(self, top_rev: float, bottom_rev: float) -> None:
        """Both drums to absolute targets (revolutions from their marks), in step."""
        axes, cfg = self.axes, self.cfg
        m_per_rev = self.model.metres_per_rev
        cpr = cfg.spool.counts_per_rev
        targets = {"top": top_rev, "bottom": bottom_rev}
        delta: dict[str, float] = {}
        for name, target in targets.items():
            rev = axes[name].rev
            if rev is None:
                raise Trip("position_unknown", f"no reading of drive {name}", axis=name)
            moved = target - rev
            delta[name] = moved if abs(moved) * cpr >= 0.5 else 0.0
        lead_m = max(abs(v) for v in delta.values()) * m_per_rev
        if lead_m == 0.0:
            return
        axes.note_motion(delta["top"], delta["bottom"])
        # the side that lengthens its segment first: top paying out, or bottom paying out
        order = sorted(AXES, key=lambda n: 0 if (delta[n] > 0) == (n == "top") else 1)
        floor_rev = 1.5 / cpr
        for name in order:
            if delta[name] == 0.0:
                continue
            share = abs(delta[name]) * m_per_rev / lead_m
            speed = max(cfg.speed_m_s * share / m_per_rev, floor_rev)
            accel = max(cfg.accel_m_s2 * share / m_per_rev, floor_rev)
            await axes.io(
                f"move {name}", name, axes[name].drive.move_to(targets[name], speed, accel)
            )

        def arrived() -> bool:
            return all(axes[n].arrived(targets[n]) for n in AXES)

        sim_s = lead_m / cfg.speed_m_s + 2 * cfg.speed_m_s / cfg.accel_m_s2
        await axes.until(
            arrived, sim_s, f"drums to top {top_rev:.3f} / bottom {bottom_rev:.3f} rev"
        )
