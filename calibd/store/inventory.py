"""The source inventory: which source is mounted where and its state, written as it changes.

`Inventory` holds every source's record (and which slot it holds) in memory, applies the
actions of the state table (`calibd/store/inventory_rules.py`: the states, the record, the
checks), seeds the store from the config once and compares it afterwards. Every change is one
`sources` row and one `source_history` row through the store's `Writer`, one `inventory` event
and a fresh retained `inventory`.

Whether the slot is parked is checked by the caller (the subsystem), not here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import asdict, replace

import structlog

from calibd.cfg_inventory import InventoryCfg, SourceCfg
from calibd.core.errors import CommandError, ErrorCode
from calibd.core.outbox import Outbox, Outgoing
from calibd.core.timefmt import iso_now
from calibd.store.db import StoreError
from calibd.store.inventory_rules import (
    ACTIONS,
    IN_USE,
    Slot,
    SourceRecord,
    check_slot,
    check_state,
    known,
    new_record,
    where,
)
from calibd.store.writer import Writer

log = structlog.get_logger("calibd.store.inventory", subsystem="store")

TOPIC = "inventory"
LOAD_TIMEOUT_S = 5.0

_UPSERT = (
    "INSERT OR REPLACE INTO sources (id, kind, activity_bq, radioactive, state, system, unit,"
    " updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_HISTORY = (
    "INSERT INTO source_history (ts, source, action, from_state, to_state, system, unit,"
    " operator, command_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SELECT = "SELECT id, kind, activity_bq, radioactive, state, system, unit, updated FROM sources"
_COMPARED = ("kind", "activity_bq", "radioactive", "state", "system", "unit")


class Inventory:
    def __init__(self, writer: Writer, outbox: Outbox, families: Mapping[str, str]) -> None:
        self.writer = writer
        self.store = writer.store
        self.outbox = outbox
        self.families = dict(families)
        self._records: dict[str, SourceRecord] = {}
        self._slots: dict[Slot, str] = {}

    # ---- reading -------------------------------------------------------------------------------

    async def load(self, seed: InventoryCfg, *, timeout_s: float = LOAD_TIMEOUT_S) -> None:
        """Read the `sources` table into memory. If the table is empty, seed it from the config
        (history action "seed"). Otherwise the store is the authority: config sources that
        differ from the store are logged as a warning and ignored."""
        try:
            async with asyncio.timeout(timeout_s):
                rows = await self.store.call(lambda c: c.execute(_SELECT).fetchall())
        except TimeoutError:
            raise StoreError(f"{self.store.path}: sources not read within {timeout_s} s") from None
        if rows:
            for sid, kind, bq, radioactive, state, system, unit, updated in rows:
                self._index(
                    SourceRecord(sid, kind, bq, bool(radioactive), state, system, unit, updated)
                )
            self._compare(seed)
        else:
            ts = iso_now()
            for cfg in seed.sources:
                record = self._seeded(cfg, ts)
                self._index(record)
                self._write("seed", None, record, record.system, record.unit, None, None, ts)
        self.publish()

    def mounted(self, system: str, unit: str | None = None) -> SourceRecord | None:
        source = self._slots.get((system, unit))
        return None if source is None else self._records[source]

    def get(self, source_id: str) -> SourceRecord | None:
        return self._records.get(source_id)

    def records(self) -> list[SourceRecord]:
        return [self._records[k] for k in sorted(self._records)]

    def publish(self) -> None:
        """The retained document on `inventory`."""
        doc = {"ts": iso_now(), "sources": [r.as_dict() for r in self.records()]}
        self.outbox.retained(TOPIC, doc)

    # ---- changing ------------------------------------------------------------------------------

    def apply(
        self,
        action: str,
        *,
        source: str | None = None,
        system: str | None = None,
        unit: str | None = None,
        kind: str | None = None,
        activity_bq: float | None = None,
        radioactive: bool = True,
        operator: str | None = None,
        command_id: str | None = None,
    ) -> SourceRecord:
        """Validate, then change memory, write, emit one event and the retained document.
        CommandError (and nothing changes) if the action cannot be applied."""
        rule = ACTIONS.get(action)
        if rule is None:
            raise CommandError(
                ErrorCode.UNKNOWN_ACTION,
                f"unknown inventory action {action!r}; one of {', '.join(ACTIONS)}",
            )
        allowed, target = rule
        ts = iso_now()
        before: SourceRecord | None
        if action == "register":
            before = None
            after = new_record(self._records, source, kind, activity_bq, radioactive, ts)
        elif action == "mount":
            name, family = check_slot(self.families, action, system, unit)
            before = known(self._records, action, source)
            check_state(action, before, allowed, target)
            occupant = self.mounted(name, unit)
            if occupant is not None:
                raise CommandError(
                    ErrorCode.INVALID_STATE,
                    f"{where(name, unit)} already holds source {occupant.id}: unmount it first",
                )
            state = target.format(family=family)
            after = replace(before, state=state, system=name, unit=unit, updated=ts)
        elif action == "unmount":
            name, family = check_slot(self.families, action, system, unit)
            before = self.mounted(name, unit)
            if before is None:
                raise CommandError(
                    ErrorCode.INVALID_STATE,
                    f"nothing is mounted on {where(name, unit)}: nothing to unmount",
                )
            if source is not None and source != before.id:
                raise CommandError(
                    ErrorCode.INVALID_STATE,
                    f"{where(name, unit)} holds source {before.id}, not {source}",
                )
            in_use = {s.format(family=family) for s in allowed}
            check_state(action, before, frozenset(in_use), target)
            after = replace(before, state=target, system=None, unit=None, updated=ts)
        else:
            before = known(self._records, action, source)
            check_state(action, before, allowed, target)
            after = replace(before, state=target, updated=ts)
        slot_system, slot_unit = (system, unit) if action in {"mount", "unmount"} else (None, None)
        if before is not None and before.system is not None:
            self._slots.pop((before.system, before.unit), None)
        self._index(after)
        self._write(action, before, after, slot_system, slot_unit, operator, command_id, ts)
        payload = {
            "event": "inventory",
            "action": action,
            "source": after.id,
            "from": None if before is None else before.state,
            "to": after.state,
            "system": slot_system,
            "unit": slot_unit,
            "operator": operator,
            "id": command_id,
            "ts": ts,
        }
        self.outbox.put(Outgoing("event", slot_system, payload))
        self.publish()
        return after

    # ---- memory and store ----------------------------------------------------------------------

    def _index(self, record: SourceRecord) -> None:
        self._records[record.id] = record
        if record.system is None:
            return
        slot = (record.system, record.unit)
        holder = self._slots.setdefault(slot, record.id)
        if holder != record.id:  # only from a store edited by hand: keep the first, say so
            log.warning("inventory_slot_twice", slot=where(*slot), kept=holder, other=record.id)

    def _write(
        self,
        action: str,
        before: SourceRecord | None,
        after: SourceRecord,
        system: str | None,
        unit: str | None,
        operator: str | None,
        command_id: str | None,
        ts: str,
    ) -> None:
        a = after
        self.writer.put(
            _UPSERT,
            (a.id, a.kind, a.activity_bq, int(a.radioactive), a.state, a.system, a.unit, a.updated),
        )
        before_state = None if before is None else before.state
        self.writer.put(
            _HISTORY,
            (ts, a.id, action, before_state, a.state, system, unit, operator, command_id),
        )

    def _seeded(self, cfg: SourceCfg, ts: str) -> SourceRecord:
        """The record a config source stands for."""
        slot = cfg.slot
        if slot is None:
            system, unit, state = None, None, str(cfg.state)
        else:
            system, unit = slot
            family = self.families.get(system)
            if family is None:  # the lead's config check refuses this; kept rather than lost
                family = system.rstrip("0123456789")
                log.warning("inventory_mount_unconfigured", source=cfg.id, system=system)
            state = IN_USE.format(family=family)
        return SourceRecord(
            cfg.id, cfg.kind, cfg.activity_bq, cfg.radioactive, state, system, unit, ts
        )

    def _compare(self, seed: InventoryCfg) -> None:
        """Warn about each config source that the store (the authority) sees differently."""
        for cfg in seed.sources:
            stored = self._records.get(cfg.id)
            if stored is None:
                log.warning("inventory_config_ignored", source=cfg.id, reason="not in the store")
                continue
            wanted = asdict(self._seeded(cfg, stored.updated))
            have = asdict(stored)
            diff = {
                k: {"config": wanted[k], "store": have[k]}
                for k in _COMPARED
                if wanted[k] != have[k]
            }
            if diff:
                log.warning(
                    "inventory_config_ignored", source=cfg.id, reason="store differs", diff=diff
                )
