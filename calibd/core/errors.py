"""Stable error codes of the operator contract and the exceptions that carry them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum


class ErrorCode(StrEnum):
    """Error codes of `error.code` in replies (../shared/contract.md); stable strings."""

    BAD_JSON = "bad_json"
    BAD_REQUEST = "bad_request"
    UNKNOWN_ACTION = "unknown_action"
    INVALID_STATE = "invalid_state"
    OUT_OF_RANGE = "out_of_range"
    INTERLOCK = "interlock"
    BUSY = "busy"
    EXPIRED = "expired"
    RETAINED = "retained"
    DUPLICATE = "duplicate"
    UNAUTHORIZED = "unauthorized"
    TIMEOUT = "timeout"
    HARDWARE = "hardware"
    INTERNAL = "internal"


class CommandError(Exception):
    """A command cannot be accepted or did not complete; `code` is the contract's error code."""

    def __init__(self, code: ErrorCode, message: str, *, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        #: every problem found (e.g. of a program), when there are several
        self.problems = problems

    def as_dict(self) -> dict[str, str]:
        return {"code": str(self.code), "message": self.message}


class Trip(Exception):
    """A protection tripped: motion must stop and the subsystem latch a fault.

    `code` names the fault (`snag`, `slack`, `comm_loss`, ...), `error` is the contract error
    code that a command failed by it reports.
    """

    def __init__(
        self, code: str, message: str, *, error: ErrorCode = ErrorCode.HARDWARE, axis: str = ""
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.error = error
        self.axis = axis


def fault_cause(lost: Mapping[str, str], violation: Callable[[], Trip | None]) -> str | None:
    """Why a fault may not be reset yet (None: the cause is gone): the devices still silent
    (label: error), else the protection that still holds, judged by `violation()`."""
    if lost:
        return "; ".join(f"{k}: {v}" for k, v in lost.items())
    trip = violation()
    return None if trip is None else f"{trip.code}: {trip.message}"
