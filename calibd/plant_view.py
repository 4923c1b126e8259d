"""What the cross-system interlock rules see and say: the plant as one view, a command about to
be accepted, and a finding (an active interlock and the systems it stops).

The interlock board (`calibd/interlocks.py`) builds a `PlantView` from its cached readings on
every poll of fresh data; the rules (`calibd/plant_checks.py`, tabled in `calibd/plant_rules.py`)
are pure functions of it (`Evaluate`, `Refuse`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from calibd.cfg_interlocks import InterlocksCfg
from calibd.core.interlock import Severity
from calibd.core.presence import Presence, Segment


@dataclass(frozen=True)
class PlantView:
    systems: Mapping[str, Presence]
    cfg: InterlocksCfg
    estop: str | None = None  # message of the latched global e-stop
    estop_input_open: bool = False
    estop_input_latched: bool = False  # the circuit opened since the last global reset
    ready: bool = True  # every system and the house have been read at least once
    atmosphere: tuple[float, float] | None = None  # O2 ppm, radon mBq/m3
    permit: bool = False

    def inside(self, among: tuple[str, ...] | None = None, *, but: str = "") -> list[str]:
        """Systems whose source is (or is about to be) in the detector."""
        names = self.systems if among is None else among
        return [n for n in names if n != but and n in self.systems and self.systems[n].inside]


@dataclass(frozen=True)
class Request:
    """A command about to be accepted: `entry` when it would take a parked system in."""

    system: str
    action: str
    entry: bool
    planned: tuple[Segment, ...] = ()  # the cables / path it would occupy


@dataclass(frozen=True)
class Finding:
    id: str
    system: str
    severity: Severity
    message: str
    trips: tuple[str, ...] = field(default=())
    latched: bool = False


Evaluate = Callable[[PlantView], list[Finding]]
Refuse = Callable[[PlantView, Request], str | None]
