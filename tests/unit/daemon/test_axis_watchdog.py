"""The `drive_watchdog` row: a drive's own communication watchdog stopped its run. It trips on the
reading that first shows the drive's COMM_TIMEOUT bit (the reading before showed it clear), not
on a first reading (a restarted daemon: recovery judges that drive) nor again on the next ones."""

from __future__ import annotations

from dataclasses import replace

from calibd.core.axis import Axis
from drivers.base import DriveStatus
from drivers.fake_drive import FakeDrive


async def _axis() -> tuple[Axis, DriveStatus, DriveStatus]:
    """An axis, and a homed drive's reading standing: without and with the COMM_TIMEOUT bit."""
    drive = FakeDrive("acu-spool-A", position_rev=1.0, homed=True)
    standing = await drive.read_status()
    return Axis("A", drive), standing, replace(standing, comm_timeout=True)


def _code(axis: Axis) -> str | None:
    trip = axis.trip(None, homed=True)
    return None if trip is None else trip.code


async def test_trips_on_the_reading_that_first_shows_the_bit() -> None:
    axis, standing, stopped = await _axis()
    axis.status = replace(standing, moving=True, velocity_rev_s=0.1)
    assert _code(axis) is None
    axis.status = stopped
    trip = axis.trip(None, homed=True)
    assert trip is not None and trip.code == "drive_watchdog", trip
    assert "watchdog" in trip.message and trip.axis == "A"
    axis.status = stopped  # the bit stays until the next run: no news
    assert _code(axis) is None


async def test_a_first_reading_with_the_bit_is_no_news() -> None:
    axis, standing, stopped = await _axis()
    axis.status = stopped  # what a restarted daemon reads first
    assert _code(axis) is None
    axis.status = standing  # a new run cleared it
    axis.status = stopped
    assert _code(axis) == "drive_watchdog"


async def test_no_bar_to_a_reset() -> None:
    """A reset judged on that very reading (the system is in FAULT already, e.g. comm_loss)
    is not refused for a stop that is over."""
    axis, standing, stopped = await _axis()
    axis.status = standing
    axis.status = stopped
    assert axis.trip(None, homed=True, ignore_alarms=True) is None
