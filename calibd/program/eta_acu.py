"""The ACU's motion-time model (`acu_motion.py`): turntable select, gate valve, spool."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from calibd.config import AcuCfg, Settings
from calibd.program.eta import Estimator, Leg, drive_s
from calibd.subsystems.acu_axes import spool_model


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
