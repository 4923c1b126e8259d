"""One ACU spool unit: its drive, cable physics and load cell, and the snag/slack faults that
freeze the source."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from simulators.config import AcuCfg, UnitCfg
from simulators.load_cell import LoadCell, Reading
from simulators.mechanics import POWER_ON_PAID_OUT_M, SpoolMechanics
from simulators.spool import SourceState, SpoolPhysics
from simulators.stepper import Drive, apply_drive_fault

SNAG_FACTOR = 3.5
SNAG_MIN_N = 10.0
SLACK_FRACTION = 0.05
SNAG_STIFFNESS_N_M = 200.0  # compliance of whatever holds the source (softer than the cable)

ValveOpen = Callable[[float], bool]


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
