"""Temperature transmitter (PT100, 4-wire) on a serial line (docs/hardware.md §9).

Request ``%AA<cmd>\\r``; answer ``%AA,SS,BODY*XX\\r\\n`` where XX is the XOR of every byte
strictly between ``%`` and ``*``. Commands: ``T`` (read the temperature, body ``±NNN.NNNN``
in °C), ``I`` (identify). Status ``OK`` (valid reading), ``ER`` (sensor error: open or shorted
element), ``ID`` (identity), ``??`` (unknown command). Every answer's address and checksum are
checked. Also here: the `TemperatureSensor` Protocol the daemon depends on and an in-memory fake.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from drivers.ascii_frame import check_address, parse_answer
from drivers.ascii_frame import checksum as checksum  # part of this codec's API (golden frames)
from drivers.bus import LineBus
from drivers.errors import CommError, ProtocolError, attributed_to

_FRAME = re.compile(rb"%(\d\d),([A-Z?]{2}),([^*\r\n]*)\*([0-9A-F]{2})\r\n")
_TEMPERATURE = re.compile(r"[+-]\d{3}\.\d{4}")
_TERMINATOR = b"\n"
#: the transmitter's resolution (the last digit of the ASCII body), °C
RESOLUTION_C = 1e-4


@dataclass(frozen=True)
class TemperatureReading:
    """One reading; `ok` is False for a sensor error (then `temperature_c` is meaningless)."""

    temperature_c: float
    ok: bool


class TemperatureSensor(Protocol):
    """What the daemon needs of a temperature sensor."""

    name: str

    async def read(self) -> TemperatureReading:
        """One reading (CommError when the sensor does not answer)."""
        ...


def encode_request(address: int, command: str) -> bytes:
    """``%`` + two-digit address + command letter + CR, e.g. ``b"%01T\\r"``."""
    _check_address(address)
    if command not in ("T", "I"):
        raise ValueError(f"command must be T or I, not {command!r}")
    return f"%{address:02d}{command}\r".encode("ascii")


def decode_reading(line: bytes, address: int, *, device: str) -> TemperatureReading:
    """Decode the answer to ``T``; ProtocolError on anything but a temperature answer."""
    status, body = _parse_frame(line, address, device)
    if status not in ("OK", "ER"):
        raise ProtocolError(f"expected a temperature answer, got status {status!r}", device=device)
    if _TEMPERATURE.fullmatch(body) is None:
        raise ProtocolError(f"malformed temperature {body!r}", device=device)
    return TemperatureReading(float(body), status == "OK")


def decode_identity(line: bytes, address: int, *, device: str) -> str:
    """Decode the answer to ``I``: the model, e.g. ``"PT100-4W"``."""
    status, body = _parse_frame(line, address, device)
    if status != "ID" or not body:
        raise ProtocolError(f"expected an ID answer, got {status!r} {body!r}", device=device)
    return body


def _parse_frame(line: bytes, address: int, device: str) -> tuple[str, str]:
    return parse_answer(_FRAME, line, address, device=device, what="the transmitter")


def _check_address(address: int) -> None:
    check_address(address, "transmitter")


class Thermometer:
    """One temperature transmitter on a (possibly shared) serial line."""

    def __init__(self, line: LineBus, address: int, *, name: str) -> None:
        _check_address(address)
        self.name = name
        self._line = line
        self._address = address

    async def read(self) -> TemperatureReading:
        """Read the temperature (``T``)."""
        return decode_reading(await self._transact("T"), self._address, device=self.name)

    async def identify(self) -> str:
        """Read the model (``I``)."""
        return decode_identity(await self._transact("I"), self._address, device=self.name)

    async def _transact(self, command: str) -> bytes:
        with attributed_to(self.name):
            return await self._line.transact(
                encode_request(self._address, command), terminator=_TERMINATOR
            )


class FakeThermometer:
    """In-memory sensor for unit tests: `temperature_fn()` on every read; `lost` raises
    CommError, `error` answers a sensor error."""

    def __init__(self, temperature_fn: Callable[[], float], *, name: str = "thermometer") -> None:
        self.name = name
        self.temperature_fn = temperature_fn
        self.lost = False
        self.error = False
        self.reads = 0

    async def read(self) -> TemperatureReading:
        if self.lost:
            raise CommError("no answer", device=self.name)
        self.reads += 1
        if self.error:
            return TemperatureReading(0.0, False)
        return TemperatureReading(round(self.temperature_fn(), 4), True)
