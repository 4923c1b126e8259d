"""The per-axis interlock table: every spool, turntable and winch drive is judged by these rows
on every poll of fresh data, in this order; the first that holds trips its system.

Rows without a predicate are evaluated elsewhere, as noted in their condition: `comm_loss` on
each read (`Axes.poll`), `move_timeout` by the deadline of each motion (`Axes.until`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from calibd.core.errors import ErrorCode, Trip
from calibd.core.interlock import Interlock, Severity
from drivers.base import LoadStatus

if TYPE_CHECKING:
    from calibd.core.axis import Axis, TensionWindow

T, HW, TO = Severity.TRIP, ErrorCode.HARDWARE, ErrorCode.TIMEOUT


@dataclass(frozen=True)
class AxisView:
    """What an axis rule sees: the axis (latest readings, trackers) and its system's context."""

    axis: Axis
    window: TensionWindow | None
    homed: bool
    judging_reset: bool  # alarms will be reset and nothing moves: skip alarm and motion rules


Check = Callable[[AxisView], str | None]


def _comm(v: AxisView) -> str | None:
    return None  # raised by the poll itself


def _alarm(v: AxisView) -> str | None:
    s = v.axis.status
    if s is None or not s.alarm or v.judging_reset:
        return None
    return f"drive {v.axis.name} alarm code {s.alarm_code}"


def _watchdog(v: AxisView) -> str | None:
    if not v.axis.watchdog_stopped or v.judging_reset:  # a past stop: no bar to a reset
        return None
    return f"drive {v.axis.name} was stopped by its own watchdog: no request reached it in time"


def _limit(v: AxisView) -> str | None:
    s = v.axis.status
    if s is None or not (s.limit_pos or s.limit_neg):
        return None
    which = "end-of-cable" if s.limit_pos else "over-wind"
    return f"{which} limit switch on {v.axis.name}"


def _reference(v: AxisView) -> str | None:
    s = v.axis.status
    if s is None or not v.homed or s.homed or v.judging_reset:
        return None
    return f"drive {v.axis.name} lost its reference"


def _cell(v: AxisView) -> str | None:
    load = v.axis.load
    if load is None or v.window is None or load.status != LoadStatus.ERROR:
        return None
    return f"load cell {v.axis.name} reports a sensor error"


def _snag(v: AxisView) -> str | None:
    load, w = v.axis.load, v.window
    if load is None or w is None:
        return None
    if load.status == LoadStatus.OVERLOAD or load.tension_n > w.high_n:
        return f"over-tension on {v.axis.name}: {load.tension_n:.2f} N > {w.high_n:.2f} N"
    return None


def _slack(v: AxisView) -> str | None:
    load, w = v.axis.load, v.window
    if load is None or w is None or load.tension_n >= w.low_n:
        return None
    return f"slack cable on {v.axis.name}: {load.tension_n:.2f} N < {w.low_n:.2f} N"


def _stall(v: AxisView) -> str | None:
    return None if v.judging_reset else v.axis.tracker.stall(v.axis)


def _slip(v: AxisView) -> str | None:
    return None if v.judging_reset else v.axis.tracker.slip(v.axis)


def _soft(v: AxisView) -> str | None:
    # judged whenever the drive itself holds its reference (its HOMED bit), so a source left
    # beyond a limit tightened while the daemon was down trips at the first poll
    # after a reset the axis may stand outside and move back in; further out trips again
    a, s = v.axis, v.axis.status
    if s is None or not s.homed or a.soft_rev is None or v.judging_reset:
        return None
    lo, hi = a.soft_rev
    if lo <= s.encoder_rev <= hi:
        return None
    if a.tracker.readings > 1 and not a.tracker.outward(lo, hi):
        return None
    return f"{a.name} at {s.encoder_rev:.3f} rev outside its soft limits [{lo:.3f}, {hi:.3f}]"


def _timeout(v: AxisView) -> str | None:
    return None  # the deadline of each motion raises it


