"""The framing the ASCII serial devices share (hardware.md §2, §4, §8, §9): a start character, a
two-digit bus address, the device's fields, ``*`` and the XOR of every byte strictly between the
start character and ``*`` as two upper-case hex digits, then CR LF.

Each device module keeps its own frame pattern (its start character, separators and fields) and
its own decoding of them; the checksum, the address range and the checks every answer gets live
here, once. The load cells, the laser and the thermometer answer a status and a body
(`parse_answer`); the USS answers coordinates and a quality without a status (`check_frame`).
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


def check_frame(
    frame: re.Pattern[bytes], line: bytes, address: int, *, device: str
) -> re.Match[bytes]:
    """The match of one answer against ``frame`` (first group: the address, last group: the
    checksum); ProtocolError when it is malformed, its checksum is wrong or it comes from
    another address."""
    match = frame.fullmatch(line)
    if match is None:
        raise ProtocolError(f"malformed answer {line!r}", device=device)
    check = match.group(frame.groups)
    expected = checksum(line[1 : line.index(b"*")])
    if int(check, 16) != expected:
        raise ProtocolError(f"bad checksum in {line!r}: expected {expected:02X}", device=device)
    addr = int(match.group(1))
    if addr != address:
        raise ProtocolError(
            f"answer from address {addr:02d}, expected {address:02d}", device=device
        )
    return match


def parse_answer(
    frame: re.Pattern[bytes], line: bytes, address: int, *, device: str, what: str
) -> tuple[str, str]:
    """(status, body) of one answer matching ``frame`` (groups: address, status, body,
    checksum); ProtocolError when `check_frame` refuses it or the device did not understand
    the command (status ``??``)."""
    _addr, status, body, _check = check_frame(frame, line, address, device=device).groups()
    if status == b"??":
        raise ProtocolError(f"{what} did not understand the command (??)", device=device)
    return status.decode("ascii"), body.decode("ascii", errors="replace")
