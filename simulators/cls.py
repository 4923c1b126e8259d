"""A Cable Loop System (cls1, cls2): two spool drives, two load cells, the loop physics, an
optional ultrasonic receiver, and the faults."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, replace

from pymodbus.simulator import SimDevice

from simulators.clock import Clock
from simulators.cls_physics import LoopPhysics, LoopState
from simulators.config import serial_path
from simulators.config_cls import ClsCfg
from simulators.faults import SPOOL_FAULTS
from simulators.load_cell import LoadCell, LoadCellBus, Reading
from simulators.mechanics import SWITCH_TOLERANCE_COUNTS, LinearSwitches, SpoolMechanics
from simulators.stepper import Drive, apply_drive_fault
from simulators.stepper_device import drive_device
from simulators.system import LineHandler, Silent
from simulators.uss import UssLine, UssTarget

ValveOpen = Callable[[float], bool]
SNAG_FACTOR = 3.5
SNAG_MIN_N = 10.0
SLACK_FRACTION = 0.05
SNAG_STIFFNESS_N_M = 200.0
POWER_ON_M = (0.002, 0.01)
USS_OFFSET_M = 0.2
USS_FAULTS = frozenset({"comm_loss", "uss_offset"})
AXES = ("central", "side")


class SideMechanics(LinearSwitches):
    """Side spool: positive counts wind the cable in; a reference flag marks the parked
    position (0), LIMIT_POS the wound-in end, LIMIT_NEG the paid-out end."""

    def __init__(self, physics: LoopPhysics, counts_per_rev: int, cable_length_m: float) -> None:
        self.counts_per_rev = counts_per_rev
        p0 = physics.side_park_paid_out_m
        self._limit_pos = physics.side_rev_at(p0 - 0.5) * counts_per_rev
        self._limit_neg = physics.side_rev_at(p0 - cable_length_m + 1.0) * counts_per_rev

    def home_active(self, drum_counts: float) -> bool:
        """The reference flag at the parked position."""
        return abs(drum_counts) <= SWITCH_TOLERANCE_COUNTS


@dataclass
class _Frozen:
    """The loop frozen by a snag or slack on one axis."""

    axis: str
    fault: str
    state: LoopState
    counts: float


class ClsLoop:
    """One Cable Loop System (a ``SimSystem``)."""

    def __init__(
        self,
        name: str,
        cfg: ClsCfg,
        valve_open: ValveOpen,
        seed: int,
        noise_n: float,
        t_s: float,
    ) -> None:
        self.name = name
        self.cfg = cfg
        self.physics = LoopPhysics(cfg)
        self._valve_open = valve_open
        self._rng = random.Random(f"{seed}/{name}")
        self._noise_n = noise_n
        self.cpr_c = cfg.spool.counts_per_rev
        self.cpr_s = cfg.side_spool.counts_per_rev
        central_mech = SpoolMechanics(
            self.physics.central_drum, self.cpr_c, cfg.spool.cable_length_m
        )
        side_mech = SideMechanics(self.physics, self.cpr_s, cfg.side_spool.cable_length_m)
        start_c = central_mech.counts_at(self._rng.uniform(*POWER_ON_M))
        start_s = self.physics.side_rev_at(self._rng.uniform(*POWER_ON_M)) * self.cpr_s
        self.central = Drive(central_mech, start_c, t_s)
        self.side = Drive(side_mech, start_s, t_s)
        self._frozen: _Frozen | None = None
        self.uss_offset = False
        self._cache: tuple[tuple[float, float, bool], LoopState] | None = None
        self._last: LoopState | None = None

    # ---- physics -----------------------------------------------------------------------------

    def _revs(self, t_s: float) -> tuple[float, float]:
        self.central.advance(t_s)
        self.side.advance(t_s)
        return self.central.drum_counts(t_s) / self.cpr_c, self.side.drum_counts(t_s) / self.cpr_s

    def free_state(self, t_s: float) -> LoopState:
        """The loop without snag/slack (cached per drum position)."""
        rev_c, rev_s = self._revs(t_s)
        key = (rev_c, rev_s, self._valve_open(t_s))
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        try:
            st = self.physics.state(*key)
        except ArithmeticError:
            if self._last is None:
                raise
            st = self._last  # no equilibrium found: keep the last one (never crash the rack)
        self._cache, self._last = (key, st), st
        return st

    def state(self, t_s: float) -> LoopState:
        """True state, faults included."""
        free = self.free_state(t_s)
        fr = self._frozen
        if fr is None:
            return free
        st = fr.state
        nominal = st.central_n if fr.axis == "central" else st.side_n
        if fr.fault == "snag":
            # paying cable out (central: +counts, side: -counts) relieves the snag
            if fr.axis == "central":
                relief_rev = (self.central.drum_counts(t_s) - fr.counts) / self.cpr_c
                radius_m = self.cfg.spool.drum_radius_m
            else:
                relief_rev = (fr.counts - self.side.drum_counts(t_s)) / self.cpr_s
                radius_m = self.cfg.side_spool.drum_radius_m
            relief_m = relief_rev * 2 * math.pi * radius_m
            tension = max(SNAG_FACTOR * nominal, SNAG_MIN_N) - SNAG_STIFFNESS_N_M * relief_m
            tension = max(tension, SLACK_FRACTION * nominal)
        else:
            tension = SLACK_FRACTION * nominal
        if fr.axis == "central":
            return replace(st, central_n=tension)
        return replace(st, side_n=tension)

    def tick(self, t_s: float) -> None:
        """Evaluate the loop (keeps the warm starts close to the drives)."""
        self.free_state(t_s)

    # ---- devices -----------------------------------------------------------------------------

    def drives(self) -> dict[str, Drive]:
        """Axis name -> drive."""
        return {"central": self.central, "side": self.side}

    def fault_axes(self) -> dict[str, frozenset[str]]:
        """Both spools take spool faults; the USS receiver comm_loss and uss_offset."""
        axes = dict.fromkeys(AXES, SPOOL_FAULTS)
        if self.cfg.uss is not None:
            axes["uss"] = USS_FAULTS
        return axes

    def modbus_devices(self, clock: Clock, silent: Silent) -> list[tuple[str, SimDevice]]:
        """The two spool drives."""
        out = []
        for axis, drive in self.drives().items():
            dev_cfg = self.cfg.central.drive if axis == "central" else self.cfg.side.drive
            device = drive_device(dev_cfg.device_id, drive, clock, silent(axis))
            out.append((dev_cfg.endpoint, device))
        return out

    def _reading(self, axis: str, t_s: float) -> Reading:
        st = self.state(t_s)
        force = st.central_n if axis == "central" else st.side_n
        drive = self.central if axis == "central" else self.side
        return Reading(force + self._rng.gauss(0.0, self._noise_n), unstable=drive.moving(t_s))

    def _uss_position(self, t_s: float) -> tuple[float, float, float] | None:
        st = self.state(t_s)
        if st.in_chimney:
            return None  # the hydrophones see the detector only
        dx = USS_OFFSET_M if self.uss_offset else 0.0
        return (st.x_m + dx, 0.0, st.z_m)

    def serial_lines(self, clock: Clock, silent: Silent) -> dict[str, LineHandler]:
        """The load-cell line (both cells) and the USS line."""
        cells: dict[str, list[LoadCell]] = {}
        for axis in AXES:
            cab = self.cfg.central if axis == "central" else self.cfg.side
            spool = self.cfg.spool if axis == "central" else self.cfg.side_spool
            range_n = spool.load_cell_range_n

            def read(a: str = axis) -> Reading:
                return self._reading(a, clock.now_s())

            cell = LoadCell(cab.load_cell.address, range_n, read, silent(axis))
            cells.setdefault(serial_path(cab.load_cell.endpoint), []).append(cell)
        lines: dict[str, LineHandler] = {p: LoadCellBus(g).handle for p, g in cells.items()}
        uss = self.cfg.uss
        if uss is not None:
            target = UssTarget(
                uss.address,
                lambda: self._uss_position(clock.now_s()),
                noise_m=uss.noise_m,
                rng=random.Random(f"{self.name}/uss"),
                silent=silent("uss"),
            )
            lines[serial_path(uss.endpoint)] = UssLine([target]).handle
        return lines

    # ---- faults and truth --------------------------------------------------------------------

    def set_fault(self, axis: str, fault: str, active: bool, t_s: float) -> None:
        """Apply or remove a fault on an axis."""
        if axis == "uss":
            if fault == "uss_offset":
                self.uss_offset = active
            return
        if fault in ("snag", "slack"):
            if active:
                drive = self.central if axis == "central" else self.side
                self._frozen = _Frozen(axis, fault, self.free_state(t_s), drive.drum_counts(t_s))
            elif self._frozen is not None and self._frozen.axis == axis:
                self._frozen = None
            return
        apply_drive_fault(self.central if axis == "central" else self.side, fault, active, t_s)

    def truth(self, t_s: float) -> dict[str, object]:
        """Position keys as in the daemon's status, plus the true tensions."""
        st = self.state(t_s)
        rev_c, rev_s = self._revs(t_s)
        return {
            "position": {"x_m": round(st.x_m, 6), "z_m": round(st.z_m, 6)},
            "tension_n": {"central": round(st.central_n, 4), "side": round(st.side_n, 4)},
            "in_chimney": st.in_chimney,
            "on_valve": st.on_valve,
            "parked": self.central.mechanics.home_active(rev_c * self.cpr_c),
            "central_paid_out_m": round(self.physics.central_drum.paid_out_m(rev_c), 6),
            "side_wound_in_m": round(self.physics.side_wound_in_m(rev_s), 6),
            "uss_offset": self.uss_offset,
        }
