"""What a device driver needs from its bus owner, as Protocols.

Device modules depend on these, not on ``modbus_bus``/``serial_line``, so importing a
device's value types never pulls in pymodbus or pyserial.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class RegisterBus(Protocol):
    """The Modbus operations used by devices (implemented by ``ModbusBus``)."""

    @property
    def name(self) -> str:
        """The bus name, used in errors."""
        ...

    async def read_input_registers(self, device_id: int, address: int, count: int) -> list[int]:
        """FC04."""
        ...

    async def read_holding_registers(self, device_id: int, address: int, count: int) -> list[int]:
        """FC03."""
        ...

    async def write_register(self, device_id: int, address: int, value: int) -> None:
        """FC06."""
        ...

    async def write_registers(self, device_id: int, address: int, values: Sequence[int]) -> None:
        """FC16."""
        ...

    async def read_discrete_inputs(self, device_id: int, address: int, count: int) -> list[bool]:
        """FC02."""
        ...

    async def read_coils(self, device_id: int, address: int, count: int) -> list[bool]:
        """FC01."""
        ...

    async def write_coil(self, device_id: int, address: int, value: bool) -> None:
        """FC05."""
        ...


class LineBus(Protocol):
    """A request/answer-line transport (implemented by ``SerialLine``)."""

    @property
    def name(self) -> str:
        """The line name, used in errors."""
        ...

    async def transact(self, request: bytes, *, terminator: bytes = b"\n") -> bytes:
        """Send ``request``, return the first answer line (terminator included)."""
        ...
