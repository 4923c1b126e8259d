"""The simulated ROV vehicle controller answers the golden frames of docs/systems/rov.md."""

from __future__ import annotations

import pytest
from pymodbus.server import ModbusTcpServer

from simulators.clock import ManualClock
from simulators.rov_vehicle import FAULT_NONE, FAULT_THRUSTER, VehicleController, vehicle_device

from .conftest import free_port
from .test_modbus_frames import exchange, hexbytes


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
        got = await exchange(port, "00 01 00 00 00 06 02 04 00 00 00 0A", 29)
        assert got == hexbytes(
            "00 01 00 00 00 17 02 04 14 00 21 00 00 0B B8 00 78 FF D3 00 00 03 52 FE C8 00 65 00 07"
        )
        setpoint = "00 02 00 00 00 11 02 10 00 00 00 05 0A 00 96 FF 38 00 00 00 01 00 01"
        assert await exchange(port, setpoint, 12) == hexbytes("00 02 00 00 00 06 02 10 00 00 00 05")
        assert ctl.holding[:5] == [150, 0xFF38, 0, 1, 1]
        assert ctl.enabled and ctl.setpoint_m_s() == pytest.approx((0.15, -0.2, 0.0))
        watchdog = "00 03 00 00 00 06 02 06 00 05 27 10"
        assert await exchange(port, watchdog, 12) == hexbytes(watchdog)
        assert ctl.watchdog_s == pytest.approx(10.0)
        ctl.set_fault(True)
        ctl.set_fault(False)
        assert ctl.fault_code == FAULT_THRUSTER and not ctl.enabled
        reset = "00 04 00 00 00 06 02 06 00 06 00 01"
        assert await exchange(port, reset, 12) == hexbytes(reset)
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
