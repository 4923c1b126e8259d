"""The per-system interlock table: trips a deployment system's own sequences and protections
raise (beyond the per-axis rows), listed as data for docs/interlocks.md and its completeness test.

Where each is evaluated is named in its condition; every one latches FAULT like a per-axis trip.
"""

from __future__ import annotations

from calibd.core.errors import ErrorCode
from calibd.core.interlock import Interlock, Severity
from calibd.core.laser_rules import LASER_INTERLOCKS

T, W = Severity.TRIP, Severity.WARNING

SYSTEM_INTERLOCKS: tuple[Interlock, ...] = (
    Interlock(
        "position_mismatch",
        T,
        "at start: the persisted state and the drives disagree (a drive lost its reference, "
        "reads outside the range the store knows, or a source is off its switch with no record)"
        "; judged once, on the first readings (calibd/core/recovery.py)",
        "every drive was already stopped; FAULT with both values in the message",
        "not reset: `retract` (slow homing onto the switches, tension-watched) or an expert "
        "`override` (docs/operations.md)",
    ),
    Interlock(
        "turntable_spool_out",
        T,
        "acu: the turntable moves while a spool unit is off its home switch (each poll); "
        "`select` with a unit out is refused `interlock` before anything moves",
        "halt every drive, FAULT",
        "retract the unit after `reset`",
    ),
    Interlock(
        "valve_timeout",
        T,
        "a gate valve did not reach its end switch in time (house, while a system waits); "
        "a failed open is withdrawn",
        "FAULT of the system that asked",
        "inspect the valve; `reset`",
        ErrorCode.HARDWARE,
    ),
    Interlock(
        "house_unavailable",
        T,
        "a valve was needed while the house is not READY (IO module lost)",
        "FAULT of the system that asked; the valve is not touched",
        "bring the house back (`reset` on house), then `reset`",
        ErrorCode.HARDWARE,
    ),
    Interlock(
        "position_error",
        T,
        "acu/cls: the final position is still off target after the correction moves",
        "halt, FAULT; the command fails",
        "`reset`; check the spool model / calibration",
        ErrorCode.HARDWARE,
    ),
    Interlock(
        "position_unknown",
        T,
        "cls: a move needs encoder readings that are not there yet",
        "FAULT",
        "`reset` once the drives answer",
        ErrorCode.HARDWARE,
    ),
    Interlock(
        "model",
        T,
        "cls: the cable model has no solution for the measured cable lengths (each poll)",
        "halt, FAULT",
        "`reset`, `retract`",
        ErrorCode.HARDWARE,
    ),
    Interlock(
        "out_of_range",
        T,
        "cls: no feasible path to a target that passed the pre-check",
        "FAULT before the move starts",
        "`reset`; choose another target",
        ErrorCode.OUT_OF_RANGE,
    ),
    Interlock(
        "source_weight",
        T,
        "cls: the source weighed at the chimney exit differs from its nominal weight",
        "halt, FAULT (wrong or missing source)",
        "inspect the source; `reset`; `retract`",
        ErrorCode.HARDWARE,
    ),
    Interlock(
        "not_parked",
        T,
        "cls/gt: a retract ended without the home switches",
        "FAULT; the gate valve stays open",
        "inspect; `reset`; `retract` again",
        ErrorCode.HARDWARE,
    ),
    Interlock(
        "no_unit",
        T,
        "acu: a motion found no unit under the port",
        "FAULT",
        "`reset`; `select` a unit",
        ErrorCode.INTERNAL,
    ),
    Interlock(
        "thruster_fault",
        T,
        "rov: the vehicle reports a thruster fault (each poll)",
        "thrust zero first, then halt the winch; FAULT",
        "`reset` when the vehicle clears it",
        ErrorCode.HARDWARE,
    ),
    Interlock(
        "watchdog",
        T,
        "rov: the vehicle's heartbeat watchdog expired (it zeroed its thrust itself)",
        "halt the winch; FAULT",
        "`reset`",
        ErrorCode.HARDWARE,
    ),
    Interlock(
        "leak",
        T,
        "rov: the vehicle reports water inside (each poll)",
        "thrust zero, halt; FAULT",
        "recover the vehicle (`reset`, `retract`); inspect",
        ErrorCode.HARDWARE,
    ),
    Interlock(
        "no_fix",
        T,
        "rov: navigating without an ultrasonic fix (each poll)",
        "thrust zero, halt; FAULT",
        "`reset` once the USS answers; `retract`",
        ErrorCode.HARDWARE,
    ),
    Interlock(
        "geofence",
        T,
        "rov: the vehicle estimate beyond max_radius_m (0.5 m inside the acrylic)",
        "thrust zero, halt; FAULT",
        "`reset`; move it back inside",
    ),
    Interlock(
        "uss_mismatch",
        W,
        "cls: the ultrasonic fix and the cable model differ by more than uss_tolerance_m",
        "reported in status, on the board and as an event; nothing stops",
        "ends by itself",
    ),
    Interlock(
        "uss_lost",
        W,
        "cls: the ultrasonic receiver does not answer",
        "reported; the cable model alone positions the source",
        "ends by itself",
    ),
    *LASER_INTERLOCKS,
)
