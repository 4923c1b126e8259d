"""The pulsed UV laser controller on its serial line (docs/hardware.md §8), in engineering units.

Request ``#AA<command>\\r``; answer ``#AA SS BODY*XX\\r\\n`` where XX is the XOR of every byte
strictly between ``#`` and ``*``. Every answer's address and checksum are checked; a ``NO``
answer (the controller refused: a latched fault, a value out of its range) raises
`LaserRefused`. Deadlines, retries and reopening are the serial line's (`SerialLine`).

Intensity is the attenuator's relative transmission T in [1e-4, 1]: the controller takes its
optical density OD = -log10(T) in thousandths (``A0000`` .. ``A4000``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Protocol

from drivers.ascii_frame import check_address, parse_answer
from drivers.ascii_frame import checksum as checksum  # part of this codec's API (golden frames)
from drivers.bus import LineBus
from drivers.errors import ProtocolError, attributed_to

_FRAME = re.compile(rb"#(\d\d) ([A-Z?]{2}) ([^*\r\n]*)\*([0-9A-F]{2})\r\n")
_STATUS = re.compile(r"E([01]) H([01]) R(\d{5}\.\d) A(\d{4}) T([+-]\d{3}\.\d{2}) F([0-9A-F]{2})")
_TERMINATOR = b"\n"
OD_MAX_MILLI = 4000
TRANSMISSION_MIN = 10.0 ** (-OD_MAX_MILLI / 1000.0)
RATE_MIN_HZ, RATE_MAX_HZ = 0.1, 10_000.0
#: fault flag bits (the status's F field) and their names
FAULT_BITS = {0x01: "overtemp", 0x02: "interlock", 0x04: "driver"}


class LaserRefused(ProtocolError):
    """The controller answered ``NO`` (``reason``: ``FLT`` a latched fault, ``RNG`` range)."""

    def __init__(self, message: str, *, device: str, reason: str) -> None:
        super().__init__(message, device=device)
        self.reason = reason


@dataclass(frozen=True)
class LaserStatus:
    """One status answer."""

    enabled: bool  # the pulses fire
    shutter_open: bool
    rate_hz: float
    od_milli: int  # attenuator setting: optical density in thousandths
    head_temp_c: float
    flags: int  # fault flags (FAULT_BITS)

    @property
    def emitting(self) -> bool:
        """Light leaves the head: firing with the shutter open."""
        return self.enabled and self.shutter_open

    @property
    def intensity(self) -> float:
        """The attenuator's relative transmission, 10**(-OD)."""
        return transmission(self.od_milli)

    @property
    def faults(self) -> tuple[str, ...]:
        """Names of the flags set (an unknown bit as ``bitN``)."""
        names = [FAULT_BITS.get(1 << n, f"bit{n}") for n in range(8) if self.flags >> n & 1]
        return tuple(names)


def od_milli(intensity: float) -> int:
    """Relative transmission -> the attenuator field (OD in thousandths), ValueError outside
    [1e-4, 1] (with a rounding margin)."""
    if not math.isfinite(intensity) or not TRANSMISSION_MIN * 0.999 <= intensity <= 1.0:
        raise ValueError(f"intensity {intensity!r} outside [1e-4, 1]")
    return min(OD_MAX_MILLI, max(0, round(-math.log10(intensity) * 1000.0)))


def transmission(od: int) -> float:
    """The attenuator field -> relative transmission."""
    return float(10.0 ** (-od / 1000.0))


def encode_request(address: int, command: str) -> bytes:
    """``#`` + two-digit address + command + CR, e.g. ``b"#01Q\\r"``."""
    _check_address(address)
    if not command or not command.isascii() or not command.isprintable() or "#" in command:
        raise ValueError(f"bad command {command!r}")
    return f"#{address:02d}{command}\r".encode("ascii")


def encode_rate(rate_hz: float) -> str:
    """``R`` + ``%07.1f``; ValueError outside the controller's 0.1..10000 Hz."""
    if not math.isfinite(rate_hz) or not RATE_MIN_HZ <= round(rate_hz, 1) <= RATE_MAX_HZ:
        raise ValueError(f"rate {rate_hz!r} Hz outside [{RATE_MIN_HZ}, {RATE_MAX_HZ}]")
    return f"R{rate_hz:07.1f}"


