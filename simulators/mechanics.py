"""What a simulated drive is bolted to: the ``Mechanics`` protocol (its switches, in absolute
drum counts) and the ACU's two kinds, the spool (parked, over-wind, end of cable) and the
turntable (reference and index switches). Also shared by the CLS and ROV spools."""

from __future__ import annotations

import math
from typing import Protocol

from simulators.config import TurntableCfg
from simulators.spool import Drum

INDEX_WINDOW_DEG = 0.2
# the reference (home) switch is much finer than the index switches: homing zeroes on its edge
HOME_WINDOW_DEG = 0.01
# a switch reads active up to half a count past its edge (no chatter from float round-off)
SWITCH_TOLERANCE_COUNTS = 0.5
WINDOW_TOLERANCE_DEG = 1e-6  # float hygiene: the homed zero sits exactly on the window edge
INDEX_LIMIT_DEG = INDEX_WINDOW_DEG + WINDOW_TOLERANCE_DEG
OVERWIND_LIMIT_M = -0.02
END_OF_CABLE_MARGIN_M = 1.0
#: a spool powers on just off its parked switch, paid out somewhere in this range
POWER_ON_PAID_OUT_M = (0.002, 0.01)


class Mechanics(Protocol):
    """What the drive is bolted to: its switches, in absolute drum counts."""

    def home_active(self, drum_counts: float) -> bool:
        """HOME_SW state."""
        ...

    def home_edge(self, drum_counts: float) -> float:
        """Where HOME_SW rises when moving negative from ``drum_counts``."""
        ...

    def limit_pos_counts(self) -> float | None:
        """LIMIT_POS is active above this (None: no switch)."""
        ...

    def limit_neg_counts(self) -> float | None:
        """LIMIT_NEG is active below this (None: no switch)."""
        ...

    def inputs(self, drum_counts: float) -> int:
        """The INPUTS register."""
        ...


def _wrap_deg(angle_deg: float) -> float:
    """Angle in (-180, 180]."""
    wrapped = math.fmod(angle_deg + 180.0, 360.0)
    return (wrapped + 360.0 if wrapped <= 0 else wrapped) - 180.0


class LinearSwitches:
    """The switches of a linear axis, in absolute drum counts: a home switch active at or below
    0 counts (its edge), a limit switch at each end (`_limit_pos`, `_limit_neg`, set by the
    subclass), no general-purpose inputs. The spools of the ACU, CLS, GT and ROV."""

    _limit_pos: float | None
    _limit_neg: float | None

    def home_active(self, drum_counts: float) -> bool:
        """HOME_SW: at or behind its edge (within half a count)."""
        return drum_counts <= SWITCH_TOLERANCE_COUNTS

    def home_edge(self, drum_counts: float) -> float:
        """HOME_SW rises at 0 counts."""
        return 0.0

    def limit_pos_counts(self) -> float | None:
        return self._limit_pos

    def limit_neg_counts(self) -> float | None:
        return self._limit_neg

    def inputs(self, drum_counts: float) -> int:
        """No general-purpose inputs wired."""
        return 0


class SpoolMechanics(LinearSwitches):
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
