"""ASCII load-cell indicator on a multi-drop serial line (docs/hardware.md section 2).

Request ``@AAC\\r``; answer ``@AA SS BODY*XX\\r\\n`` where XX is the XOR of every byte strictly
between ``@`` and ``*``. Every answer's address and checksum are checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from drivers.ascii_frame import check_address, parse_answer
from drivers.ascii_frame import checksum as checksum  # part of this codec's API (golden frames)
from drivers.bus import LineBus
from drivers.errors import ProtocolError, attributed_to

_FRAME = re.compile(rb"@(\d\d) ([A-Z?]{2}) ([^*\r\n]*)\*([0-9A-F]{2})\r\n")
_FORCE = re.compile(r"([+-]\d{4}\.\d{4}) N")
_TERMINATOR = b"\n"


class LoadStatus(StrEnum):
    """Quality of a force reading."""

    STABLE = "stable"
    UNSTABLE = "unstable"
    OVERLOAD = "overload"
    ERROR = "error"


_STATUS_CODES = {
    "ST": LoadStatus.STABLE,
    "US": LoadStatus.UNSTABLE,
    "OL": LoadStatus.OVERLOAD,
    "ER": LoadStatus.ERROR,
}


@dataclass(frozen=True)
class LoadReading:
    """Cable tension at the load cell; for OVERLOAD it is the cell's range, for ERROR 0."""

    tension_n: float
    status: LoadStatus


def encode_request(address: int, command: str) -> bytes:
    """``@`` + two-digit address + command letter + CR, e.g. ``b"@01W\\r"``."""
    _check_address(address)
    if len(command) != 1 or not ("A" <= command <= "Z"):
        raise ValueError(f"command must be one upper-case letter, not {command!r}")
    return f"@{address:02d}{command}\r".encode("ascii")


def decode_reading(line: bytes, address: int, *, device: str | None = None) -> LoadReading:
    """Decode the answer to ``W``; ProtocolError on anything but a valid force answer."""
    device = device or _default_device(address)
    status, body = _parse_frame(line, address, device)
    if status not in _STATUS_CODES:
        raise ProtocolError(f"expected a force answer, got status {status!r}", device=device)
    match = _FORCE.fullmatch(body)
    if match is None:
        raise ProtocolError(f"malformed force {body!r}", device=device)
    return LoadReading(tension_n=float(match.group(1)), status=_STATUS_CODES[status])


def decode_identity(line: bytes, address: int, *, device: str | None = None) -> str:
    """Decode the answer to ``I``: model and range, e.g. ``"LC-200N 200.0"``."""
    device = device or _default_device(address)
    status, body = _parse_frame(line, address, device)
    if status != "ID" or not body:
        raise ProtocolError(f"expected an ID answer, got {status!r} {body!r}", device=device)
    return body


def _parse_frame(line: bytes, address: int, device: str) -> tuple[str, str]:
    return parse_answer(_FRAME, line, address, device=device, what="indicator")


def _check_address(address: int) -> None:
    check_address(address, "indicator")


def _default_device(address: int) -> str:
    return f"load cell @{address:02d}"


class LoadCell:
    """One indicator on a shared serial line."""

    def __init__(self, line: LineBus, address: int, *, name: str) -> None:
        _check_address(address)
        self.name = name
        self._line = line
        self._address = address

    @property
    def address(self) -> int:
        """The indicator's bus address (1..32)."""
        return self._address

    async def read(self) -> LoadReading:
        """Read the force (``W``)."""
        line = await self._transact("W")
        return decode_reading(line, self._address, device=self.name)

    async def identify(self) -> str:
        """Read model and range (``I``)."""
        line = await self._transact("I")
        return decode_identity(line, self._address, device=self.name)

    async def _transact(self, command: str) -> bytes:
        with attributed_to(self.name):
            return await self._line.transact(
                encode_request(self._address, command), terminator=_TERMINATOR
            )
