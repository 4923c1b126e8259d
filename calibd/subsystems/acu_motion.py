"""ACU motion sequences: home, select, deploy, move, retract.

Each sequence commands the drives, then waits for the poll loop's readings to show the result,
with a deadline derived from distance and speed (scaled by `time_scale`). Failures raise Trip;
the FSM turns a Trip into a latched fault.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from calibd.config import AcuCfg
from calibd.core.axes import driver_io
from calibd.core.errors import ErrorCode, Trip
from calibd.core.fresh import wait_fresh_until
from calibd.core.valves import ValveControl
from calibd.subsystems.acu_axes import AcuAxes, UnitAxis

log = structlog.get_logger("calibd.acu.motion", subsystem="acu")
_CORRECTIONS = 3


class AcuMotion:
    def __init__(
        self, cfg: AcuCfg, axes: AcuAxes, valves: ValveControl, *, time_scale: float = 1.0
    ) -> None:
        self.cfg = cfg
        self.axes = axes
        self.valves = valves
        self.time_scale = time_scale

    # ---- helpers -----------------------------------------------------------------------------

    def _deadline_s(self, sim_s: float) -> float:
        return sim_s / self.time_scale + self.cfg.move_margin_s

    async def _until(self, ok: Callable[[], bool], sim_s: float, what: str) -> None:
        """Wait for fresh readings until `ok()`; Trip(move_timeout) after the deadline."""
        await wait_fresh_until(self.axes.wait_poll, ok, self._deadline_s(sim_s), what)

    _io = staticmethod(driver_io)

    def _unit(self, name: str | None) -> UnitAxis:
        if name is None:
            raise Trip("no_unit", "no unit under the port", error=ErrorCode.INTERNAL)
        return self.axes.units[name]

    # ---- sequences ---------------------------------------------------------------------------

    async def home(self) -> None:
        """Reference every spool (raising any source off its switch), then the turntable."""
        self.axes.homed = False
        off_switch = [u for u in self.axes.units.values() if not u.parked]
        if off_switch:
            await self.valves.open_valve(self.cfg.valve)
        for u in self.axes.units.values():
            await self._home_spool(u)
        if off_switch:
            await self.valves.close_valve(self.cfg.valve)
        tt = self.cfg.turntable
        await self._io(
            "turntable home", "turntable", self.axes.turntable.home(tt.speed_deg_s / 360)
        )

        def tt_homed() -> bool:
            s = self.axes.tt_status
            return s is not None and s.homed and not s.moving

        await self._until(tt_homed, 360 / tt.speed_deg_s, "turntable homing")
        self.axes.homed = True

    async def _home_spool(self, u: UnitAxis) -> None:
        speed_rev_s = self.cfg.home_speed_m_s / u.model.drum.metres_per_rev(0.0)
        await self._io(f"home {u.cfg.name}", u.cfg.name, u.drive.home(speed_rev_s))

        def done() -> bool:
            s = u.status
            return s is not None and s.homed and s.home_switch and not s.moving

        # from anywhere on the cable at home speed (a lost source comes up slowly)
        await self._until(
            done, u.model.drum.cable_length_m / self.cfg.home_speed_m_s, f"homing {u.cfg.name}"
        )

    async def select(self, unit: str) -> None:
        u = self.axes.units[unit]
        if self.axes.current == unit:
            return
        if not self.axes.all_parked():
            raise Trip(
                "turntable_spool_out",
                "the turntable may rotate only with every spool parked",
                error=ErrorCode.INTERLOCK,
            )
        tt = self.cfg.turntable
        st = self.axes.tt_status
        angle_now = 0.0 if st is None else st.encoder_rev * 360
        travel_deg = abs(u.cfg.angle_deg - angle_now)
        await self._io(
            f"turntable to {unit}",
            "turntable",
            self.axes.turntable.move_to(
                u.cfg.angle_deg / 360, tt.speed_deg_s / 360, tt.accel_deg_s2 / 360
            ),
        )

        def indexed() -> bool:
            s = self.axes.tt_status
            return s is not None and not s.moving and s.input(u.index)

        sim_s = travel_deg / tt.speed_deg_s + 2 * tt.speed_deg_s / tt.accel_deg_s2
        await self._until(indexed, sim_s, f"turntable to unit {unit}")

    async def deploy(self, unit: str, z_m: float) -> None:
        await self.select(unit)
        await self.valves.open_valve(self.cfg.valve)
        await self.spool_to(self._unit(unit), z_m)

    async def move(self, z_m: float) -> None:
        await self.spool_to(self._unit(self.axes.current), z_m)

    async def retract(self) -> None:
        u = self._unit(self.axes.current)
        await self._spool_rev(u, 0.0)
        if not u.parked:
            await self._home_spool(u)
        if not u.parked:
            raise Trip(
                "not_parked", f"unit {u.cfg.name} did not reach its parked switch", axis=u.cfg.name
            )
        await self.valves.close_valve(self.cfg.valve)

    # ---- spool moves -------------------------------------------------------------------------

    async def spool_to(self, u: UnitAxis, z_m: float) -> None:
        """Lower/raise to `z_m`, then correct with the measured position (stretch, noise)."""
        rev = u.model.rev_for_z(z_m)
        for attempt in range(_CORRECTIONS + 1):
            await self._spool_rev(u, rev)
            z_now = self.axes.z_m(u.cfg.name)
            if z_now is None:
                raise Trip(
                    "position_unknown", f"no position for unit {u.cfg.name}", axis=u.cfg.name
                )
            err_m = z_now - z_m
            if abs(err_m) <= self.cfg.position_tolerance_m:
                return
            log.info("position_correction", unit=u.cfg.name, error_m=err_m, attempt=attempt)
            rev += err_m / u.model.drum.metres_per_rev(rev)
        raise Trip(
            "position_error",
            f"unit {u.cfg.name}: {err_m * 1000:.2f} mm off target after {_CORRECTIONS} corrections",
            axis=u.cfg.name,
        )

    async def _spool_rev(self, u: UnitAxis, rev: float) -> None:
        s = u.status
        rev_now = 0.0 if s is None else s.encoder_rev
        m_per_rev = u.model.drum.metres_per_rev(rev_now)
        speed_rev_s = self.cfg.speed_m_s / m_per_rev
        accel_rev_s2 = self.cfg.accel_m_s2 / m_per_rev
        await self._io(
            f"move {u.cfg.name}", u.cfg.name, u.drive.move_to(rev, speed_rev_s, accel_rev_s2)
        )
        tol_rev = 1.5 / self.cfg.spool_of(u.cfg.name).counts_per_rev

        def arrived() -> bool:
            st = u.status
            return st is not None and not st.moving and abs(st.encoder_rev - rev) <= tol_rev

        dist_m = abs(rev - rev_now) * m_per_rev
        sim_s = dist_m / self.cfg.speed_m_s + 2 * self.cfg.speed_m_s / self.cfg.accel_m_s2
        await self._until(arrived, sim_s, f"unit {u.cfg.name} to {rev:.3f} rev")
