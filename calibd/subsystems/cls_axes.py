"""CLS axes: the central and side spools (drive + load cell each), the optional ultrasonic
receiver, the cable model evaluated on every poll, and the protections.

The poll loop is the only reader of the hardware; motion sequences wait for fresh readings.
"""

from __future__ import annotations

import math
from typing import Any

import structlog

from calibd.cfg_cls import ClsCfg
from calibd.cfg_interlocks import InterlocksCfg
from calibd.core.axes import Axes
from calibd.core.axis import Axis, TensionWindow, cable_soft_rev
from calibd.core.errors import Trip, fault_cause
from calibd.core.motion_tracker import MotionTracker
from calibd.subsystems.cls_kinematics import ClsModel, Pose
from drivers.base import Drive, ForceSensor, PositionSensor, UssFix
from drivers.errors import DriverError

log = structlog.get_logger("calibd.cls.axes")


class ClsAxes:
    def __init__(
        self,
        cfg: ClsCfg,
        model: ClsModel,
        central: tuple[Drive, ForceSensor],
        side: tuple[Drive, ForceSensor],
        uss: PositionSensor | None = None,
        *,
        time_scale: float = 1.0,
        limits: InterlocksCfg | None = None,
    ) -> None:
        self.cfg = cfg
        self.model = model
        limits = limits or InterlocksCfg()
        self.central, self.side = (
            Axis(
                name,
                devs[0],
                devs[1],
                counts_per_rev=sp.counts_per_rev,
                soft_rev=cable_soft_rev(sp.drum_radius_m, sp.cable_length_m),
                tracker=MotionTracker.for_drum(limits, sp.drum_radius_m),
            )
            for name, devs, sp in (
                ("central", central, cfg.spool),
                ("side", side, cfg.side_spool),
            )
        )
        self.axes = Axes(
            [self.central, self.side], move_margin_s=cfg.move_margin_s, time_scale=time_scale
        )
        self.uss = uss
        self.fix: UssFix | None = None
        self.uss_error: str | None = None
        self.homed = False
        self.pose: Pose | None = None
        self.expected_n: tuple[float, float] | None = None
        self.model_error: str | None = None

    # ---- reading -----------------------------------------------------------------------------

    async def poll(self) -> None:
        """Read every device, then evaluate the model; Trip(comm_loss) for a lost spool device."""
        if self.uss is not None:
            try:
                self.fix = await self.uss.read()
                self.uss_error = None
            except DriverError as exc:
                self.fix, self.uss_error = None, str(exc)
        try:
            await self.axes.poll()
        finally:
            self._evaluate()

    def _evaluate(self) -> None:
        rc, rs = self.central.rev, self.side.rev
        if not self.homed or rc is None or rs is None:
            self.pose, self.expected_n = None, None
            return
        try:
            self.pose = self.model.pose(rc, rs)
            self.expected_n = self.model.expected_tensions(rc, rs)
            self.model_error = None
        except ArithmeticError as exc:
            self.pose, self.expected_n, self.model_error = None, None, str(exc)

    async def wait_poll(self) -> None:
        await self.axes.wait_poll()

    async def wake(self) -> None:
        await self.axes.wake()

    # ---- derived -----------------------------------------------------------------------------

    def all_parked(self) -> bool:
        return self.central.parked and self.side.parked

    def drive_axes(self) -> dict[str, Axis]:
        return self.axes.drive_axes()

    def any_moving(self) -> bool:
        return self.axes.any_moving()

    def revs(self) -> tuple[float, float]:
        rc, rs = self.central.rev, self.side.rev
        if rc is None or rs is None:
            raise Trip("position_unknown", "no encoder reading yet")
        return rc, rs

    def uss_disagreement_m(self) -> float | None:
        """Distance between the USS fix and the cable model (None: nothing to compare)."""
        fix, pose = self.fix, self.pose
        if fix is None or not fix.ok or pose is None or pose.in_chimney:
            return None
        return math.hypot(fix.x_m - pose.x_m, fix.y_m, fix.z_m - pose.z_m)

    # ---- protections -------------------------------------------------------------------------

    def _window(self, expected_n: float, range_n: float) -> TensionWindow:
        cfg = self.cfg
        return TensionWindow.around(
            expected_n,
            snag_factor=cfg.snag_factor,
            slack_factor=cfg.slack_factor,
            floor_n=cfg.tension_floor_n,
            range_n=range_n,
        )

    def _violation(self, *, ignore_alarms: bool = False) -> Trip | None:
        exp = self.expected_n
        ranges = (self.cfg.spool.load_cell_range_n, self.cfg.side_spool.load_cell_range_n)
        for k, axis in enumerate((self.central, self.side)):
            window = None if exp is None else self._window(exp[k], ranges[k])
            trip = axis.trip(window, homed=self.homed, ignore_alarms=ignore_alarms)
            if trip is not None:
                return trip
        if self.homed and self.model_error is not None and not ignore_alarms:
            return Trip("model", f"cable model: {self.model_error}")
        return None

    def check_protections(self) -> None:
        trip = self._violation()
        if trip is not None:
            raise trip

    def fault_cause(self) -> str | None:
        """Why a fault may not be reset yet (None: the cause is gone)."""
        return fault_cause(self.axes.lost, lambda: self._violation(ignore_alarms=True))

    async def halt_all(self) -> None:
        await self.axes.halt_all()

    async def reset_alarms(self) -> None:
        await self.axes.reset_alarms()

    def reference_lost(self) -> bool:
        return self.axes.reference_lost()

    # ---- publishing --------------------------------------------------------------------------

    def telemetry(self) -> dict[str, Any]:
        out = self.axes.telemetry()
        exp = self.expected_n
        out["expected_tension_n"] = (
            None if exp is None else {"central": round(exp[0], 4), "side": round(exp[1], 4)}
        )
        out["source_weight_n"] = round(self.model.w_src_n, 4)
        fix = self.fix
        out["uss"] = (
            None if fix is None else {"x_m": fix.x_m, "y_m": fix.y_m, "z_m": fix.z_m, "fix": fix.ok}
        )
        return out
