"""The Guide Tube: two stepper-driven spools pulling one cable (pull-pull), two load cells.

Drive conventions (both drives): positive counts move the car down the tube (larger theta):
the top spool pays out, the bottom spool hauls in. Absolute drum count 0 of each drive is the
cable's reference mark at that spool's switch (HOME_SW active at or below it): with both marks
at their switches the car is in its garage at theta_park at the nominal pretension.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from pymodbus.simulator import SimDevice

from simulators.clock import Clock
from simulators.config import serial_path
from simulators.config_gt import GtCfg
from simulators.faults import SPOOL_FAULTS
from simulators.gt_physics import LoopPhysics, LoopState
from simulators.load_cell import LoadCell, LoadCellBus, Reading
from simulators.mechanics import OVERWIND_LIMIT_M, LinearSwitches
from simulators.stepper import Drive, apply_drive_fault
from simulators.stepper_device import drive_device
from simulators.system import LineHandler, Silent

AXES = ("top", "bottom")
END_LIMIT_MARGIN_M = 0.3
SNAG_FACTOR = 3.5
SNAG_MIN_N = 60.0
SLACK_FRACTION = 0.05
#: the car rests in its garage on its marks at power-on (the GT has no gate valve to prove
#: that an off-mark car is outside: the daemon would count it as a source out)
POWER_ON_OFFSET_M = (0.0, 0.0)


class MarkMechanics(LinearSwitches):
    """A spool drive's switches: reference mark (HOME_SW), over-wind (LIMIT_NEG: the car pulled
    into the garage end), end of travel (LIMIT_POS: the car past the far end of the tube)."""

    def __init__(self, counts_per_m: float, travel_m: float) -> None:
        self.counts_per_m = counts_per_m
        self._limit_pos = (travel_m + END_LIMIT_MARGIN_M) * counts_per_m
        self._limit_neg = OVERWIND_LIMIT_M * counts_per_m


@dataclass(frozen=True)
class _Held:
    """Car frozen by a snag/slack; the axis it happened on and its nominal tension then."""

    theta_rad: float
    axis: str
    nominal_n: float


class Gt:
    """The Guide Tube (a ``SimSystem``)."""

    name = "gt"

    def __init__(self, cfg: GtCfg, seed: int, noise_n: float, t_s: float) -> None:
        self.cfg = cfg
        self.physics = LoopPhysics.from_cfg(cfg)
        spool = cfg.spool
        self.m_per_rev = 2 * math.pi * (spool.drum_radius_m + spool.cable_diameter_m / 2)
        self.counts_per_m = spool.counts_per_rev / self.m_per_rev
        theta_park = math.radians(cfg.theta_park_deg)
        # the marks: where the car sits in the garage at the pretension, hauled up (d = -1)
        self.a_park_m, self.b_park_m = self.physics.lengths_for(theta_park, cfg.pretension_n, -1)
        travel_m = cfg.tube.radius_m * math.radians(cfg.tube.theta_end_deg - cfg.theta_park_deg)
        rng = random.Random(f"{seed}/gt")
        self._rng = rng
        self._noise_n = noise_n
        self.drive: dict[str, Drive] = {}
        for axis in AXES:
            start_m = rng.uniform(*POWER_ON_OFFSET_M)
            mech = MarkMechanics(self.counts_per_m, travel_m)
            self.drive[axis] = Drive(mech, start_m * self.counts_per_m, t_s)
        self.direction = -1
        self._last_counts = {a: self.drive[a].drum_counts(t_s) for a in AXES}
        self._held: _Held | None = None
        self._slack: str | None = None
        self._t_s = t_s
        self._state = self._solve(t_s)

    # -- physics -----------------------------------------------------------------------------
    def lengths(self, t_s: float) -> tuple[float, float]:
        """Unstretched (a, b) from the drum positions."""
        top = self.drive["top"].drum_counts(t_s) / self.counts_per_m
        bottom = self.drive["bottom"].drum_counts(t_s) / self.counts_per_m
        return self.a_park_m + top, self.b_park_m - bottom

    def _update_direction(self, t_s: float) -> None:
        """Friction profile follows the cable's sliding direction: both drums moving positive
        (car going down) or both negative; otherwise the last profile holds."""
        now = {a: self.drive[a].drum_counts(t_s) for a in AXES}
        moved = [now[a] - self._last_counts[a] for a in AXES]
        if all(m > 1e-6 for m in moved):
            self.direction = 1
        elif all(m < -1e-6 for m in moved):
            self.direction = -1
        if any(abs(m) > 1e-6 for m in moved):
            self._last_counts = now

    def _solve(self, t_s: float) -> LoopState:
        a, b = self.lengths(t_s)
        if self._held is not None:
            return self.physics.state_at(self._held.theta_rad, a, b, self.direction, pinned=True)
        return self.physics.solve(a, b, self.direction)

    def state(self, t_s: float) -> LoopState:
        """The true state at simulated time ``t_s`` (monotonic; faults included)."""
        t_s = max(t_s, self._t_s)
        for drive in self.drive.values():
            drive.advance(t_s)
        self._update_direction(t_s)
        self._t_s = t_s
        self._state = self._solve(t_s)
        return self._state

    def tension_n(self, axis: str, t_s: float) -> float:
        """True tension at a spool, snag and slack included."""
        st = self.state(t_s)
        tension = st.tension_top_n if axis == "top" else st.tension_bottom_n
        held = self._held
        if held is not None and held.axis == axis and self._slack is None:
            tension += max(SNAG_FACTOR * held.nominal_n, SNAG_MIN_N)
        if self._slack == axis and held is not None:
            tension = SLACK_FRACTION * held.nominal_n
        return tension

    def reading(self, axis: str, t_s: float) -> Reading:
        """Load cell: tension + noise; unstable while its drive moves."""
        force_n = self.tension_n(axis, t_s) + self._rng.gauss(0.0, self._noise_n)
        return Reading(force_n, unstable=self.drive[axis].moving(t_s))

    # -- SimSystem -----------------------------------------------------------------------------
    def drives(self) -> dict[str, Drive]:
        """Axis name -> drive."""
        return dict(self.drive)

    def fault_axes(self) -> dict[str, frozenset[str]]:
        """Both spools take the spool faults."""
        return dict.fromkeys(AXES, SPOOL_FAULTS)

    def modbus_devices(self, clock: Clock, silent: Silent) -> list[tuple[str, SimDevice]]:
        """The two spool drives."""
        out = []
        for axis in AXES:
            dev_cfg = getattr(self.cfg, axis).drive
            out.append(
                (
                    dev_cfg.endpoint,
                    drive_device(dev_cfg.device_id, self.drive[axis], clock, silent(axis)),
                )
            )
        return out

    def serial_lines(self, clock: Clock, silent: Silent) -> dict[str, LineHandler]:
        """The two load cells, multi-dropped per line."""
        cells: dict[str, list[LoadCell]] = {}
        for axis in AXES:
            lc = getattr(self.cfg, axis).load_cell
            cell = LoadCell(
                lc.address,
                self.cfg.spool.load_cell_range_n,
                self._reader(axis, clock.now_s),
                silent(axis),
            )
            cells.setdefault(serial_path(lc.endpoint), []).append(cell)
        return {path: LoadCellBus(group).handle for path, group in cells.items()}

    def _reader(self, axis: str, now_s: Callable[[], float]) -> Callable[[], Reading]:
        return lambda: self.reading(axis, now_s())

    def tick(self, t_s: float) -> None:
        """Follow the drives (friction direction bookkeeping)."""
        self.state(t_s)

    def set_fault(self, axis: str, fault: str, active: bool, t_s: float) -> None:
        """snag: the car sticks in the tube and the cable on ``axis`` pulls hard;
        slack: the cable on ``axis`` jumps off its dancer (tension gone), the car sticks;
        the rest are drive faults."""
        if fault in ("snag", "slack"):
            st = self.state(t_s)
            if active:
                nominal = st.tension_top_n if axis == "top" else st.tension_bottom_n
                self._held = _Held(st.theta_rad, axis, nominal)
                self._slack = axis if fault == "slack" else None
            else:
                self._held = None
                self._slack = None
            self._state = self._solve(t_s)
        else:
            apply_drive_fault(self.drive[axis], fault, active, t_s)

    def truth(self, t_s: float) -> dict[str, object]:
        """Position (theta_deg), arc length, tensions at both spools and at the car."""
        st = self.state(t_s)
        a, b = self.lengths(t_s)
        axes: dict[str, object] = {}
        for axis in AXES:
            drive = self.drive[axis]
            axes[axis] = {
                "drum_m": round(drive.drum_counts(t_s) / self.counts_per_m, 6),
                "tension_n": round(self.tension_n(axis, t_s), 4),
                "parked": drive.mechanics.home_active(drive.drum_counts(t_s)),
            }
        return {
            "position": {"theta_deg": round(st.theta_deg, 6)},
            "arc_m": round(st.theta_rad * self.cfg.tube.radius_m, 6),
            "tension_n": {
                "top": round(self.tension_n("top", t_s), 4),
                "bottom": round(self.tension_n("bottom", t_s), 4),
            },
            "car_tension_n": {"top": round(st.car_top_n, 4), "bottom": round(st.car_bottom_n, 4)},
            "lengths_m": {"a": round(a, 6), "b": round(b, 6)},
            "friction_dir": self.direction,
            "pinned": st.pinned,
            "held": self._held is not None,
            "axes": axes,
        }
