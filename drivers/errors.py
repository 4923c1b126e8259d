"""Driver exception hierarchy."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class DriverError(Exception):
    """Base of every driver failure; ``device`` names the device or bus that failed."""

    def __init__(self, message: str, *, device: str) -> None:
        super().__init__(f"{device}: {message}")
        self.message = message
        self.device = device


class CommError(DriverError):
    """No answer, or not connected after the retries: the device is lost for now."""


class ProtocolError(DriverError):
    """An answer came but is unusable: malformed, bad checksum, wrong address, or a
    Modbus exception response."""


@contextmanager
def attributed_to(device: str) -> Iterator[None]:
    """Re-raise a bus-level DriverError as the same error class naming ``device``."""
    try:
        yield
    except DriverError as exc:
        if exc.device == device:
            raise
        raise type(exc)(f"{exc.message} (via {exc.device})", device=device) from exc
