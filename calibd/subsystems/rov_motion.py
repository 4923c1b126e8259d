"""ROV motion sequences: home, launch, navigate, return to the launch point, recover.

Each sequence commands the winch / sets the navigator, then waits for the poll loop's readings
to show the result, with a deadline from distance and speed (scaled by `time_scale`).
Failures raise Trip; the FSM turns a Trip into a latched fault.
"""

from __future__ import annotations

import asyncio

import structlog

from calibd.cfg_rov import RovCfg
from calibd.core.errors import Trip
from calibd.core.valves import ValveControl
from calibd.subsystems.rov_nav import Vec, norm, sub
from calibd.subsystems.rov_plant import RovPlant
from calibd.subsystems.rov_readings import TensionMode

log = structlog.get_logger("calibd.rov.motion", subsystem="rov")
HANG_SLACK_M = 0.1  # umbilical left slack at the launch point before the thrusters let go
HANG_SETTLE_S = 3.0  # simulated seconds of steady hanging before the haul
LAUNCH_FIX_S = 10.0  # simulated seconds for the USS to see a launched vehicle
NAV_TIME_FACTOR = 2.0  # deadline: this many times the straight-line travel time


class RovMotion:
    def __init__(
        self, cfg: RovCfg, plant: RovPlant, valves: ValveControl, *, time_scale: float = 1.0
    ) -> None:
        self.cfg = cfg
        self.plant = plant
        self.valves = valves
        self.time_scale = time_scale

    @property
    def launch_point(self) -> Vec:
        return (0.0, 0.0, self.cfg.z_launch_m)

    @property
    def launch_paid_out_m(self) -> float:
        return self.cfg.z_park_m - self.cfg.z_launch_m

    # ---- winch -------------------------------------------------------------------------------

    async def winch_to(
        self, paid_out_m: float, *, wait: bool = True, speed_m_s: float | None = None
    ) -> None:
        """Move the winch to a paid-out length (at winch speed unless told otherwise)."""
        p, cfg = self.plant, self.cfg
        speed = speed_m_s or cfg.winch_speed_m_s
        um = p.umbilical
        rev = um.rev_for(paid_out_m)
        rev_now = p.winch.rev or 0.0
        m_per_rev = um.drum.metres_per_rev(rev_now)
        await p.io(
            "winch move",
            "winch",
            p.winch.drive.move_to(rev, speed / m_per_rev, cfg.winch_accel_m_s2 / m_per_rev),
        )
        if not wait:
            return
        dist_m = abs(paid_out_m - um.paid_out_m(rev_now))
        sim_s = dist_m / speed + 2 * speed / cfg.winch_accel_m_s2
        await p.until(lambda: p.winch.arrived(rev), sim_s, f"winch to {paid_out_m:.3f} m")

    async def _home_winch(self) -> None:
        p, cfg = self.plant, self.cfg
        speed_rev_s = cfg.home_speed_m_s / p.umbilical.drum.metres_per_rev(0.0)
        await p.io("winch home", "winch", p.winch.drive.home(speed_rev_s))

        def done() -> bool:
            s = p.winch.status
            return s is not None and s.homed and s.home_switch and not s.moving

        await p.until(done, cfg.spool.cable_length_m / cfg.home_speed_m_s, "winch homing")

    # ---- sequences ---------------------------------------------------------------------------

    async def home(self) -> None:
        """Thrusters off; haul the vehicle in slowly to the parked switch (valve open if out)."""
        p = self.plant
        p.homed = False
        p.tension_mode = TensionMode.UNKNOWN
        await p.thrusters_off()
        out = not p.parked
        if out:
            await self.valves.open_valve(self.cfg.valve)
        await self._home_winch()
        if out:
            await self.valves.close_valve(self.cfg.valve)
        p.homed = True
        p.tension_mode = TensionMode.HANGING

    async def launch(self) -> None:
        """Open the valve, lower the vehicle on the winch to the launch point, wait for a fix."""
        p = self.plant
        await p.thrusters_off()
        await self.valves.open_valve(self.cfg.valve)
        p.tension_mode = TensionMode.HANGING
        await self.winch_to(self.launch_paid_out_m)
        await p.until(p.has_fix, LAUNCH_FIX_S, "ultrasonic fix after launch")

    async def navigate(self, target: Vec) -> None:
        """Thrusters on; pay out ahead of the vehicle; wait until it has settled on target;
        then take in the umbilical to the slack margin."""
        p, cfg = self.plant, self.cfg
        start = p.nav.estimate
        if start is None:
            raise Trip("no_fix", "no ultrasonic fix to navigate from", axis="uss")
        um = p.umbilical
        await p.thrusters_on()
        p.nav.target = start  # hold station while the umbilical goes slack
        p.tension_mode = TensionMode.SLACK
        slack_m = um.path_m(start) + cfg.slack_margin_m
        if slack_m > (p.paid_out_m() or 0.0):
            await self.winch_to(slack_m)
        p.nav.target = target
        need_m = max(um.path_m(start), um.path_m(target)) + cfg.slack_margin_m
        if need_m > (p.paid_out_m() or 0.0):  # paid out ahead, faster than the vehicle
            await self.winch_to(need_m, wait=False, speed_m_s=cfg.payout_speed_m_s)
        dist_m = norm(sub(target, start))
        sim_s = NAV_TIME_FACTOR * dist_m / cfg.speed_max_m_s + cfg.settle_s + 20.0
        await self._settle(sim_s, target)
        await self.winch_to(um.path_m(target) + cfg.slack_margin_m)

    async def _settle(self, sim_s: float, target: Vec) -> None:
        """Until the vehicle has stayed settled on target for `settle_s`."""
        p, cfg = self.plant, self.cfg
        loop = asyncio.get_running_loop()
        since: list[float] = []

        def held() -> bool:
            if not p.settled():
                since.clear()
                return False
            if not since:
                since.append(loop.time())
            return (loop.time() - since[0]) * self.time_scale >= cfg.settle_s

        await p.until(held, sim_s, f"vehicle to {target}")

    async def return_to_launch(self) -> None:
        """Navigate back to the launch point, take in the umbilical, let the vehicle hang."""
        p = self.plant
        paid = p.paid_out_m()
        if paid is None:
            raise Trip("position_unknown", "winch not referenced", axis="winch")
        if p.has_fix() and paid > self.launch_paid_out_m + HANG_SLACK_M:
            await self.navigate(self.launch_point)
            await self.winch_to(self.launch_paid_out_m + HANG_SLACK_M)
            await p.thrusters_off()
            p.tension_mode = TensionMode.UNKNOWN
            um = p.umbilical
            hanging_n = um.hanging_tension_n(self.launch_paid_out_m)
            loop = asyncio.get_running_loop()
            since: list[float] = []

            def hangs() -> bool:
                """Hanging steadily (not bouncing on the umbilical) for HANG_SETTLE_S."""
                t = p.winch.tension_n
                if t is None or abs(t - hanging_n) > 0.2 * hanging_n:
                    since.clear()
                    return False
                if not since:
                    since.append(loop.time())
                return (loop.time() - since[0]) * self.time_scale >= HANG_SETTLE_S

            # sinks HANG_SLACK_M at its wet-weight terminal speed (≥ 0.05 m/s), then settles
            sim_s = 20 * HANG_SLACK_M / 0.05 + 5 * HANG_SETTLE_S
            await p.until(hangs, sim_s, "vehicle hanging on the umbilical")
        await p.thrusters_off()
        p.tension_mode = TensionMode.HANGING

    async def recover(self) -> None:
        """Haul the vehicle up the chimney to its parked switch, close the valve."""
        p = self.plant
        p.tension_mode = TensionMode.HANGING
        await self.winch_to(0.0)
        if not p.parked:
            await self._home_winch()
        if not p.parked:
            raise Trip("not_parked", "the vehicle did not reach its parked switch", axis="winch")
        await self.valves.close_valve(self.cfg.valve)
