"""The source inventory's rules: the state table, a source's record, and why an action is
refused. Pure (no memory, no I/O): `Inventory` (`calibd/store/inventory.py`) holds the records,
writes them and publishes them.

Each source is in one of `STATES`; `ACTIONS` is the whole state table. A source mounted on a
system is `<family>_in_use` (cls1 and cls2 are both family `cls`) and holds that slot (the
system, and the unit for the ACU).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from calibd.cfg_inventory import SOURCE_ID_PATTERN
from calibd.core.errors import CommandError, ErrorCode

#: the state of a source mounted on a system of that family
IN_USE = "{family}_in_use"
STATES = (
    "in_stock",
    "checked_out",
    "acu_in_use",
    "cls_in_use",
    "gt_in_use",
    "rov_in_use",
    "inactive",
)
#: action -> (allowed from-states, to-state); register's from-states are empty: a new id
ACTIONS: dict[str, tuple[frozenset[str], str]] = {
    "register": (frozenset(), "in_stock"),
    "checkout": (frozenset({"in_stock"}), "checked_out"),
    "return": (frozenset({"checked_out"}), "in_stock"),
    "deactivate": (frozenset({"in_stock", "checked_out"}), "inactive"),
    "reactivate": (frozenset({"inactive"}), "in_stock"),
    "mount": (frozenset({"in_stock", "checked_out"}), IN_USE),
    # the source comes off into the glove box, in hand
    "unmount": (frozenset({IN_USE}), "checked_out"),
}
#: families whose systems carry sources on units (a slot there is (system, unit))
UNIT_FAMILIES = frozenset({"acu"})
KIND_MAX_CHARS = 64

Slot = tuple[str, str | None]


@dataclass(frozen=True)
class SourceRecord:
    id: str
    kind: str
    activity_bq: float | None
    radioactive: bool
    state: str
    system: str | None
    unit: str | None
    updated: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def where(system: str, unit: str | None) -> str:
    return system if unit is None else f"{system} unit {unit}"


def known_ids(records: Mapping[str, SourceRecord]) -> str:
    return ", ".join(sorted(records)) or "none registered"


def known(records: Mapping[str, SourceRecord], action: str, source: str | None) -> SourceRecord:
    """The registered source an action names."""
    if source is None:
        raise CommandError(ErrorCode.BAD_REQUEST, f"{action} needs a source id")
    record = records.get(source)
    if record is None:
        raise CommandError(
            ErrorCode.OUT_OF_RANGE,
            f"unknown source {source!r}; known: {known_ids(records)}",
        )
    return record


def new_record(
    records: Mapping[str, SourceRecord],
    source: str | None,
    kind: str | None,
    activity_bq: float | None,
    radioactive: bool,
    ts: str,
) -> SourceRecord:
    """The record `register` creates (in stock)."""
    if source is None:
        raise CommandError(ErrorCode.BAD_REQUEST, "register needs a new source id")
    if re.fullmatch(SOURCE_ID_PATTERN, source) is None:
        raise CommandError(
            ErrorCode.OUT_OF_RANGE,
            f"bad source id {source!r}: 1-32 characters of letters, digits, '.', '_', '-'"
            f" (known: {known_ids(records)})",
        )
    old = records.get(source)
    if old is not None:
        raise CommandError(
            ErrorCode.INVALID_STATE,
            f"source {source} is already registered ({old.kind}, {old.state}):"
            " register it under a new id",
        )
    if kind is None or not kind.strip():
        raise CommandError(ErrorCode.BAD_REQUEST, "register needs the source's kind")
    if len(kind) > KIND_MAX_CHARS:
        raise CommandError(
            ErrorCode.OUT_OF_RANGE, f"kind is longer than {KIND_MAX_CHARS} characters"
        )
    if activity_bq is not None and not (math.isfinite(activity_bq) and activity_bq >= 0):
        raise CommandError(ErrorCode.OUT_OF_RANGE, f"activity_bq must be >= 0 (got {activity_bq})")
    return SourceRecord(source, kind, activity_bq, radioactive, "in_stock", None, None, ts)


def check_slot(
    families: Mapping[str, str], action: str, system: str | None, unit: str | None
) -> tuple[str, str]:
    """(system, its family) of a valid slot."""
    if system is None:
        raise CommandError(ErrorCode.BAD_REQUEST, f"{action} needs a system")
    family = families.get(system)
    if family is None:
        raise CommandError(
            ErrorCode.OUT_OF_RANGE,
            f"unknown system {system!r}; one of {', '.join(sorted(families))}",
        )
    if family in UNIT_FAMILIES and unit is None:
        raise CommandError(ErrorCode.BAD_REQUEST, f"{action} on {system} needs a unit")
    if family not in UNIT_FAMILIES and unit is not None:
        raise CommandError(ErrorCode.BAD_REQUEST, f"{system} has no units")
    return system, family


def check_state(action: str, record: SourceRecord, allowed: frozenset[str], target: str) -> None:
    """CommandError(invalid_state) with a hint unless `record` is in an `allowed` state."""
    if record.state in allowed:
        return
    at = "" if record.system is None else f" on {where(record.system, record.unit)}"
    if record.system is not None:
        hint = f"unmount it from {where(record.system, record.unit)} first"
    elif record.state == target:
        hint = "nothing to do"
    elif record.state == "inactive":
        hint = "reactivate it first"
    else:
        hint = f"{action} applies only to a source that is {' or '.join(sorted(allowed))}"
    raise CommandError(
        ErrorCode.INVALID_STATE,
        f"cannot {action} source {record.id}: it is {record.state}{at}; {hint}",
    )
