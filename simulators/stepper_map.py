"""The simulated stepper drive's register map (docs/hardware.md §1): command codes, STATUS
bits, alarm codes and the register counts the Modbus face serves."""

from __future__ import annotations

START, STOP, HALT, HOME, ALARM_RESET = 1, 2, 3, 4, 5
COMMAND_NAMES = {
    START: "START",
    STOP: "STOP",
    HALT: "HALT",
    HOME: "HOME",
    ALARM_RESET: "ALARM_RESET",
}
HOLDING_COUNT = 8
INPUT_COUNT = 9
COMMAND_REG = 6
COMM_TIMEOUT_REG = 7
COMM_TIMEOUT_STEP_S = 0.01  # the register counts 10 ms steps
#: what the drive's communication watchdog reports as its stop (the `stopped` event's command)
WATCHDOG = "WATCHDOG"

MOVING, IN_POSITION, ALARM, HOME_SW = 1 << 0, 1 << 1, 1 << 2, 1 << 3
LIMIT_POS, LIMIT_NEG, HOMED, ENABLED = 1 << 4, 1 << 5, 1 << 6, 1 << 7
COMM_TIMEOUT = 1 << 8

ALARM_OVERLOAD = 3
ALARM_LIMIT = 4
