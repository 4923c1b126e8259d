"""ACU axes: the turntable and the spool units, their latest readings and their protections.

The poll loop is the only reader of the hardware; motion sequences wait for fresh readings
(`wait_poll`) instead of polling themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from calibd.cfg_interlocks import InterlocksCfg
from calibd.config import AcuCfg, UnitCfg
from calibd.core.axes import halt_axes
from calibd.core.axis import Axis, TensionWindow
from calibd.core.errors import ErrorCode, Trip, fault_cause
from calibd.core.fresh import FreshReadings
from calibd.core.motion_tracker import MotionTracker
from calibd.core.spool import Drum, HangingCable, SpoolModel
from drivers.base import Drive, ForceSensor
from drivers.errors import CommError, DriverError
from drivers.stepper import DriveStatus

log = structlog.get_logger("calibd.acu.axes", subsystem="acu")


def spool_model(cfg: AcuCfg, unit: str) -> SpoolModel:
    sp = cfg.spool_of(unit)
    return SpoolModel(
        Drum(sp.drum_radius_m, sp.cable_diameter_m, sp.turns_per_layer, sp.cable_length_m),
        HangingCable(
            z_park_m=cfg.z_park_m,
            z_liquid_m=cfg.z_liquid_m,
            ea_n=sp.cable_ea_n,
            weight_air_n_m=sp.cable_weight_air_n_m,
            weight_liquid_n_m=sp.cable_weight_liquid_n_m,
            source_air_n=sp.source_weight_air_n,
            source_liquid_n=sp.source_weight_liquid_n,
        ),
    )


@dataclass(kw_only=True)
class UnitAxis(Axis):
    cfg: UnitCfg
    index: int  # 1-based: turntable input DI<index> is this unit's index switch
    model: SpoolModel
    load_cell_range_n: float


class AcuAxes(FreshReadings):
    def __init__(
        self,
        cfg: AcuCfg,
        turntable: Drive,
        units: dict[str, tuple[Drive, ForceSensor]],
        limits: InterlocksCfg | None = None,
    ) -> None:
        super().__init__()
        self.cfg = cfg
        limits = limits or InterlocksCfg()
        self.tt = Axis(
            "turntable",
            turntable,
            tracker=MotionTracker(
                limits.turntable_following_error_deg / 360.0, limits.stall_window_s
            ),
        )
        self.units: dict[str, UnitAxis] = {}
        for i, ucfg in enumerate(cfg.units, start=1):
            drive, cell = units[ucfg.name]
            spool = cfg.spool_of(ucfg.name)
            model = spool_model(cfg, ucfg.name)
            self.units[ucfg.name] = UnitAxis(
                name=ucfg.name,
                drive=drive,
                cell=cell,
                counts_per_rev=spool.counts_per_rev,
                cfg=ucfg,
                index=i,
                model=model,
                load_cell_range_n=spool.load_cell_range_n,
                tracker=MotionTracker.for_drum(limits, spool.drum_radius_m),
                # parked at 0; the deepest target plus the position tolerance and 2 cm
                soft_rev=(
                    -0.25,
                    model.rev_for_z(cfg.z_min_m - cfg.position_tolerance_m - 0.02),
                ),
            )
        #: the configured device name behind each poll label (for the device_lost/back logs)
        self._devices = {"turntable": turntable.name}
        for name, u in self.units.items():
            self._devices[f"drive {name}"] = u.drive.name
            if u.cell is not None:
                self._devices[f"load cell {name}"] = u.cell.name
        self.homed = False
        self.lost: dict[str, str] = {}

    @property
    def turntable(self) -> Drive:
        return self.tt.drive

    def drive_axes(self) -> dict[str, Axis]:
        """Every drive axis, by name (restart recovery journals and checks them)."""
        return {"turntable": self.tt, **self.units}

    # ---- reading -----------------------------------------------------------------------------

    async def poll(self) -> None:
        """Read every device once; raise Trip(comm_loss) naming the first lost device."""
        jobs: list[tuple[str, Any]] = [("turntable", self.turntable.read_status())]
        for name, u in self.units.items():
            jobs.append((f"drive {name}", u.drive.read_status()))
            if u.cell is not None:
                jobs.append((f"load cell {name}", u.cell.read()))
        results = await asyncio.gather(*(j for _, j in jobs), return_exceptions=True)
        lost: dict[str, str] = {}
        for (label, _), res in zip(jobs, results, strict=True):
            if isinstance(res, BaseException):
                if not isinstance(res, DriverError):
                    raise res
                lost[label] = str(res)
                continue
            self._store(label, res)
        for label in lost.keys() - self.lost.keys():
            log.error("device_lost", device=self._devices[label], axis=label, error=lost[label])
        for label in self.lost.keys() - lost.keys():
            log.info("device_back", device=self._devices[label], axis=label)
        self.lost = lost
        if lost:
            label, err = next(iter(lost.items()))
            raise Trip("comm_loss", f"{label}: {err}", axis=label.split()[-1])

    def _store(self, label: str, res: Any) -> None:
        if label == "turntable":
            self.tt.status = res
            return
        kind, name = label.rsplit(" ", 1)
        if kind == "drive":
            self.units[name].status = res
        else:
            self.units[name].load = res

    # ---- derived -----------------------------------------------------------------------------

    @property
    def tt_status(self) -> DriveStatus | None:
        return self.tt.status

    @property
    def current(self) -> str | None:
        """The unit under the port, from the turntable's index switches."""
        st = self.tt_status
        if st is None or st.moving or not self.homed:
            return None
        for name, u in self.units.items():
            if st.input(u.index):
                return name
        return None

    def all_parked(self) -> bool:
        return all(u.parked for u in self.units.values())

    def any_moving(self) -> bool:
        drives = [u.status for u in self.units.values()] + [self.tt_status]
        return any(s is not None and s.moving for s in drives)

    def z_m(self, unit: str) -> float | None:
        u = self.units[unit]
        if not self.homed or u.status is None or u.load is None:
            return None
        return u.model.z_m(u.status.encoder_rev, u.load.tension_n)

    def expected_tension_n(self, u: UnitAxis) -> float:
        if not self.homed or u.status is None:
            return u.model.cable.source_air_n
        return u.model.expected_tension_n(u.status.encoder_rev)

    # ---- protections -------------------------------------------------------------------------

    def check_protections(self) -> None:
        """Raise Trip for the first protection that is violated by the latest readings."""
        cause = self._violation()
        if cause is not None:
            raise cause

    def fault_cause(self) -> str | None:
        """Why a fault may not be reset yet (None: the cause is gone)."""
        return fault_cause(self.lost, lambda: self._violation(ignore_alarms=True))

    def _violation(self, *, ignore_alarms: bool = False) -> Trip | None:
        cfg = self.cfg
        st = self.tt_status
        if st is not None and st.moving and not self.all_parked():
            out = ", ".join(n for n, u in self.units.items() if not u.parked)
            return Trip(
                "turntable_spool_out",
                f"turntable turning while unit {out} is off its home switch",
                error=ErrorCode.INTERLOCK,
                axis="turntable",
            )
        trip = self.tt.trip(None, homed=self.homed, ignore_alarms=ignore_alarms)
        if trip is not None:
            return trip
        for u in self.units.values():
            window = TensionWindow.around(
                self.expected_tension_n(u),
                snag_factor=cfg.snag_factor,
                slack_factor=cfg.slack_factor,
                floor_n=cfg.tension_floor_n,
                range_n=u.load_cell_range_n,
            )
            trip = u.trip(window, homed=self.homed, ignore_alarms=ignore_alarms)
            if trip is not None:
                return trip
        return None

    # ---- actions on every drive --------------------------------------------------------------

    async def halt_all(self) -> None:
        """Quick-stop every drive at once, the moving ones first."""
        await halt_axes([self.tt, *self.units.values()])

    def reference_lost(self) -> bool:
        """A drive that was homed no longer is (power loss): positions cannot be trusted."""
        drives = [self.tt_status] + [u.status for u in self.units.values()]
        return any(s is not None and not s.homed for s in drives)

    async def reset_alarms(self) -> None:
        drives = [(self.tt_status, self.turntable)] + [
            (u.status, u.drive) for u in self.units.values()
        ]
        for status, drive in drives:
            if status is not None and status.alarm:
                with contextlib.suppress(CommError):
                    await drive.reset_alarm()

    # ---- publishing --------------------------------------------------------------------------

    def telemetry(self) -> dict[str, Any]:
        tt = self.tt_status
        units: dict[str, Any] = {}
        for name, u in self.units.items():
            s, load = u.status, u.load
            z = self.z_m(name)
            units[name] = {
                "encoder_rev": None if s is None else round(s.encoder_rev, 5),
                "commanded_rev": None if s is None else round(s.commanded_rev, 5),
                "speed_rev_s": None if s is None else round(s.velocity_rev_s, 5),
                "tension_n": None if load is None else round(load.tension_n, 4),
                "z_m": None if z is None else round(z, 5),
                "moving": None if s is None else s.moving,
                "parked": u.parked,
            }
        return {
            "turntable": {
                "angle_deg": None if tt is None else round(tt.encoder_rev * 360.0, 4),
                "moving": None if tt is None else tt.moving,
            },
            "units": units,
            "lost": sorted(self.lost),
        }

    def unit_summary(self, source_of: Callable[[str], str | None]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, u in self.units.items():
            z = self.z_m(name)
            out[name] = {
                "parked": u.parked,
                "z_m": None if z is None else round(z, 5),
                "source": source_of(name),
            }
        return out
