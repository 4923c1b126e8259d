"""The Modbus requests a device can make of its bus (FC01..FC06, FC16): bounds checks on the
request, the call, and the decoding and checks of the answer.

``ModbusRequests`` is a mixin over one abstract ``_call`` (``ModbusBus`` implements it with the
lock, deadlines, retries and reconnects); this module needs pymodbus only for its types.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from drivers.errors import ProtocolError

if TYPE_CHECKING:
    from pymodbus.client import AsyncModbusTcpClient
    from pymodbus.pdu import ModbusPDU

Request = Callable[["AsyncModbusTcpClient"], Awaitable["ModbusPDU"]]

_MAX_REGISTERS = 123  # FC16 limit (FC03/04 allow 125; keep one bound)
_MAX_BITS = 2000


class ModbusRequests(ABC):
    """The function-code API of a Modbus bus, over ``_call``."""

    @property
    @abstractmethod
    def name(self) -> str:
        """The bus name (errors raised here carry it as ``device``)."""

    @abstractmethod
    async def _call(
        self, device_id: int, function_code: int, what: str, request: Request
    ) -> ModbusPDU:
        """Send ``request`` to ``device_id``: its answer with ``function_code``, or
        CommError / ProtocolError."""

    async def read_input_registers(self, device_id: int, address: int, count: int) -> list[int]:
        """FC04: read ``count`` input registers."""
        _check_range(device_id, address, count, _MAX_REGISTERS)
        pdu = await self._call(
            device_id,
            0x04,
            f"FC04 {address}+{count}",
            lambda c: c.read_input_registers(address, count=count, device_id=device_id),
        )
        return self._registers(pdu, count, device_id)

    async def read_holding_registers(self, device_id: int, address: int, count: int) -> list[int]:
        """FC03: read ``count`` holding registers."""
        _check_range(device_id, address, count, _MAX_REGISTERS)
        pdu = await self._call(
            device_id,
            0x03,
            f"FC03 {address}+{count}",
            lambda c: c.read_holding_registers(address, count=count, device_id=device_id),
        )
        return self._registers(pdu, count, device_id)

    async def write_register(self, device_id: int, address: int, value: int) -> None:
        """FC06: write one holding register."""
        _check_range(device_id, address, 1, 1)
        _check_words([value])
        await self._call(
            device_id,
            0x06,
            f"FC06 {address}",
            lambda c: c.write_register(address, value, device_id=device_id),
        )

    async def write_registers(self, device_id: int, address: int, values: Sequence[int]) -> None:
        """FC16: write consecutive holding registers in one frame."""
        words = list(values)
        _check_range(device_id, address, len(words), _MAX_REGISTERS)
        _check_words(words)
        await self._call(
            device_id,
            0x10,
            f"FC16 {address}+{len(words)}",
            lambda c: c.write_registers(address, words, device_id=device_id),
        )

    async def read_discrete_inputs(self, device_id: int, address: int, count: int) -> list[bool]:
        """FC02: read ``count`` discrete inputs."""
        _check_range(device_id, address, count, _MAX_BITS)
        pdu = await self._call(
            device_id,
            0x02,
            f"FC02 {address}+{count}",
            lambda c: c.read_discrete_inputs(address, count=count, device_id=device_id),
        )
        return self._bits(pdu, count, device_id)

    async def read_coils(self, device_id: int, address: int, count: int) -> list[bool]:
        """FC01: read ``count`` coils."""
        _check_range(device_id, address, count, _MAX_BITS)
        pdu = await self._call(
            device_id,
            0x01,
            f"FC01 {address}+{count}",
            lambda c: c.read_coils(address, count=count, device_id=device_id),
        )
        return self._bits(pdu, count, device_id)

    async def write_coil(self, device_id: int, address: int, value: bool) -> None:
        """FC05: write one coil."""
        _check_range(device_id, address, 1, 1)
        await self._call(
            device_id,
            0x05,
            f"FC05 {address}",
            lambda c: c.write_coil(address, value, device_id=device_id),
        )

    def _registers(self, pdu: ModbusPDU, count: int, device_id: int) -> list[int]:
        regs = list(pdu.registers)
        if len(regs) != count:
            raise ProtocolError(
                f"device {device_id}: asked for {count} registers, got {len(regs)}",
                device=self.name,
            )
        return regs

    def _bits(self, pdu: ModbusPDU, count: int, device_id: int) -> list[bool]:
        bits = [bool(b) for b in pdu.bits]
        if len(bits) < count:
            raise ProtocolError(
                f"device {device_id}: asked for {count} bits, got {len(bits)}", device=self.name
            )
        return bits[:count]  # pymodbus pads to whole bytes


def _check_range(device_id: int, address: int, count: int, max_count: int) -> None:
    if not 1 <= device_id <= 247:
        raise ValueError(f"Modbus device id must be 1..247, not {device_id}")
    if not 0 <= address <= 0xFFFF or not 1 <= count <= max_count or address + count > 0x10000:
        raise ValueError(f"bad Modbus range: address {address}, count {count}")


def _check_words(values: Sequence[int]) -> None:
    for value in values:
        if not 0 <= value <= 0xFFFF:
            raise ValueError(f"register value {value} is not a uint16")
