"""Configuration of the source inventory (`[inventory]`): the sources known at the first start.

It seeds an empty store only; once the store holds sources it is the authority (see
`calibd.store.inventory.Inventory.load`).
"""

from __future__ import annotations

import re
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from calibd.cfgbase import Strict

#: a source id: 1-32 characters of letters, digits, `.`, `_`, `-`
SOURCE_ID_PATTERN = r"^[A-Za-z0-9._-]{1,32}$"
#: where a source can be mounted: an ACU unit (`acu:A`) or a whole system
MOUNT_PATTERN = re.compile(r"^(?:acu:(?P<unit>[A-Z])|(?P<system>cls1|cls2|gt|rov))$")


def parse_mount(text: str) -> tuple[str, str | None]:
    """`"acu:A"` -> `("acu", "A")`, `"cls1"` -> `("cls1", None)`; ValueError if malformed."""
    match = MOUNT_PATTERN.match(text)
    if match is None:
        raise ValueError(
            f"mounted {text!r}: expected 'acu:<unit>' (unit A-Z; the ACU needs a unit),"
            " 'cls1', 'cls2', 'gt' or 'rov'"
        )
    unit = match.group("unit")
    return ("acu", unit) if unit is not None else (match.group("system"), None)


class SourceCfg(Strict):
    """One source as it is at the first start."""

    id: str = Field(
        pattern=SOURCE_ID_PATTERN,
        description="Unique source id: 1-32 characters of letters, digits, '.', '_', '-'.",
    )
    kind: str = Field(
        min_length=1,
        max_length=64,
        description='What the source is, e.g. "AmC", "Co60", "Ge68", "Cs137", "laser",'
        ' "temperature".',
    )
    activity_bq: float | None = Field(
        None,
        ge=0,
        allow_inf_nan=False,
        description="Activity in Bq (AmC and AmBe: neutron rate in n/s); none if not applicable.",
    )
    radioactive: bool = Field(True, description="Whether the source is radioactive.")
    mounted: str | None = Field(
        None,
        description="Where it is mounted: 'acu:<unit>' (the ACU needs a unit), 'cls1', 'cls2',"
        " 'gt' or 'rov'; none if not mounted.",
    )
    state: Literal["in_stock", "checked_out", "inactive"] = Field(
        "in_stock",
        description="Its state when not mounted (a mounted source is in use on that system).",
    )

    @field_validator("mounted")
    @classmethod
    def _mount_format(cls, value: str | None) -> str | None:
        if value is not None:
            parse_mount(value)
        return value

    @model_validator(mode="after")
    def _state_only_when_not_mounted(self) -> Self:
        if self.mounted is not None and "state" in self.model_fields_set:
            raise ValueError(
                f"source {self.id}: state applies only to a source that is not mounted"
                " (a mounted one is in use on its system)"
            )
        return self

    @property
    def slot(self) -> tuple[str, str | None] | None:
        """(system, unit) where it is mounted, or None."""
        return None if self.mounted is None else parse_mount(self.mounted)


class InventoryCfg(Strict):
    """The sources that seed an empty store."""

    sources: list[SourceCfg] = Field(
        default_factory=list,
        description="The sources at the first start; ids and mount slots are unique.",
    )

    @model_validator(mode="after")
    def _unique(self) -> Self:
        ids = [s.id for s in self.sources]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"source ids must be unique: {', '.join(twice)} more than once")
        mounts = [s.mounted for s in self.sources if s.mounted is not None]
        shared = sorted({m for m in mounts if mounts.count(m) > 1})
        if shared:
            raise ValueError(f"one source per mount slot: {', '.join(shared)} holds several")
        return self
