"""End to end: the drivers put the golden ADUs of docs/hardware.md on the wire, byte for byte.

One bus, one connection: the golden transactions of §1 (stepper drives) and §3 (IO module) are
numbered 1..7 through both sections, so the whole session is checked literally against a raw
TCP server replaying the document's answers (taken from the document by `golden_doc`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from drivers.endpoint import TcpEndpoint
from drivers.io_module import IoModule
from drivers.modbus_bus import ModbusBus
from drivers.stepper import StepperDrive

from ..golden_doc import modbus_frames
from .conftest import RawModbusServer, Responder

#: docs/hardware.md §1 and §3, in transaction order
SESSION = sorted(modbus_frames(1) + modbus_frames(3), key=lambda f: f.transaction)


async def test_golden_session(
    modbus_server: Callable[[Responder], Awaitable[RawModbusServer]],
) -> None:
    server = await modbus_server({f.request: f.response for f in SESSION}.get)
    bus = ModbusBus(TcpEndpoint("127.0.0.1", server.port), name="acu-bus", timeout_s=0.5)
    spool = StepperDrive(bus, 2, name="spool A", counts_per_rev=4096, comm_timeout_s=1.0)
    turntable = StepperDrive(bus, 1, name="turntable", counts_per_rev=4096 * 50.0)
    io = IoModule(bus, 1, name="house io")
    try:
        status = await spool.read_status()  # 1
        await spool.move_to(500000 / 4096, speed_rev_s=390 / 4096, accel_rev_s2=650 / 4096)  # 2
        await spool.halt()  # 3
        await io.set_valve(0, True)  # 4
        snapshot = await io.read()  # 5 (discrete inputs), 6 (analog inputs)
        table = await turntable.read_status()  # 7
    finally:
        await bus.close()

    assert server.requests == [f.request for f in SESSION]
    assert status.moving
    assert status.homed
    assert status.enabled
    assert not status.alarm
    assert status.commanded_rev * 4096 == 123456
    assert status.encoder_rev * 4096 == 123450
    assert status.velocity_rev_s * 4096 == pytest.approx(390)
    assert status.inputs == 0
    assert snapshot.valve_closed[0]
    assert not snapshot.valve_opened[0]
    assert snapshot.estop_ok
    assert snapshot.n2_flow_ok
    assert (snapshot.o2_ppm, snapshot.radon_mbq_m3, snapshot.temperature_c) == (4.2, 8.5, 21.37)
    assert table.home_switch
    assert table.moving
    assert table.input(1)
    assert round(table.commanded_rev * 4096 * 50) == -5
    assert round(table.encoder_rev * 4096 * 50) == -7
    assert round(table.velocity_rev_s * 4096 * 50) == -390
    assert bus.health.consecutive_failures == 0


async def test_home_writes_speed_then_command(
    modbus_server: Callable[[Responder], Awaitable[RawModbusServer]],
) -> None:
    def echo(request: bytes) -> bytes:
        if request[7] == 0x10:  # FC16 answers address + count
            return request[:4] + b"\x00\x06" + request[6:12]
        return request

    server = await modbus_server(echo)
    bus = ModbusBus(TcpEndpoint("127.0.0.1", server.port), name="bus", timeout_s=0.5)
    drive = StepperDrive(bus, 3, name="spool B", counts_per_rev=4096, comm_timeout_s=2.5)
    try:
        await drive.home(speed_rev_s=0.5)
        await drive.stop()
        await drive.reset_alarm()
    finally:
        await bus.close()
    assert [r[6:] for r in server.requests] == [
        bytes.fromhex("03 10 00 02 00 02 04 00 00 08 00"),  # SPEED = 2048 counts/s
        bytes.fromhex("03 10 00 06 00 02 04 00 04 00 FA"),  # HOME, COMM_TIMEOUT = 2.50 s
        bytes.fromhex("03 06 00 06 00 02"),  # COMMAND = STOP
        bytes.fromhex("03 06 00 06 00 05"),  # COMMAND = ALARM_RESET
    ]


async def test_move_rounds_to_whole_counts(
    modbus_server: Callable[[Responder], Awaitable[RawModbusServer]],
) -> None:
    server = await modbus_server(lambda r: r[:4] + b"\x00\x06" + r[6:12])
    bus = ModbusBus(TcpEndpoint("127.0.0.1", server.port), name="bus", timeout_s=0.5)
    drive = StepperDrive(bus, 2, name="spool", counts_per_rev=1000)
    try:
        await drive.move_to(-1.2344, speed_rev_s=0.0996, accel_rev_s2=0.2)
        with pytest.raises(ValueError, match="speed"):
            await drive.move_to(1.0, speed_rev_s=0.0004, accel_rev_s2=0.2)
    finally:
        await bus.close()
    assert len(server.requests) == 1
    body = server.requests[0][13:]
    words = [int.from_bytes(body[i : i + 2], "big") for i in range(0, len(body), 2)]
    assert words == [0xFFFF, 0xFB2E, 0, 100, 0, 200, 1, 0]  # -1234 counts, no watchdog


@pytest.mark.parametrize("timeout_s", [-0.01, 0.004, 655.36, float("nan")])
def test_a_comm_timeout_the_register_cannot_hold_is_refused(timeout_s: float) -> None:
    bus = ModbusBus(TcpEndpoint("127.0.0.1", 1), name="bus")
    with pytest.raises(ValueError, match="comm_timeout_s"):
        StepperDrive(bus, 2, name="spool", counts_per_rev=1000, comm_timeout_s=timeout_s)
