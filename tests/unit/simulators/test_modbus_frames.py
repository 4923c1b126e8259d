"""Modbus TCP golden frames of docs/hardware.md, byte for byte over a raw socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import SimDevice

from simulators.config import SimConfig, TcpEndpoint, parse_endpoint
from simulators.modbus_front import sim_device
from simulators.rack import Rack

from .conftest import free_port


def hexbytes(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


async def exchange(port: int, request: str, response_len: int) -> bytes:
    async with asyncio.timeout(2.0):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(hexbytes(request))
            return await reader.readexactly(response_len)
        finally:
            writer.close()
            await writer.wait_closed()


def literal_device(device_id: int, registers: list[int]) -> SimDevice:
    async def action(
        fc: int,
        _start: int,
        _address: int,
        _count: int,
        regs: list[int],
        _values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        regs[: len(registers)] = registers
        return None

    return sim_device(device_id, action)


async def test_status_frames_from_registers() -> None:
    port = free_port()
    server = ModbusTcpServer(
        [
            literal_device(2, [193, 0, 1, 57920, 1, 57914, 0, 390, 0]),
            literal_device(1, [201, 0, 65535, 65531, 65535, 65529, 65535, 65146, 1]),
        ],
        address=("127.0.0.1", port),
    )
    await server.serve_forever(background=True)
    try:
        response = (
            "00 01 00 00 00 15 02 04 12 00 C1 00 00 00 01 E2 40 00 01 E2 3A 00 00 01 86 00 00"
        )
        got = await exchange(port, "00 01 00 00 00 06 02 04 00 00 00 09", 27)
        assert got == hexbytes(response)
        response = (
            "00 07 00 00 00 15 01 04 12 00 C9 00 00 FF FF FF FB FF FF FF F9 FF FF FE 7A 00 01"
        )
        got = await exchange(port, "00 07 00 00 00 06 01 04 00 00 00 09", 27)
        assert got == hexbytes(response)
    finally:
        await server.shutdown()  # type: ignore[no-untyped-call]


@pytest.fixture
async def rack(sim_config: SimConfig) -> AsyncIterator[Rack]:
    async with Rack(sim_config, mqtt=False) as running:
        yield running


def port_of(endpoint: str) -> int:
    ep = parse_endpoint(endpoint)
    assert isinstance(ep, TcpEndpoint)
    return ep.port


async def test_drive_move_and_quick_stop_frames(sim_config: SimConfig, rack: Rack) -> None:
    assert sim_config.acu is not None
    port = port_of(sim_config.acu.units[0].drive.endpoint)
    move = "00 02 00 00 00 15 02 10 00 00 00 07 0E 00 07 A1 20 00 00 01 86 00 00 02 8A 00 01"
    assert await exchange(port, move, 12) == hexbytes("00 02 00 00 00 06 02 10 00 00 00 07")
    assert rack.acu is not None
    assert rack.acu.units["A"].drive.holding == [7, 41248, 0, 390, 0, 650, 1]
    assert rack.acu.units["A"].drive.moving(rack.clock.now_s())
    halt = "00 03 00 00 00 06 02 06 00 06 00 03"
    assert await exchange(port, halt, 12) == hexbytes(halt)
    assert not rack.acu.units["A"].drive.moving(rack.clock.now_s())


async def test_io_module_frames(sim_config: SimConfig, rack: Rack) -> None:
    assert sim_config.house.io is not None
    assert rack.house is not None
    port = port_of(sim_config.house.io.endpoint)
    got = await exchange(port, "00 05 00 00 00 06 01 02 00 00 00 12", 12)
    assert got == hexbytes("00 05 00 00 00 06 01 02 03 02 00 03")
    rack.house.o2_ppm, rack.house.radon_mbq_m3, rack.house.temperature_c = 4.2, 8.5, 21.37
    rack.house.noise_scale = 0.0
    got = await exchange(port, "00 06 00 00 00 06 01 04 00 00 00 03", 15)
    assert got == hexbytes("00 06 00 00 00 09 01 04 06 00 2A 00 55 08 59")
    open_valve = "00 04 00 00 00 06 01 05 00 00 FF 00"
    assert await exchange(port, open_valve, 12) == hexbytes(open_valve)
    assert rack.truth("house")["valves"] == {"acu": "moving"}
    got = await exchange(port, "00 05 00 00 00 06 01 02 00 00 00 12", 12)
    assert got == hexbytes("00 05 00 00 00 06 01 02 03 00 00 03")  # between the switches
