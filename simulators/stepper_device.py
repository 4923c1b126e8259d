"""The simulated stepper drive's Modbus face: a pymodbus ``SimDevice`` that serves a ``Drive``'s
input and holding registers (every request it answers feeds the drive's watchdog), or stays
silent (comm_loss)."""

from __future__ import annotations

from collections.abc import Callable

from pymodbus.simulator import SimDevice

from simulators.clock import Clock
from simulators.modbus_front import register_device
from simulators.stepper import Drive
from simulators.stepper_map import HOLDING_COUNT, INPUT_COUNT


def drive_device(
    device_id: int, drive: Drive, clock: Clock, silent: Callable[[], bool]
) -> SimDevice:
    """The drive's Modbus face; ``silent()`` true = the device does not answer at all."""
    return register_device(
        device_id,
        input_count=INPUT_COUNT,
        holding_count=HOLDING_COUNT,
        read_inputs=drive.input_registers,
        write_holding=drive.write_holding,
        holding=lambda: drive.holding,
        clock=clock.now_s,
        silent=silent,
        heard=drive.heard,
    )
