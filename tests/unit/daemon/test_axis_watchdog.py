"""The `drive_watchdog` row: a drive's own communication watchdog stopped its run. It trips on the
reading that first shows the drive's COMM_TIMEOUT bit (the reading before showed it clear), not
on a first reading (a restarted daemon: recovery judges that drive) nor again on the next ones."""

from __future__ import annotations

from dataclasses import replace

from calibd.core.axis import Axis
from drivers.base import DriveStatus
from drivers.fake_drive import FakeDrive

STANDING = DriveStatus(
    moving=False,
    in_position=False,
    alarm=False,
    home_switch=False,
    limit_pos=False,
    limit_neg=False,
    homed=True,
    enabled=True,
    alarm_code=0,
    commanded_rev=1.0,
    encoder_rev=1.0,
    velocity_rev_s=0.0,
    inputs=0,
)
STOPPED_BY_WATCHDOG = replace(STANDING, comm_timeout=True)


def _code(axis: Axis) -> str | None:
    trip = axis.trip(None, homed=True)
    return None if trip is None else trip.code


def test_trips_on_the_reading_that_first_shows_the_bit() -> None:
    axis = Axis("A", FakeDrive("acu-spool-A"))
    axis.status = replace(STANDING, moving=True, velocity_rev_s=0.1)
    assert _code(axis) is None
    axis.status = STOPPED_BY_WATCHDOG
    trip = axis.trip(None, homed=True)
    assert trip is not None and trip.code == "drive_watchdog", trip
    assert "watchdog" in trip.message and trip.axis == "A"
    axis.status = STOPPED_BY_WATCHDOG  # the bit stays until the next run: no news
    assert _code(axis) is None


def test_a_first_reading_with_the_bit_is_no_news() -> None:
    axis = Axis("A", FakeDrive("acu-spool-A"))
    axis.status = STOPPED_BY_WATCHDOG  # what a restarted daemon reads first
    assert _code(axis) is None
    axis.status = STANDING  # a new run cleared it
    axis.status = STOPPED_BY_WATCHDOG
    assert _code(axis) == "drive_watchdog"


def test_no_bar_to_a_reset() -> None:
    """A reset judged on that very reading (the system is in FAULT already, e.g. comm_loss)
    is not refused for a stop that is over."""
    axis = Axis("A", FakeDrive("acu-spool-A"))
    axis.status = STANDING
    axis.status = STOPPED_BY_WATCHDOG
    assert axis.trip(None, homed=True, ignore_alarms=True) is None
