"""The Monitor: judges the safety invariants from the fakes' TRUE state, as they happen."""

from __future__ import annotations

from typing import TYPE_CHECKING

from calibd.cfg_interlocks import InterlocksCfg
from tests.unit.daemon.plant.config import CHIMNEY, SYSTEMS, Clock

if TYPE_CHECKING:
    from tests.unit.daemon.plant.fakes import PlantDrive, PlantVehicle, Reachable


# ---- the monitor -------------------------------------------------------------------------------


class Monitor:
    """Judges the invariants from the fakes at the instant things happen: every drive reports
    its motion (`moved`), the vehicle its thrust, the IO module an open e-stop reading.

    Fakes update lazily (on calls); before judging two systems together everything is brought
    to the present (`catch_up`). E-stop: motion is blamed from `estop_since + estop_grace_s`
    on, and for a device that did not answer, from one grace period after it answers again.
    """

    def __init__(self, clock: Clock, cfg: InterlocksCfg) -> None:
        self.clock = clock
        self.cfg = cfg
        self.estop_grace_s = 0.0
        self.spools: dict[str, list[PlantDrive]] = {name: [] for name in SYSTEMS}
        self.drives: list[PlantDrive] = []  # every drive, spools and turntable
        self.turntable: PlantDrive | None = None
        self.vehicle: PlantVehicle | None = None
        self.estop_since: float | None = None
        self.violations: list[str] = []
        self._flagged: set[str] = set()

    def record(self, key: str, message: str) -> None:
        """A violation, once per key (a condition that persists is reported once)."""
        if key not in self._flagged:
            self._flagged.add(key)
            self.violations.append(f"t={self.clock():.3f}s: {message}")

    def out(self, system: str) -> bool:
        """Any of the system's spools (or its winch) off its parked switch."""
        return any(not d.on_switch() for d in self.spools[system])

    def estop_enforced(self) -> bool:
        since = self.estop_since
        return since is not None and self.clock() >= since + self.estop_grace_s

    def blamable(self, device: Reachable) -> bool:
        """The e-stop is enforced and the daemon has had a grace period to reach `device`."""
        now = self.clock()
        return (
            self.estop_enforced()
            and not device.lost
            and now >= device.reachable_since + self.estop_grace_s
        )

    def moved(self, drive: PlantDrive) -> None:
        """A drive's motor or drum just moved."""
        if self.blamable(drive):
            self.record(
                f"estop:{drive.name}:{self.estop_since}",
                f"[2 e-stop] {drive.name} moves, e-stop latched at t={self.estop_since:.3f}s",
            )
        if drive is self.turntable and self.out("acu"):
            for d in self.spools["acu"]:
                d.advance(0.0)
        if drive is self.turntable and self.out("acu"):
            out = [d.name for d in self.spools["acu"] if not d.on_switch()]
            self.record(
                f"turntable:{out}", f"[3 turntable] rotates while {', '.join(out)} off switch"
            )
        lim = drive.limit_revs
        if lim is not None and not lim[0] < drive.drum_rev < lim[1]:
            self.record(
                f"limit:{drive.name}",
                f"[5 hard limit] {drive.name} drum at {drive.drum_rev:.3f} rev, limit "
                f"switches at {lim[0]:.3f} / {lim[1]:.3f} rev",
            )
        self.check_placement()

    def vehicle_moves(self, vehicle: PlantVehicle) -> None:
        if self.blamable(vehicle):
            self.record(
                f"estop:{vehicle.name}:{self.estop_since}",
                f"[2 e-stop] {vehicle.name} thrusts, e-stop latched at t={self.estop_since:.3f}s",
            )

    def latch(self, grace_s: float) -> None:
        """The e-stop latches now; motion is blamed from `grace_s` on (the daemon's reaction
        time: the polls that must see the cause)."""
        if self.estop_since is None:
            self.catch_up()  # motion up to now is not blamed on it
            self.estop_since = self.clock()
            self.estop_grace_s = grace_s

    def release(self) -> None:
        self.estop_since = None

    def catch_up(self) -> None:
        """Bring every fake to the present (they update lazily, on calls)."""
        for d in self.drives:
            d.advance(0.0)
        if self.vehicle is not None:
            self.vehicle.sync()

    def _out(self) -> tuple[list[str], list[str]]:
        out = [s for s in SYSTEMS if self.out(s)]
        return out, [s for s in out if s in CHIMNEY]

    def check_placement(self) -> None:
        out, chimney = self._out()
        limit = self.cfg.max_sources_in_detector
        if len(chimney) > self.cfg.max_in_chimney or len(out) > limit:
            self.catch_up()  # judge on every drum as it is now, not as last read
            out, chimney = self._out()
        if len(chimney) > self.cfg.max_in_chimney:
            self.record(f"chimney:{chimney}", f"[1 chimney] in the detector at once: {chimney}")
        if len(out) > limit:
            self.record(f"sources:{out}", f"[6 sources] {len(out)} out (max {limit}): {out}")
