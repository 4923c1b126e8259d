"""The rack on real transports: Modbus TCP on loopback, ASCII on a pty symlink."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import serial_asyncio_fast
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException

from simulators.config import SimConfig, TcpEndpoint, parse_endpoint
from simulators.load_cell import checksum
from simulators.modbus_front import int32_from, int32_words
from simulators.rack import Rack
from simulators.stepper_map import HOMED, IN_POSITION, MOVING

DEADLINE_S = 3.0


def port_of(endpoint: str) -> int:
    ep = parse_endpoint(endpoint)
    assert isinstance(ep, TcpEndpoint)
    return ep.port


@pytest.fixture
async def rack(sim_config: SimConfig) -> AsyncIterator[Rack]:
    async with Rack(sim_config, mqtt=False) as running:
        yield running


@pytest.fixture
async def acu_client(sim_config: SimConfig, rack: Rack) -> AsyncIterator[AsyncModbusTcpClient]:
    assert sim_config.acu is not None
    client = AsyncModbusTcpClient(
        "127.0.0.1", port=port_of(sim_config.acu.turntable.endpoint), timeout=0.3, retries=0
    )
    assert await client.connect()
    yield client
    client.close()


async def status(client: AsyncModbusTcpClient, device_id: int) -> dict[str, int]:
    rr = await client.read_input_registers(0, count=9, device_id=device_id)
    assert not rr.isError()
    r = rr.registers
    return {"status": r[0], "alarm": r[1], "cmd": int32_from(r[2:4]), "enc": int32_from(r[4:6])}


async def wait_status(client: AsyncModbusTcpClient, device_id: int, bits: int) -> dict[str, int]:
    async with asyncio.timeout(DEADLINE_S):
        while True:
            st = await status(client, device_id)
            if st["status"] & (bits | MOVING) == bits:
                return st
            await asyncio.sleep(0.01)


class LoadCellLine:
    """Raw serial I/O on the pty symlink."""

    def __init__(self, reader: Any, writer: Any) -> None:
        self.reader, self.writer = reader, writer

    async def ask(self, request: bytes, timeout_s: float = 1.0) -> bytes:
        self.writer.write(request)
        async with asyncio.timeout(timeout_s):
            line: bytes = await self.reader.readline()
            return line

    async def force_n(self, address: int) -> tuple[str, float]:
        line = (await self.ask(b"@%02dW\r" % address)).decode()
        assert line.endswith("\r\n")
        inner, cs = line[1:-2].split("*")
        assert cs == checksum(inner)
        _, status, value, unit = inner.split(" ")
        assert unit == "N"
        return status, float(value)


@pytest.fixture
async def load_cells(sim_config: SimConfig, rack: Rack) -> AsyncIterator[LoadCellLine]:
    assert sim_config.acu is not None
    path = sim_config.acu.units[0].load_cell.endpoint.removeprefix("serial://").split("?")[0]
    assert Path(path).is_symlink()
    async with asyncio.timeout(DEADLINE_S):
        reader, writer = await serial_asyncio_fast.open_serial_connection(url=path, baudrate=9600)
    yield LoadCellLine(reader, writer)
    writer.close()


async def home_and_move(client: AsyncModbusTcpClient, device_id: int, target: int) -> None:
    await client.write_registers(2, [0, 300, 0, 3000, 4], device_id=device_id)  # HOME
    st = await wait_status(client, device_id, HOMED | IN_POSITION)
    assert (st["cmd"], st["enc"]) == (0, 0)
    await client.write_registers(0, [*int32_words(target), 0, 600, 0, 600, 1], device_id=device_id)
    assert (await status(client, device_id))["status"] & MOVING


async def test_home_move_read_load_cell(
    rack: Rack, acu_client: AsyncModbusTcpClient, load_cells: LoadCellLine
) -> None:
    status_0, force_0 = await load_cells.force_n(1)
    assert status_0 == "ST"
    assert force_0 == pytest.approx(1.96, abs=0.02)
    await home_and_move(acu_client, 2, 6000)
    st = await wait_status(acu_client, 2, HOMED | IN_POSITION)
    assert st["enc"] == st["cmd"] == 6000
    truth: Any = rack.truth("acu")
    unit_a = truth["units"]["A"]
    assert truth["position"]["unit"] == "A"
    assert unit_a["paid_out_m"] == pytest.approx(6000 / 4096 * 2 * 3.14159265 * 0.0535, rel=1e-6)
    assert truth["position"]["z_m"] == pytest.approx(23.0 - unit_a["paid_out_m"], abs=1e-4)
    assert not unit_a["parked"]
    assert truth["units"]["B"]["parked"] is False  # power-on: a few mm below park
    _, force_n = await load_cells.force_n(1)
    assert force_n == pytest.approx(unit_a["tension_n"], abs=0.02)
    assert (await load_cells.ask(b"@02I\r")).startswith(b"@02 ID LC-200N 200.0*")


async def test_snag_then_halt_records_reaction(
    rack: Rack, acu_client: AsyncModbusTcpClient, load_cells: LoadCellLine
) -> None:
    await home_and_move(acu_client, 2, 6000)
    await wait_status(acu_client, 2, HOMED | IN_POSITION)
    _, nominal_n = await load_cells.force_n(1)
    rack.inject("acu", "snag", "A")
    _, snag_n = await load_cells.force_n(1)
    assert snag_n >= max(3.5 * nominal_n, 10.0)
    await acu_client.write_registers(0, [0, 0, 0, 600, 0, 600, 1], device_id=2)  # wind in
    await asyncio.sleep(0.05)
    status_1, rising_n = await load_cells.force_n(1)
    assert status_1 == "US"
    assert rising_n > snag_n + 1.0
    await acu_client.write_register(6, 3, device_id=2)  # HALT
    stops = [e for e in rack.events if e["event"] == "stopped"]
    assert len(stops) == 1
    stop = stops[0]
    assert (stop["system"], stop["axis"], stop["fault"], stop["command"]) == (
        "acu",
        "A",
        "snag",
        "HALT",
    )
    assert isinstance(stop["reaction_ms"], float)
    assert stop["reaction_ms"] >= 0  # present and a duration; its size is the benchmark's job
    await acu_client.write_register(6, 2, device_id=2)  # a second stop is not reported again
    assert len([e for e in rack.events if e["event"] == "stopped"]) == 1
    rack.inject("acu", "clear")
    assert rack.events[-1]["event"] == "fault_cleared"


async def test_comm_loss_silences_drive_and_load_cell(
    rack: Rack, acu_client: AsyncModbusTcpClient, load_cells: LoadCellLine
) -> None:
    rack.inject("acu", "comm_loss", "B")
    with pytest.raises(ModbusIOException):
        await acu_client.read_input_registers(0, count=9, device_id=3)
    with pytest.raises(TimeoutError):
        await load_cells.ask(b"@02W\r", timeout_s=0.2)
    assert (await load_cells.force_n(1))[0] == "ST"
    with pytest.raises(ModbusIOException):
        await acu_client.write_register(6, 3, device_id=3)  # never received: no event
    rack.inject("acu", "clear", "B")
    assert (await status(acu_client, 3))["alarm"] == 0
    assert (await load_cells.force_n(2))[0] == "ST"
    assert not [e for e in rack.events if e["event"] == "stopped"]


async def test_unknown_device_id_gets_no_answer(acu_client: AsyncModbusTcpClient) -> None:
    with pytest.raises(ModbusIOException):
        await acu_client.read_input_registers(0, count=9, device_id=42)


def test_unknown_fault_or_axis_raises(sim_config: SimConfig) -> None:
    rack = Rack(sim_config, mqtt=False)
    for args in (("acu", "melt", "A"), ("acu", "snag", "Z"), ("acu", "snag", None), ("x", "snag")):
        with pytest.raises(ValueError, match=r"unknown|needs an axis"):
            rack.inject(*args)
    rack._on_fault_message("acu", {"fault": "melt", "axis": "A"}, False)
    assert rack.events[-1]["event"] == "error"
    rack._on_fault_message("acu", None, False)
    rack._on_fault_message("acu", {"fault": "snag", "axis": "A"}, True)
    assert [e["event"] for e in rack.events] == ["error"] * 3
