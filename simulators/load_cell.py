"""ASCII load-cell indicators multi-dropped on one line (docs/hardware.md §2)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass


def checksum(text: str) -> str:
    """XOR of every byte strictly between ``@`` and ``*``, two upper-case hex digits."""
    value = 0
    for byte in text.encode("ascii"):
        value ^= byte
    return f"{value:02X}"


def response_frame(address: int, status: str, body: str) -> bytes:
    """``@AA SS body*CC\\r\\n``."""
    inner = f"{address:02d} {status} {body}"
    return f"@{inner}*{checksum(inner)}\r\n".encode("ascii")


def force_body(force_n: float) -> str:
    """``±NNNN.NNNN N``."""
    return f"{force_n:+010.4f} N"


def parse_request(line: bytes) -> tuple[int, str] | None:
    """``@AA<cmd>`` (CR already stripped) → (address, command); None if not a request."""
    text = line.strip().decode("ascii", errors="replace")
    if len(text) < 3 or text[0] != "@" or not text[1:3].isdigit():
        return None
    return int(text[1:3]), text[3:]


@dataclass(frozen=True)
class Reading:
    """What the indicator measures right now."""

    force_n: float
    unstable: bool = False
    sensor_error: bool = False


class LoadCell:
    """One indicator at one address."""

    def __init__(
        self,
        address: int,
        range_n: float,
        read: Callable[[], Reading],
        silent: Callable[[], bool] = lambda: False,
    ) -> None:
        self.address = address
        self.range_n = range_n
        self.read = read
        self.silent = silent

    def answer(self, command: str) -> bytes | None:
        """The response to ``command`` (None: the indicator stays silent)."""
        if self.silent():
            return None
        if command == "W":
            reading = self.read()
            if reading.sensor_error:
                return response_frame(self.address, "ER", force_body(0.0))
            if reading.force_n > self.range_n:
                return response_frame(self.address, "OL", force_body(self.range_n))
            status = "US" if reading.unstable else "ST"
            return response_frame(self.address, status, force_body(reading.force_n))
        if command == "I":
            body = f"LC-{self.range_n:.0f}N {self.range_n:.1f}"
            return response_frame(self.address, "ID", body)
        return response_frame(self.address, "??", "")


class LoadCellBus:
    """Several indicators on one RS-485 line: routes each request by address."""

    def __init__(self, cells: Iterable[LoadCell]) -> None:
        self.cells = {cell.address: cell for cell in cells}

    def handle(self, line: bytes) -> bytes | None:
        """Answer one CR-terminated request line (None: no answer on the line)."""
        request = parse_request(line)
        if request is None:
            return None
        cell = self.cells.get(request[0])
        return None if cell is None else cell.answer(request[1])
