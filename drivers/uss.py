"""Ultrasonic positioning receiver on a serial line (docs/hardware.md §4).

Request ``$NNP\\r``; answer ``$NN,<x>,<y>,<z>,<q>*CS\\r\\n`` with x, y, z in metres in the
detector frame (``%+09.4f``), q ``F`` (fix) or ``N`` (no fix), CS the XOR of every byte
strictly between ``$`` and ``*`` as two upper-case hex digits: the framing of the other ASCII
devices (`drivers.ascii_frame`: checksum, address range, answer checks), without a status.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from drivers.ascii_frame import check_address, check_frame
from drivers.ascii_frame import checksum as checksum  # part of this codec's API (golden frames)
from drivers.bus import LineBus
from drivers.errors import attributed_to

_FRAME = re.compile(
    rb"\$(\d\d),([+-]\d{3}\.\d{4}),([+-]\d{3}\.\d{4}),([+-]\d{3}\.\d{4}),([FN])\*([0-9A-F]{2})\r\n"
)
_TERMINATOR = b"\n"


@dataclass(frozen=True)
class UssFix:
    """One position fix; `ok` is False when the system has no fix (coordinates meaningless)."""

    x_m: float
    y_m: float
    z_m: float
    ok: bool


def encode_request(address: int) -> bytes:
    """``$NNP\\r``."""
    check_address(address, "USS")
    return f"${address:02d}P\r".encode("ascii")


def decode_fix(line: bytes, address: int, *, device: str) -> UssFix:
    """Decode one answer; ProtocolError on framing, checksum or address mismatch."""
    _addr, x, y, z, quality, _check = check_frame(_FRAME, line, address, device=device).groups()
    return UssFix(float(x), float(y), float(z), quality == b"F")


class UssReceiver:
    """One tracked target (beacon) of the ultrasonic system."""

    def __init__(self, bus: LineBus, address: int, *, name: str) -> None:
        encode_request(address)  # validates the address
        self.name = name
        self._bus = bus
        self._address = address

    async def read(self) -> UssFix:
        """The latest fix of this target."""
        with attributed_to(self.name):
            line = await self._bus.transact(encode_request(self._address), terminator=_TERMINATOR)
        return decode_fix(line, self._address, device=self.name)
