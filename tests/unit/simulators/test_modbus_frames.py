"""The Modbus TCP golden frames of docs/hardware.md §1 and §3 (read from the document by
`golden_doc`), byte for byte over a raw socket, answered by the simulator's real devices: the
ACU's stepper drives brought into the state each frame describes, and the rack's IO module."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from pymodbus.server import ModbusTcpServer

from simulators.acu import Acu
from simulators.clock import ManualClock
from simulators.config import SimConfig, TcpEndpoint, parse_endpoint
from simulators.modbus_front import int32_words
from simulators.rack import Rack
from simulators.stepper import Drive
from simulators.stepper_map import COMM_TIMEOUT_REG, HOME, START

from ..golden_doc import ModbusFrame, transaction

SPEED_COUNTS_S, ACCEL_COUNTS_S2 = 390, 650  # the profile of the golden move (§1 transaction 2)


def hexbytes(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


async def exchange(port: int, request: str | bytes, response_len: int) -> bytes:
    data = request if isinstance(request, bytes) else hexbytes(request)
    async with asyncio.timeout(2.0):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(data)
            return await reader.readexactly(response_len)
        finally:
            writer.close()
            await writer.wait_closed()


async def golden(port: int, frame: ModbusFrame) -> None:
    """Send the document's request; the answer is the document's response."""
    assert await exchange(port, frame.request, len(frame.response)) == frame.response


def port_of(endpoint: str) -> int:
    ep = parse_endpoint(endpoint)
    assert isinstance(ep, TcpEndpoint)
    return ep.port


def when(drive: Drive, motor_counts: float, lo_s: float, hi_s: float) -> float:
    """The simulated time in [lo_s, hi_s] at which the motor (moving one way) is at
    ``motor_counts`` (absolute), by bisection on the drive's own profile."""
    sign = 1.0 if drive.motor(lo_s)[0] < motor_counts else -1.0
    assert sign * (drive.motor(hi_s)[0] - motor_counts) >= 0, "not reached in the window"
    for _ in range(100):
        mid_s = (lo_s + hi_s) / 2
        if sign * (drive.motor(mid_s)[0] - motor_counts) < 0:
            lo_s = mid_s
        else:
            hi_s = mid_s
    return hi_s


def move(drive: Drive, target_counts: int, t_s: float) -> None:
    """Target, speed, acceleration and START in one write (as the golden FC16 frame does)."""
    words = [*int32_words(target_counts), 0, SPEED_COUNTS_S, 0, ACCEL_COUNTS_S2, START]
    drive.write_holding(0, words, t_s)


def slip(drive: Drive, from_counts: float, to_counts: float, lo_s: float, hi_s: float) -> None:
    """The encoder stops following while the motor goes from one position to the other (the
    drive's `slip` fault), then follows again that many counts behind."""
    drive.set_slip(True, when(drive, from_counts, lo_s, hi_s))
    drive.set_slip(False, when(drive, to_counts, lo_s, hi_s))


@pytest.fixture
async def acu_bus(sim_config: SimConfig) -> AsyncIterator[tuple[Acu, ManualClock, int]]:
    """The ACU's drives on their Modbus TCP endpoint, on a clock the test moves."""
    assert sim_config.acu is not None
    clock = ManualClock()
    acu = Acu(sim_config.acu, lambda t_s: True, sim_config.sim.seed, 0.0, clock.now_s())
    never: Callable[[], bool] = lambda: False  # noqa: E731
    devices = [device for _, device in acu.modbus_devices(clock, lambda axis: never)]
    port = port_of(sim_config.acu.turntable.endpoint)
    assert {port_of(u.drive.endpoint) for u in sim_config.acu.units} == {port}
    server = ModbusTcpServer(devices, address=("127.0.0.1", port))
    await server.serve_forever(background=True)
    try:
        yield acu, clock, port
    finally:
        await server.shutdown()  # type: ignore[no-untyped-call]


async def test_spool_drive_status_move_and_quick_stop(
    acu_bus: tuple[Acu, ManualClock, int],
) -> None:
    """§1 transactions 2, 1, 3 on unit A's drive (device 2): homed on its parked switch, the
    golden move, a 6-count encoder slip early in it, polled at commanded 123456, halted."""
    acu, clock, port = acu_bus
    drive = acu.units["A"].drive
    drive.write_holding(2, [0, SPEED_COUNTS_S, 0, ACCEL_COUNTS_S2, HOME], 0.0)
    drive.advance(5.0)
    assert drive.homed and not drive.moving(5.0)
    zero = drive.motor(5.0)[0]
    clock.t_s = 5.0
    request = transaction(1, 2)
    await golden(port, request)
    assert drive.holding == request.written_registers()
    # the move takes 316 s to pass 123456 counts, and no poll feeds the watchdog here
    drive.write_holding(COMM_TIMEOUT_REG, [0], 5.0)
    slip(drive, zero + 1000, zero + 1006, 5.0, 1000.0)
    clock.t_s = when(drive, zero + 123456, 5.0, 1000.0)
    await golden(port, transaction(1, 1))
    await golden(port, transaction(1, 3))
    assert not drive.moving(clock.t_s)


async def test_turntable_status(acu_bus: tuple[Acu, ManualClock, int]) -> None:
    """§1 transaction 7 on the turntable (device 1): homed on the edge of its reference switch,
    a 2-count encoder slip on the way out, then turning back through unit A at 390 counts/s,
    polled at commanded -5 (on the reference switch, unit A's index active)."""
    acu, clock, port = acu_bus
    drive = acu.turntable
    move(drive, 200, 0.0)  # clear of the reference switch, whatever the power-on angle
    drive.write_holding(6, [HOME], 5.0)
    drive.advance(10.0)
    assert drive.homed and not drive.moving(10.0)
    zero = drive.motor(10.0)[0]
    move(drive, 300, 10.0)
    slip(drive, zero + 100, zero + 102, 10.0, 20.0)
    move(drive, -1000, 20.0)
    clock.t_s = when(drive, zero - 5, 20.0, 30.0)
    await golden(port, transaction(1, 7))


@pytest.fixture
async def rack(sim_config: SimConfig) -> AsyncIterator[Rack]:
    async with Rack(sim_config, mqtt=False) as running:
        yield running


async def test_io_module_frames(sim_config: SimConfig, rack: Rack) -> None:
    """§3 transactions 5, 6 and 4 on the rack's IO module (valve 0 closed, e-stop healthy)."""
    assert sim_config.house.io is not None
    assert rack.house is not None
    port = port_of(sim_config.house.io.endpoint)
    await golden(port, transaction(3, 5))
    rack.house.o2_ppm, rack.house.radon_mbq_m3, rack.house.temperature_c = 4.2, 8.5, 21.37
    rack.house.noise_scale = 0.0
    await golden(port, transaction(3, 6))
    await golden(port, transaction(3, 4))
    assert rack.truth("house")["valves"] == {"acu": "moving"}
    got = await exchange(port, transaction(3, 5).request, 12)
    assert got == hexbytes("00 05 00 00 00 06 01 02 03 00 00 03")  # between the switches
