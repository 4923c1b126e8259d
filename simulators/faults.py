"""Injected-fault bookkeeping per (system, axis), and the stop-reaction events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from simulators.stepper_map import WATCHDOG

DRIVE_FAULTS = frozenset({"slip", "stall", "comm_loss", "drive_alarm", "limit", "power_loss"})
SPOOL_FAULTS = DRIVE_FAULTS | {"snag", "slack"}
#: faults that happen at injection (nothing to undo on clear); each also has its own event
ONE_SHOT_FAULTS = frozenset({"power_loss"})
IO_FAULTS = frozenset({"comm_loss", "estop_button", "valve_stuck", "o2_high"})
#: a stop command, or the drive's own communication watchdog
STOP_COMMANDS = frozenset({"STOP", "HALT", WATCHDOG})
SILENT_FAULT = "comm_loss"


class FaultError(ValueError):
    """An unknown fault, system or axis."""


def iso_now() -> str:
    """ISO 8601 UTC timestamp with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class ActiveFault:
    """One injected fault."""

    system: str
    axis: str
    fault: str
    injected_wall_s: float
    stop_reported: bool = False
    extra: dict[str, float] = field(default_factory=dict)


class FaultBoard:
    """Which faults are active where; ``axes`` = system → axis → faults it accepts."""

    def __init__(self, axes: Mapping[str, Mapping[str, frozenset[str]]]) -> None:
        self.axes = {system: dict(by_axis) for system, by_axis in axes.items()}
        self._active: dict[tuple[str, str, str], ActiveFault] = {}

    def resolve_axis(self, system: str, fault: str, axis: str | None) -> str:
        """Validate (system, fault, axis); the axis may be omitted if the system has one."""
        by_axis = self.axes.get(system)
        if by_axis is None:
            raise FaultError(f"unknown system {system!r}")
        if axis is None:
            if len(by_axis) != 1:
                raise FaultError(f"fault {fault!r} on {system!r} needs an axis")
            axis = next(iter(by_axis))
        if axis not in by_axis:
            raise FaultError(f"unknown axis {axis!r} on {system!r}")
        if fault not in by_axis[axis]:
            raise FaultError(f"unknown fault {fault!r} for {system}/{axis}")
        return axis

    def inject(self, system: str, fault: str, axis: str, wall_s: float) -> ActiveFault:
        """Record an injection (an already active identical fault is replaced)."""
        entry = ActiveFault(system, axis, fault, wall_s)
        self._active[(system, axis, fault)] = entry
        return entry

    def clear(self, system: str, axis: str | None = None) -> list[ActiveFault]:
        """Remove the faults of a system (or of one axis); return them."""
        if system not in self.axes:
            raise FaultError(f"unknown system {system!r}")
        if axis is not None and axis not in self.axes[system]:
            raise FaultError(f"unknown axis {axis!r} on {system!r}")
        gone = [f for k, f in self._active.items() if k[0] == system and axis in (None, k[1])]
        for entry in gone:
            del self._active[(entry.system, entry.axis, entry.fault)]
        return gone

    def get(self, system: str, axis: str, fault: str) -> ActiveFault | None:
        """The active fault, if any."""
        return self._active.get((system, axis, fault))

    def is_active(self, system: str, axis: str, fault: str) -> bool:
        """Whether the fault is active."""
        return (system, axis, fault) in self._active

    def active(self) -> list[ActiveFault]:
        """Every active fault."""
        return list(self._active.values())

    def on_command(
        self, system: str, axis: str, command: str, wall_s: float
    ) -> list[dict[str, object]]:
        """A drive got a command: the ``stopped`` events due (once per injection)."""
        if command not in STOP_COMMANDS:
            return []
        events: list[dict[str, object]] = []
        for entry in self._active.values():
            if (entry.system, entry.axis) != (system, axis) or entry.stop_reported:
                continue
            if entry.fault == SILENT_FAULT and command != WATCHDOG:
                continue  # a silent drive hears no stop: only its own watchdog stops it
            entry.stop_reported = True
            events.append(
                {
                    "event": "stopped",
                    "system": system,
                    "axis": axis,
                    "fault": entry.fault,
                    "command": command,
                    "reaction_ms": round((wall_s - entry.injected_wall_s) * 1000.0, 3),
                    "ts": iso_now(),
                }
            )
        return events
