"""The Protocols the daemon depends on, so fakes can stand in for real devices.

Importing this module pulls in neither pymodbus nor pyserial.
"""

from __future__ import annotations

from typing import Protocol

from drivers.io_module import IoSnapshot
from drivers.load_cell import LoadReading, LoadStatus
from drivers.stepper import DriveStatus
from drivers.uss import UssFix

__all__ = [
    "Drive",
    "DriveStatus",
    "ForceSensor",
    "IoDevice",
    "IoSnapshot",
    "LoadReading",
    "LoadStatus",
    "PositionSensor",
    "UssFix",
]


class Drive(Protocol):
    """A position-mode drive, in revolutions of its output."""

    name: str

    async def read_status(self) -> DriveStatus:
        """One status poll."""
        ...

    async def move_to(self, target_rev: float, speed_rev_s: float, accel_rev_s2: float) -> None:
        """Start an absolute move (re-targets while moving)."""
        ...

    async def stop(self) -> None:
        """Decelerated stop."""
        ...

    async def halt(self) -> None:
        """Quick stop."""
        ...

    async def home(self, speed_rev_s: float) -> None:
        """Run to the home switch in the negative direction; zero the position."""
        ...

    async def reset_alarm(self) -> None:
        """Clear the alarm if its cause is gone."""
        ...


class ForceSensor(Protocol):
    """A load cell."""

    name: str

    async def read(self) -> LoadReading:
        """One force reading."""
        ...


class PositionSensor(Protocol):
    """An independent position measurement (the ultrasonic system)."""

    name: str

    async def read(self) -> UssFix:
        """The latest fix."""
        ...


class IoDevice(Protocol):
    """The house IO: valves, e-stop, environment monitors."""

    name: str

    async def read(self) -> IoSnapshot:
        """All inputs at once."""
        ...

    async def set_valve(self, channel: int, open_: bool) -> None:
        """Drive valve ``channel`` open (True) or closed (False)."""
        ...
