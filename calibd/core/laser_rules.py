"""The ACU laser's interlock rows (docs/interlocks.md "Laser rows"), as data; part of the
per-system table (`calibd/core/system_rules.py` `SYSTEM_INTERLOCKS`). They are evaluated by
`calibd/subsystems/acu_laser.py` (every poll of the controller and of the ACU) and on the
ACU's trip path (`calibd/subsystems/acu_laser_hooks.py`)."""

from __future__ import annotations

from calibd.core.errors import ErrorCode
from calibd.core.interlock import Interlock, Severity

T, I = Severity.TRIP, Severity.INHIBIT  # noqa: E741 - table shorthand

LASER_INTERLOCKS: tuple[Interlock, ...] = (
    Interlock(
        "laser_emission",
        I,
        "acu: emission only while the ACU is AT_POSITION or STOPPED (also MOVING when "
        "[acu.laser] require_still = false), the laser's unit under the port with its diffuser "
        "at or below z_emit_max_m (beyond the gate valve), the gate valve open (not closing), "
        "nothing moving (require_still), no fault latched",
        "`laser_on`/`laser_scan` are refused; an emission whose condition ceases is switched "
        "off at once (the interval ends `interlock: …`); `move`/`retract`/`home` switch it off "
        "first, the gate valve never closes while it may be on",
        "ends by itself when the condition holds again",
    ),
    Interlock(
        "laser_comm_loss",
        T,
        "acu: the laser controller did not answer (after the line's retries); each poll",
        "emission off is sent first, every drive halts, FAULT (the emission state is unknown "
        "until it answers)",
        "refused while the controller is silent; then `reset`",
        ErrorCode.HARDWARE,
    ),
    Interlock(
        "laser_overtemp",
        T,
        "acu: laser head at or above [acu.laser] head_temp_max_c, or the controller's "
        "over-temperature flag; each poll",
        "emission off first, halt every drive, FAULT",
        "let it cool; `reset` (sends the controller's fault clear) is refused while hot",
        ErrorCode.HARDWARE,
    ),
    Interlock(
        "laser_interlock",
        T,
        "acu: the controller's hardware interlock loop is open (head cover, fibre connector); "
        "it has stopped emission itself",
        "emission off first, halt every drive, FAULT",
        "close the loop; `reset` (refused while open)",
    ),
    Interlock(
        "laser_fault",
        T,
        "acu: the controller reports a driver (pump diode) fault, or emits while the daemon "
        "has not asked for it and does not stop when told",
        "emission off first, halt every drive, FAULT",
        "repair; `reset` (refused while the fault stays)",
        ErrorCode.HARDWARE,
    ),
    Interlock(
        "laser_valve",
        T,
        "acu: the gate valve was about to close while emission could not be confirmed off",
        "the valve is not moved; halt, FAULT",
        "bring the controller back; `reset`; `retract`",
        ErrorCode.HARDWARE,
    ),
)
