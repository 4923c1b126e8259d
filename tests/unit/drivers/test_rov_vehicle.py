"""The ROV vehicle driver puts the golden ADUs of docs/systems/rov.md on the wire, byte for byte,
and decodes the golden status; plus the codecs' edges and the FakeVehicle."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from drivers.endpoint import TcpEndpoint
from drivers.errors import CommError, ProtocolError
from drivers.fake import ManualClock
from drivers.modbus_bus import ModbusBus
from drivers.rov_vehicle import (
    FakeVehicle,
    FaultCode,
    Mode,
    RovVehicle,
    decode_status,
    encode_setpoint,
    watchdog_word,
)

from .conftest import RawModbusServer, Responder

STATUS_REGS = [0x21, 0, 3000, 120, 0xFFD3, 0, 850, 0xFEC8, 101, 7]
GOLDEN = {
    # status poll of device 2, transaction 1
    bytes.fromhex("00 01 00 00 00 06 02 04 00 00 00 0A"): bytes.fromhex(
        "00 01 00 00 00 17 02 04 14 00 21 00 00 0B B8 00 78 FF D3 00 00 03 52 FE C8 00 65 00 07"
    ),
    # setpoint (0.150, -0.200, 0) m/s, VELOCITY, heartbeat 1; transaction 2
    bytes.fromhex(
        "00 02 00 00 00 11 02 10 00 00 00 05 0A 00 96 FF 38 00 00 00 01 00 01"
    ): bytes.fromhex("00 02 00 00 00 06 02 10 00 00 00 05"),
    # WATCHDOG_MS = 10000, transaction 3 (FC06 answer echoes the request)
    bytes.fromhex("00 03 00 00 00 06 02 06 00 05 27 10"): bytes.fromhex(
        "00 03 00 00 00 06 02 06 00 05 27 10"
    ),
    # COMMAND = FAULT_RESET, transaction 4
    bytes.fromhex("00 04 00 00 00 06 02 06 00 06 00 01"): bytes.fromhex(
        "00 04 00 00 00 06 02 06 00 06 00 01"
    ),
}


async def test_golden_session(
    modbus_server: Callable[[Responder], Awaitable[RawModbusServer]],
) -> None:
    server = await modbus_server(GOLDEN.get)
    bus = ModbusBus(TcpEndpoint("127.0.0.1", server.port), name="rov-bus", timeout_s=0.5)
    vehicle = RovVehicle(bus, 2, name="rov-vehicle")
    try:
        status = await vehicle.read_status()
        await vehicle.command((0.15, -0.2, 0.0), thrusters=True)
        await vehicle.set_watchdog(10.0)
        await vehicle.reset_fault()
    finally:
        await bus.close()
    assert server.requests == list(GOLDEN)
    assert status.thrusters_on and status.submerged
    assert not (status.saturated or status.watchdog or status.fault or status.leak)
    assert status.fault_code == 0
    assert status.depth_m == pytest.approx(3.0)
    assert status.velocity_m_s == pytest.approx((0.12, -0.045, 0.0))
    assert status.thrust_n == pytest.approx((8.5, -3.12, 1.01))
    assert status.heartbeat == 7


def test_heartbeat_changes_every_command_and_wraps() -> None:
    regs = [encode_setpoint((0.0, 0.0, 0.0), Mode.OFF, hb)[4] for hb in (1, 2, 65535, 65536)]
    assert regs == [1, 2, 65535, 0]


def test_codec_edges() -> None:
    assert encode_setpoint((0.0004, -0.0006, 32.767), Mode.VELOCITY, 3) == [0, 65535, 32767, 1, 3]
    with pytest.raises(ValueError, match="int16"):
        encode_setpoint((33.0, 0.0, 0.0), Mode.VELOCITY, 1)
    with pytest.raises(ValueError, match="finite"):
        encode_setpoint((float("nan"), 0.0, 0.0), Mode.VELOCITY, 1)
    assert watchdog_word(0.01) == 50 and watchdog_word(1000.0) == 65535
    assert watchdog_word(0.5) == 500
    with pytest.raises(ValueError, match="must be > 0"):
        watchdog_word(0.0)
    with pytest.raises(ProtocolError):
        decode_status(STATUS_REGS[:9])
    bits = decode_status([0b11110, 3, 0, 0, 0, 0, 0, 0, 0, 0])
    assert bits.saturated and bits.watchdog and bits.fault and bits.leak
    assert not bits.thrusters_on and bits.fault_code == FaultCode.WATCHDOG


async def test_fake_vehicle_watchdog_and_fault() -> None:
    clock = ManualClock()
    fake = FakeVehicle(clock=clock)
    await fake.set_watchdog(0.5)
    await fake.command((0.1, 0.0, 0.0), thrusters=True)
    clock.advance(0.2)
    fake.advance(1.0)
    assert fake.position_m == pytest.approx((0.1, 0.0, 0.0))
    clock.advance(0.5)  # no heartbeat for 0.7 s > 0.5 s
    fake.advance(1.0)
    status = await fake.read_status()
    assert status.watchdog and not status.thrusters_on
    assert fake.position_m == pytest.approx((0.1, 0.0, 0.0))
    await fake.reset_fault()
    fake.fault()
    await fake.reset_fault()
    assert (await fake.read_status()).fault  # the cause is still there
    fake.lost = True
    with pytest.raises(CommError):
        await fake.read_status()
