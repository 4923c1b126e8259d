"""The ACU: turntable and spool units, coupling drives, spool physics, load cells and faults."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from pymodbus.simulator import SimDevice

from simulators.clock import Clock
from simulators.config import AcuCfg, ConfigError, TurntableCfg, UnitCfg, serial_path
from simulators.faults import DRIVE_FAULTS, SPOOL_FAULTS
from simulators.laser import LASER_FAULTS, LaserController, LaserLine
from simulators.load_cell import LoadCell, LoadCellBus, Reading
from simulators.spool import Drum, SourceState, SpoolPhysics
from simulators.stepper import Drive, drive_device
from simulators.system import LineHandler, Silent
from simulators.thermometer import CarriedThermometer

INDEX_WINDOW_DEG = 0.2
# the reference (home) switch is much finer than the index switches: homing zeroes on its edge
HOME_WINDOW_DEG = 0.01
# a switch reads active up to half a count past its edge (no chatter from float round-off)
SWITCH_TOLERANCE_COUNTS = 0.5
WINDOW_TOLERANCE_DEG = 1e-6  # float hygiene: the homed zero sits exactly on the window edge
INDEX_LIMIT_DEG = INDEX_WINDOW_DEG + WINDOW_TOLERANCE_DEG
OVERWIND_LIMIT_M = -0.02
END_OF_CABLE_MARGIN_M = 1.0
SNAG_FACTOR = 3.5
SNAG_MIN_N = 10.0
SLACK_FRACTION = 0.05
SNAG_STIFFNESS_N_M = 200.0  # compliance of whatever holds the source (softer than the cable)
POWER_ON_PAID_OUT_M = (0.002, 0.01)
POWER_ON_TURNTABLE_DEG = 0.15

ValveOpen = Callable[[float], bool]


def _wrap_deg(angle_deg: float) -> float:
    """Angle in (-180, 180]."""
    wrapped = math.fmod(angle_deg + 180.0, 360.0)
    return (wrapped + 360.0 if wrapped <= 0 else wrapped) - 180.0


class SpoolMechanics:
    """Spool drive switches: parked (HOME_SW), over-wind (LIMIT_NEG), end of cable (LIMIT_POS)."""

    def __init__(self, drum: Drum, counts_per_rev: int, cable_length_m: float) -> None:
        self.drum = drum
        self.counts_per_rev = counts_per_rev
        self._limit_pos = self.counts_at(cable_length_m - END_OF_CABLE_MARGIN_M)
        self._limit_neg = self.counts_at(OVERWIND_LIMIT_M)

    def counts_at(self, paid_out_m: float) -> float:
        """Drum counts (0 = parked) for a paid-out length."""
        return self.drum.revs_at(paid_out_m) * self.counts_per_rev

    def paid_out_m(self, drum_counts: float) -> float:
        """Paid-out length for a drum position."""
        return self.drum.paid_out_m(drum_counts / self.counts_per_rev)

    def home_active(self, drum_counts: float) -> bool:
        """Parked switch: paid out ≤ 0 (within half a count)."""
        return drum_counts <= SWITCH_TOLERANCE_COUNTS

    def home_edge(self, drum_counts: float) -> float:
        """The parked switch rises at 0 counts."""
        return 0.0

    def limit_pos_counts(self) -> float | None:
        """End-of-cable switch."""
        return self._limit_pos

    def limit_neg_counts(self) -> float | None:
        """Over-wind switch."""
        return self._limit_neg

    def inputs(self, drum_counts: float) -> int:
        """No general-purpose inputs wired."""
        return 0


class TurntableMechanics:
    """Turntable switches: HOME_SW = unit A index, DI1..DI4 = index of units A..D."""

    def __init__(self, cfg: TurntableCfg, unit_angles_deg: list[float]) -> None:
        self.counts_per_turn = cfg.counts_per_rev * cfg.gear_ratio
        self.counts_per_deg = self.counts_per_turn / 360.0
        self.unit_angles_deg = unit_angles_deg
        self._window_counts = HOME_WINDOW_DEG * self.counts_per_deg

    def angle_deg(self, drum_counts: float) -> float:
        """Turntable angle in [0, 360)."""
        return (drum_counts / self.counts_per_deg) % 360.0

    def under_port(self, drum_counts: float) -> int | None:
        """Index of the unit within the index window of the port."""
        angle = drum_counts / self.counts_per_deg
        for i, unit_deg in enumerate(self.unit_angles_deg):
            if abs(_wrap_deg(angle - unit_deg)) <= INDEX_LIMIT_DEG:
                return i
        return None

    def home_active(self, drum_counts: float) -> bool:
        """Unit A (0°) under the port, within the fine reference window."""
        limit_deg = HOME_WINDOW_DEG + SWITCH_TOLERANCE_COUNTS / self.counts_per_deg
        return abs(_wrap_deg(drum_counts / self.counts_per_deg)) <= limit_deg

    def home_edge(self, drum_counts: float) -> float:
        """The nearest upper window edge at or below ``drum_counts``."""
        turns = math.floor((drum_counts - self._window_counts) / self.counts_per_turn)
        return turns * self.counts_per_turn + self._window_counts

    def limit_pos_counts(self) -> float | None:
        """No limit switches."""
        return None

    def limit_neg_counts(self) -> float | None:
        """No limit switches."""
        return None

    def inputs(self, drum_counts: float) -> int:
        """DIk active while unit k is under the port."""
        angle = drum_counts / self.counts_per_deg
        bits = 0
        for i, unit_deg in enumerate(self.unit_angles_deg[:16]):
            if abs(_wrap_deg(angle - unit_deg)) <= INDEX_LIMIT_DEG:
                bits |= 1 << i
        return bits


@dataclass
class _Frozen:
    """Source state frozen by a snag or slack."""

    z_m: float
    paid_out_m: float
    nominal_n: float


class SpoolUnit:
    """One spool unit: drive + cable physics + load cell + snag/slack."""

    def __init__(
        self,
        cfg: UnitCfg,
        acu: AcuCfg,
        valve_open: ValveOpen,
        rng: random.Random,
        t_s: float,
        noise_n: float,
    ) -> None:
        spool = acu.spool_of(cfg)
        self.name = cfg.name
        self.physics = SpoolPhysics(spool, acu.z_park_m, acu.z_liquid_m, acu.z_valve_m)
        self.mechanics = SpoolMechanics(
            self.physics.drum, spool.counts_per_rev, spool.cable_length_m
        )
        start = self.mechanics.counts_at(rng.uniform(*POWER_ON_PAID_OUT_M))
        self.drive = Drive(self.mechanics, start, t_s)
        self.range_n = spool.load_cell_range_n
        self._valve_open = valve_open
        self._rng = rng
        self._noise_n = noise_n
        self._snag: _Frozen | None = None
        self._slack: _Frozen | None = None

    def state(self, t_s: float) -> SourceState:
        """True source state, faults included."""
        self.drive.advance(t_s)
        paid_m = self.mechanics.paid_out_m(self.drive.drum_counts(t_s))
        free = self.physics.update(paid_m, self._valve_open(t_s))
        if self._snag is not None:
            snag = self._snag
            jump_n = max(SNAG_FACTOR * snag.nominal_n, SNAG_MIN_N)
            tension_n = jump_n + SNAG_STIFFNESS_N_M * (snag.paid_out_m - paid_m)
            tension_n = max(tension_n, SLACK_FRACTION * snag.nominal_n)
            return SourceState(paid_m, snag.z_m, tension_n, on_valve=False)
        if self._slack is not None:
            slack = self._slack
            return SourceState(paid_m, slack.z_m, SLACK_FRACTION * slack.nominal_n, False)
        return free

    def parked(self, t_s: float) -> bool:
        """Source in its parking position (HOME_SW)."""
        return self.mechanics.home_active(self.drive.drum_counts(t_s))

    def reading(self, t_s: float) -> Reading:
        """The load cell reading: tension + noise; unstable while the drive moves."""
        force_n = self.state(t_s).tension_n + self._rng.gauss(0.0, self._noise_n)
        return Reading(force_n, unstable=self.drive.moving(t_s))

    def load_cell(
        self, address: int, now_s: Callable[[], float], silent: Callable[[], bool]
    ) -> LoadCell:
        """This unit's indicator."""
        return LoadCell(address, self.range_n, lambda: self.reading(now_s()), silent)

    def set_fault(self, fault: str, active: bool, t_s: float) -> None:
        """Apply or remove a fault's effect."""
        if fault in ("snag", "slack"):
            frozen = None
            if active:
                now = self.state(t_s)
                frozen = _Frozen(
                    now.z_m, now.paid_out_m, self.physics.nominal_tension_n(now.paid_out_m)
                )
            if fault == "snag":
                self._snag = frozen
            else:
                self._slack = frozen
        else:
            apply_drive_fault(self.drive, fault, active, t_s)

    def truth(self, t_s: float) -> dict[str, object]:
        """Truth of this unit."""
        state = self.state(t_s)
        return {
            "z_m": round(state.z_m, 6),
            "paid_out_m": round(state.paid_out_m, 6),
            "tension_n": round(state.tension_n, 4),
            "parked": self.parked(t_s),
        }


def apply_drive_fault(drive: Drive, fault: str, active: bool, t_s: float) -> None:
    """Drive-level faults (comm_loss lives in the Modbus front end)."""
    if fault == "stall":
        drive.set_stall(active, t_s)
    elif fault == "slip":
        drive.set_slip(active, t_s)
    elif fault == "drive_alarm":
        drive.set_alarm(active, t_s)
    elif fault == "limit":
        drive.advance(t_s)
        drive.forced_limit_pos = active
    elif fault == "power_loss" and active:  # one-shot: clearing has nothing to undo
        drive.power_cycle(t_s)


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
