"""The source inventory for a plan made outside the daemon (`calibd program plan`).

The store in the state directory is the authority once the daemon has run: it is read
read-only (`mode=ro`, like `calibd log export`: never created, never written, fine while the
daemon runs). Without a store, or with an empty `sources` table (which the daemon would seed),
the inventory is the configuration's seed (`[[inventory.sources]]`), as the daemon's first
start would make it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from calibd.config import Settings
from calibd.program.model import family
from calibd.store.db import FILENAME, has_table, open_read_only
from calibd.store.inventory_rules import IN_USE, SourceRecord

_SELECT = "SELECT id, kind, activity_bq, radioactive, state, system, unit, updated FROM sources"


class SourcesError(Exception):
    """The store exists but its inventory cannot be read (the message names the file)."""


def seeded(settings: Settings) -> list[SourceRecord]:
    """The inventory the configuration seeds an empty store with."""
    out = []
    for cfg in settings.inventory.sources:
        slot = cfg.slot
        if slot is None:
            system, unit, state = None, None, str(cfg.state)
        else:
            system, unit = slot
            state = IN_USE.format(family=family(system))
        out.append(
            SourceRecord(
                cfg.id, cfg.kind, cfg.activity_bq, cfg.radioactive, state, system, unit, ""
            )
        )
    return out


def read_store(db_path: Path) -> list[SourceRecord]:
    """Every source in the store at `db_path`, opened read-only (none: no `sources` table
    yet, the daemon creates and seeds it)."""
    try:
        conn = open_read_only(db_path)
    except sqlite3.Error as exc:
        raise SourcesError(f"{db_path}: cannot open the store read-only: {exc}") from exc
    try:
        rows = (
            conn.execute(_SELECT).fetchall() if has_table(conn, "sources") else []
        )  # older: the daemon seeds it
    except sqlite3.Error as exc:
        raise SourcesError(f"{db_path}: cannot read the source inventory: {exc}") from exc
    finally:
        conn.close()
    return [
        SourceRecord(sid, kind, bq, bool(radioactive), state, system, unit, updated)
        for sid, kind, bq, radioactive, state, system, unit, updated in rows
    ]


def offline_sources(settings: Settings) -> list[SourceRecord]:
    """The inventory: the store in `settings.state.dir` if it holds one, else the seed."""
    db_path = settings.state.dir / FILENAME
    if db_path.is_file():
        records = read_store(db_path)
        if records:
            return records
    return seeded(settings)
