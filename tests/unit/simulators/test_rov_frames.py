"""The simulated ROV vehicle controller answers the golden frames of docs/hardware.md §6 (read
from the document by `golden_doc`)."""

from __future__ import annotations

import pytest
from pymodbus.server import ModbusTcpServer

from simulators.clock import ManualClock
from simulators.rov_vehicle import FAULT_NONE, FAULT_THRUSTER, VehicleController, vehicle_device

from ..golden_doc import transaction
from .conftest import free_port
from .test_modbus_frames import exchange, golden, hexbytes


def controller() -> VehicleController:
    return VehicleController(
        thrust_max_n=20.0, speed_max_m_s=0.5, kp_n_s_m=72.0, ki_n_m=72.0, t_s=0.0
    )


async def test_vehicle_frames() -> None:
    ctl = controller()
    clock = ManualClock()
    ctl.holding[3:5] = [1, 7]  # VELOCITY, heartbeat 7
    ctl.thrust_n = [8.5, -3.12, 1.01]

    def registers(t_s: float) -> list[int]:
        return ctl.input_registers(3.0, True, (0.12, -0.045, 0.0))

    port = free_port()
    dev = vehicle_device(
        2, registers, ctl.write_holding, lambda: list(ctl.holding), clock, lambda: False
    )
    server = ModbusTcpServer([dev], address=("127.0.0.1", port))
    await server.serve_forever(background=True)
    try:
        await golden(port, transaction(6, 1))  # status
        setpoint = transaction(6, 2)
        await golden(port, setpoint)
        assert ctl.holding[:5] == setpoint.written_registers()
        assert ctl.enabled and ctl.setpoint_m_s() == pytest.approx((0.15, -0.2, 0.0))
        await golden(port, transaction(6, 3))  # WATCHDOG_MS
        assert ctl.watchdog_s == pytest.approx(10.0)
        ctl.set_fault(True)
        ctl.set_fault(False)
        assert ctl.fault_code == FAULT_THRUSTER and not ctl.enabled
        await golden(port, transaction(6, 4))  # FAULT_RESET
        assert ctl.fault_code == FAULT_NONE and ctl.enabled
        # outside the map: ILLEGAL_ADDRESS (exception 02)
        got = await exchange(port, "00 05 00 00 00 06 02 04 00 00 00 0B", 9)
        assert got == hexbytes("00 05 00 00 00 03 02 84 02")
    finally:
        await server.shutdown()  # type: ignore[no-untyped-call]


def test_watchdog_zeroes_thrust_and_latches() -> None:
    ctl = controller()
    ctl.write_holding(0, [100, 0, 0, 1, 1], 0.0)
    ctl.write_holding(5, [2000], 0.0)
    assert ctl.update((0.0, 0.0, 0.0), 0.01)[0] > 0
    ctl.write_holding(4, [2], 1.5)  # heartbeat in time
    ctl.check_watchdog(3.0)
    assert ctl.enabled
    ctl.write_holding(0, [100, 0, 0, 1, 2], 3.6)  # same heartbeat: does not feed the watchdog
    ctl.check_watchdog(3.6)
    assert not ctl.enabled and ctl.watchdog_tripped
    assert ctl.update((0.0, 0.0, 0.0), 0.01) == (0.0, 0.0, 0.0)
    ctl.write_holding(0, [100, 0, 0, 1, 3], 4.0)
    assert not ctl.enabled  # latched until FAULT_RESET
    ctl.write_holding(6, [1], 4.0)
    ctl.write_holding(3, [1], 4.0)
    assert ctl.enabled


def test_thrust_limited_and_saturation_reported() -> None:
    ctl = controller()
    ctl.write_holding(0, [500, 0, 0, 1, 1], 0.0)
    fx, _, _ = ctl.update((-1.0, 0.0, 0.0), 0.01)
    assert fx == 20.0 and ctl.saturated
    assert ctl.input_registers(0.0, True, (0.0, 0.0, 0.0))[0] & 0b10