AXIS_INTERLOCKS: tuple[tuple[Interlock, Check], ...] = (
    (
        Interlock(
            "comm_loss",
            T,
            "a drive or load cell did not answer (after the bus's retries); on each read",
            "halt every drive of the system, FAULT; a silent drive cannot hear that halt: its "
            "own watchdog stops it",
            "refused while the device is silent; then `reset`",
            HW,
        ),
        _comm,
    ),
    (
        Interlock(
            "limit",
            T,
            "a hard limit switch (end-of-cable or over-wind) is active",
            "halt every drive, FAULT",
            "refused while the switch is active (move off it by hand / expert); then `reset`",
        ),
        _limit,
    ),
    (
        Interlock(
            "drive_alarm",
            T,
            "the drive reports an alarm (overload, over-current, following error...)",
            "halt every drive, FAULT",
            "`reset` sends ALARM_RESET; refused while the drive keeps its alarm",
            HW,
        ),
        _alarm,
    ),
    (
        Interlock(
            "drive_watchdog",
            T,
            "a drive reports that its communication watchdog stopped its run (no request "
            "reached it for interlocks.drive_watchdog_s); on the reading that first shows it",
            "halt every drive, FAULT",
            "find why the daemon did not reach it (log, host load); `reset`",
            HW,
        ),
        _watchdog,
    ),
    (
        Interlock(
            "position_lost",
            T,
            "a homed drive reports it is no longer homed (power loss)",
            "halt every drive, FAULT",
            "`reset` leads to UNKNOWN: `home` before any move",
            HW,
        ),
        _reference,
    ),
    (
        Interlock(
            "load_cell_error",
            T,
            "the load-cell indicator reports a sensor error",
            "halt every drive, FAULT",
            "repair; `reset` (refused while the error persists)",
            HW,
        ),
        _cell,
    ),
    (
        Interlock(
            "snag",
            T,
            "tension above min(max(snag_factor·T_exp, T_exp + floor), 0.8·range) or overload",
            "halt every drive, FAULT",
            "clear the obstruction; `reset` is refused while the tension is above the window",
        ),
        _snag,
    ),
    (
        Interlock(
            "slack",
            T,
            "tension below min(slack_factor·T_exp, T_exp - floor): landed or broken cable",
            "halt every drive, FAULT",
            "inspect; `reset` is refused while the tension is below the window",
        ),
        _slack,
    ),
    (
        Interlock(
            "stall",
            T,
            "commanded motion but the drive reports no rotation while the motor-vs-encoder "
            "error exceeds the following-error limit, or no encoder progress for stall_window_s",
            "halt every drive, FAULT",
            "inspect the drive train; `reset` (the encoder still tells where the source is)",
            HW,
        ),
        _stall,
    ),
    (
        Interlock(
            "slip",
            T,
            "motor and encoder disagree by more than interlocks.following_error_m while the "
            "motor turns (encoder coupling slipped)",
            "halt every drive, FAULT",
            "`reset` leads to UNKNOWN (the encoder can no longer be trusted): `home`",
            HW,
        ),
        _slip,
    ),
    (
        Interlock(
            "soft_limit",
            T,
            "an axis is found beyond its soft travel limit, or moves further out beyond it "
            "(targets beyond it are refused `out_of_range` before anything moves)",
            "halt every drive, FAULT",
            "`reset` (it may then move back inside: `retract`, or `home` when not homed)",
        ),
        _soft,
    ),
    (
        Interlock(
            "move_timeout",
            T,
            "a move or homing not done by its deadline: distance / speed / time_scale + "
            "move_margin_s; by each motion's deadline",
            "halt every drive, FAULT; the command fails `timeout`",
            "inspect; `reset`; `retract`",
            TO,
        ),
        _timeout,
    ),
)


def first_trip(view: AxisView) -> Trip | None:
    """The first row of the table whose condition holds for this axis (None: all fine)."""
    for rule, check in AXIS_INTERLOCKS:
        message = check(view)
        if message is not None:
            return Trip(rule.id, message, error=rule.error, axis=view.axis.name)
    return None
