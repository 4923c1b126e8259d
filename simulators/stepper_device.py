"""The simulated stepper drive's Modbus face: a pymodbus ``SimDevice`` that serves a ``Drive``'s
input and holding registers, or stays silent (comm_loss)."""

from __future__ import annotations

from collections.abc import Callable

from pymodbus.constants import ExcCodes
from pymodbus.simulator import SimDevice

from simulators.clock import Clock
from simulators.modbus_front import (
    FC_READ_HOLDING,
    FC_READ_INPUT,
    HOLDING_FCS,
    drop_request,
    in_range,
    sim_device,
)
from simulators.stepper import Drive
from simulators.stepper_map import HOLDING_COUNT, INPUT_COUNT


def drive_device(
    device_id: int, drive: Drive, clock: Clock, silent: Callable[[], bool]
) -> SimDevice:
    """The drive's Modbus face; ``silent()`` true = the device does not answer at all."""

    async def action(
        fc: int,
        _start: int,
        address: int,
        count: int,
        regs: list[int],
        values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        if silent():
            return drop_request(f"device {device_id} silent (comm_loss)")
        now_s = clock.now_s()
        drive.heard(now_s)
        if fc == FC_READ_INPUT:
            if not in_range(address, count, INPUT_COUNT):
                return ExcCodes.ILLEGAL_ADDRESS
            regs[:INPUT_COUNT] = drive.input_registers(now_s)
            return None
        if fc not in HOLDING_FCS:
            return ExcCodes.ILLEGAL_FUNCTION
        if not in_range(address, len(values) if values else count, HOLDING_COUNT):
            return ExcCodes.ILLEGAL_ADDRESS
        if values is not None and fc != FC_READ_HOLDING:
            drive.write_holding(address, [int(v) for v in values], now_s)
        regs[:HOLDING_COUNT] = drive.holding
        return None

    return sim_device(device_id, action)
