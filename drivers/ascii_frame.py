"""The framing the ASCII serial devices share (hardware.md §2, §8, §9): a start character, a
two-digit bus address, a two-letter status, a body, ``*`` and an XOR checksum in hex.

Each device module keeps its own frame pattern (its start character and separators) and its
own decoding of the body; the checksum, the address range and the checks every answer gets
live here, once.
"""

from __future__ import annotations

import re

from drivers.errors import ProtocolError


def checksum(payload: bytes) -> int:
    """XOR of ``payload`` (the bytes strictly between the start character and ``*``)."""
    value = 0
    for byte in payload:
        value ^= byte
    return value


def check_address(address: int, what: str) -> None:
    """ValueError unless ``address`` is a valid bus address (1..32) for a ``what``."""
    if not 1 <= address <= 32:
        raise ValueError(f"{what} address must be 1..32, not {address}")


def parse_answer(
    frame: re.Pattern[bytes], line: bytes, address: int, *, device: str, what: str
) -> tuple[str, str]:
    """(status, body) of one answer matching ``frame`` (groups: address, status, body,
    checksum); ProtocolError when it is malformed, its checksum is wrong, it comes from another
    address, or the device did not understand the command (status ``??``)."""
    match = frame.fullmatch(line)
    if match is None:
        raise ProtocolError(f"malformed answer {line!r}", device=device)
    addr, status, body, check = match.groups()
    expected = checksum(line[1 : line.index(b"*")])
    if int(check, 16) != expected:
        raise ProtocolError(f"bad checksum in {line!r}: expected {expected:02X}", device=device)
    if int(addr) != address:
        raise ProtocolError(
            f"answer from address {int(addr):02d}, expected {address:02d}", device=device
        )
    if status == b"??":
        raise ProtocolError(f"{what} did not understand the command (??)", device=device)
    return status.decode("ascii"), body.decode("ascii", errors="replace")
