"""Each system's last persisted snapshot (written by `calibd.core.journal.SystemJournal`),
read once at start for restart recovery."""

from __future__ import annotations

import json
from typing import Any

from calibd.store.db import Store


async def load_snapshots(store: Store) -> dict[str, dict[str, Any]]:
    """system -> its last snapshot document."""
    rows = await store.call(lambda c: c.execute("SELECT system, doc FROM snapshots").fetchall())
    return {system: json.loads(doc) for system, doc in rows}
