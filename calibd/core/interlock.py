"""What one interlock is, as data: the rows of the interlock tables (docs/interlocks.md).

Three tables use it: the per-axis protections (`calibd/core/axis_rules.py`), the per-system
rules of a deployment system (`calibd/core/system_rules.py` `SYSTEM_INTERLOCKS`) and the
cross-system rules of the interlock board (`calibd/plant_rules.py`). A row names the interlock,
its severity, the condition in words, what the daemon does, and how it ends; the predicate that
evaluates it lives next to the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from calibd.core.errors import ErrorCode


class Severity(StrEnum):
    """`trip` stops and latches; `inhibit` refuses commands; `warning` only reports."""

    TRIP = "trip"
    INHIBIT = "inhibit"
    WARNING = "warning"


@dataclass(frozen=True)
class Interlock:
    """One row of an interlock table."""

    id: str
    severity: Severity
    condition: str
    action: str
    reset: str
    error: ErrorCode = ErrorCode.INTERLOCK


def entry(
    ident: str, system: str, severity: Severity, message: str, since: str, *, latched: bool
) -> dict[str, object]:
    """One element of `{root}/interlocks` `active` (and of status `interlocks`)."""
    return {
        "id": ident,
        "system": system,
        "severity": str(severity),
        "message": message,
        "since": since,
        "latched": latched,
    }
