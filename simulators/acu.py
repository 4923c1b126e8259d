"""The ACU (a ``SimSystem``): the turntable and its spool units, their Modbus drives and serial
lines (load cells, laser, thermometer), faults by axis and the truth."""

from __future__ import annotations

import random

from pymodbus.simulator import SimDevice

from simulators.acu_unit import SpoolUnit, ValveOpen
from simulators.clock import Clock
from simulators.config import AcuCfg, ConfigError, serial_path
from simulators.faults import DRIVE_FAULTS, SPOOL_FAULTS
from simulators.laser import LASER_FAULTS, LaserController, LaserLine
from simulators.load_cell import LoadCell, LoadCellBus
from simulators.mechanics import TurntableMechanics
from simulators.stepper import Drive, apply_drive_fault
from simulators.stepper_device import drive_device
from simulators.system import LineHandler, Silent
from simulators.thermometer import CarriedThermometer

POWER_ON_TURNTABLE_DEG = 0.15


class Acu:
    """Turntable + units (a ``SimSystem``)."""

    name = "acu"

    def __init__(
        self, cfg: AcuCfg, valve_open: ValveOpen, seed: int, noise_n: float, t_s: float
    ) -> None:
        self.cfg = cfg
        self.units = {
            u.name: SpoolUnit(u, cfg, valve_open, random.Random(f"{seed}/{u.name}"), t_s, noise_n)
            for u in cfg.units
        }
        self.turntable_mechanics = TurntableMechanics(
            cfg.turntable, [u.angle_deg for u in cfg.units]
        )
        rng = random.Random(f"{seed}/turntable")
        offset_deg = rng.uniform(-POWER_ON_TURNTABLE_DEG, POWER_ON_TURNTABLE_DEG)
        self.turntable = Drive(
            self.turntable_mechanics, offset_deg * self.turntable_mechanics.counts_per_deg, t_s
        )
        #: the UV laser controller (docs/hardware.md §8), if configured
        self.laser = (
            LaserController(cfg.laser.address, random.Random(f"{seed}/laser"), t_s)
            if cfg.laser is not None
            else None
        )
        #: the temperature-profile sensor on one unit's cable (docs/hardware.md §9), if configured
        self.thermometer = self._thermometer(seed, t_s)

    def _thermometer(self, seed: int, t_s: float) -> CarriedThermometer | None:
        cfg = self.cfg.thermometer
        if cfg is None:
            return None
        if cfg.unit not in self.units:
            raise ConfigError(f"acu.thermometer.unit {cfg.unit!r} is not an ACU unit")
        unit = self.units[cfg.unit]
        return CarriedThermometer(cfg, self.cfg.z_liquid_m, lambda t: unit.state(t).z_m, seed, t_s)

    def drives(self) -> dict[str, Drive]:
        """Axis name → drive."""
        return {"turntable": self.turntable} | {n: u.drive for n, u in self.units.items()}

    def fault_axes(self) -> dict[str, frozenset[str]]:
        """The turntable takes drive faults, every spool unit spool faults."""
        laser = {"laser": LASER_FAULTS} if self.laser is not None else {}
        sensor = {"thermometer": CarriedThermometer.FAULTS} if self.thermometer else {}
        return (
            {"turntable": DRIVE_FAULTS} | dict.fromkeys(self.units, SPOOL_FAULTS) | laser | sensor
        )

    def modbus_devices(self, clock: Clock, silent: Silent) -> list[tuple[str, SimDevice]]:
        """The turntable drive and one drive per unit."""
        tt = self.cfg.turntable
        turntable = drive_device(tt.device_id, self.turntable, clock, silent("turntable"))
        out = [(tt.endpoint, turntable)]
        for u in self.cfg.units:
            dev = drive_device(u.drive.device_id, self.units[u.name].drive, clock, silent(u.name))
            out.append((u.drive.endpoint, dev))
        return out

    def serial_lines(self, clock: Clock, silent: Silent) -> dict[str, LineHandler]:
        """The load cells, multi-drop on their lines."""
        cells: dict[str, list[LoadCell]] = {}
        for u in self.cfg.units:
            unit = self.units[u.name]
            cell = unit.load_cell(u.load_cell.address, clock.now_s, silent(u.name))
            cells.setdefault(serial_path(u.load_cell.endpoint), []).append(cell)
        lines: dict[str, LineHandler] = {p: LoadCellBus(g).handle for p, g in cells.items()}
        if self.laser is not None and self.cfg.laser is not None:
            path = serial_path(self.cfg.laser.endpoint)
            if path in lines:
                raise ConfigError(f"acu.laser: serial line {path} is taken by the load cells")
            lines[path] = LaserLine([self.laser], clock.now_s, silent("laser")).handle
        if self.thermometer is not None:
            path = serial_path(self.thermometer.cfg.endpoint)
            if path in lines:
                raise ConfigError(f"acu.thermometer: serial line {path} is taken")
            lines[path] = self.thermometer.line(clock.now_s, silent("thermometer")).handle
        return lines

    def tick(self, t_s: float) -> None:
        """Evaluate every unit (snag/slack bookkeeping follows the drives)."""
        for unit in self.units.values():
            unit.state(t_s)
        if self.laser is not None:
            self.laser.advance(t_s)
        if self.thermometer is not None:
            self.thermometer.tick(t_s)

    def set_fault(self, axis: str, fault: str, active: bool, t_s: float) -> None:
        """Apply or remove a fault on an axis."""
        if axis == "turntable":
            apply_drive_fault(self.turntable, fault, active, t_s)
        elif axis == "laser" and self.laser is not None:
            self.laser.set_fault(fault, active, t_s)
        elif axis == "thermometer" and self.thermometer is not None:
            self.thermometer.set_fault(fault, active)
        else:
            self.units[axis].set_fault(fault, active, t_s)

    def unit_under_port(self, t_s: float) -> SpoolUnit | None:
        """The unit at the turntable angle (within the index window)."""
        index = self.turntable_mechanics.under_port(self.turntable.drum_counts(t_s))
        return None if index is None else self.units[self.cfg.units[index].name]

    def truth(self, t_s: float) -> dict[str, object]:
        """The truth payload body (without system/ts)."""
        units = {name: unit.truth(t_s) for name, unit in self.units.items()}
        under = self.unit_under_port(t_s)
        here = units[under.name] if under else None
        return {
            "position": {
                "z_m": here["z_m"] if here else None,
                "unit": under.name if under else None,
            },
            "tension_n": here["tension_n"] if here else None,
            "turntable_deg": round(
                self.turntable_mechanics.angle_deg(self.turntable.drum_counts(t_s)), 6
            ),
            "units": units,
            **({"laser": self.laser.truth(t_s)} if self.laser is not None else {}),
            **({"thermometer": self.thermometer.truth(t_s)} if self.thermometer else {}),
        }