def encode_attenuator(intensity: float) -> str:
    """``A`` + OD in thousandths (4 digits)."""
    return f"A{od_milli(intensity):04d}"


def decode_status(line: bytes, address: int, *, device: str) -> LaserStatus:
    """The answer to ``Q``; ProtocolError on anything else."""
    status, body = _parse_frame(line, address, device)
    match = _STATUS.fullmatch(body) if status == "ST" else None
    if match is None:
        raise ProtocolError(f"expected a status answer, got {status} {body!r}", device=device)
    e, h, rate, od, temp, flags = match.groups()
    return LaserStatus(e == "1", h == "1", float(rate), int(od), float(temp), int(flags, 16))


def decode_ok(line: bytes, address: int, *, device: str) -> None:
    """The answer to a setting or switch: ``OK``; LaserRefused for ``NO``."""
    status, body = _parse_frame(line, address, device)
    if status == "NO":
        raise LaserRefused(f"refused: {body or '?'}", device=device, reason=body)
    if status != "OK":
        raise ProtocolError(f"expected OK, got {status} {body!r}", device=device)


def decode_identity(line: bytes, address: int, *, device: str) -> str:
    """The answer to ``I``: model and maximum rate, e.g. ``"UVL-266 10000.0"``."""
    status, body = _parse_frame(line, address, device)
    if status != "ID" or not body:
        raise ProtocolError(f"expected an ID answer, got {status} {body!r}", device=device)
    return body


def _parse_frame(line: bytes, address: int, device: str) -> tuple[str, str]:
    status, text = parse_answer(_FRAME, line, address, device=device, what="the controller")
    return status, text.strip()


def _check_address(address: int) -> None:
    check_address(address, "laser controller")


class Laser(Protocol):
    """What the daemon needs of a laser controller (`LaserController`, or a test's fake)."""

    name: str

    async def read_status(self) -> LaserStatus:
        """One status poll."""
        ...

    async def set_rate(self, rate_hz: float) -> None:
        """The pulse rate."""
        ...

    async def set_intensity(self, intensity: float) -> None:
        """The attenuator, as a relative transmission in [1e-4, 1]."""
        ...

    async def open_shutter(self) -> None:
        """Open the output shutter (the answer comes once it is open)."""
        ...

    async def enable_emission(self) -> None:
        """Let the pulses fire."""
        ...

    async def all_off(self) -> None:
        """Emission disabled and shutter closed, in one frame."""
        ...

    async def clear_faults(self) -> None:
        """Clear the fault flags whose cause is gone."""
        ...


class LaserController:
    """The controller on its serial line, in engineering units."""

    def __init__(self, line: LineBus, address: int, *, name: str) -> None:
        _check_address(address)
        self.name = name
        self._line = line
        self._address = address

    @property
    def address(self) -> int:
        return self._address

    async def read_status(self) -> LaserStatus:
        line = await self._transact("Q")
        return decode_status(line, self._address, device=self.name)

    async def identify(self) -> str:
        line = await self._transact("I")
        return decode_identity(line, self._address, device=self.name)

    async def set_rate(self, rate_hz: float) -> None:
        await self._command(encode_rate(rate_hz))

    async def set_intensity(self, intensity: float) -> None:
        await self._command(encode_attenuator(intensity))

    async def open_shutter(self) -> None:
        await self._command("H1")

    async def enable_emission(self) -> None:
        await self._command("E1")

    async def all_off(self) -> None:
        await self._command("X")

    async def clear_faults(self) -> None:
        await self._command("C")

    async def _command(self, command: str) -> None:
        line = await self._transact(command)
        decode_ok(line, self._address, device=self.name)

    async def _transact(self, command: str) -> bytes:
        with attributed_to(self.name):
            return await self._line.transact(
                encode_request(self._address, command), terminator=_TERMINATOR
            )
