"""The state directory's session counter (the database is `calibd/store`)."""

from __future__ import annotations

import os
from pathlib import Path


def next_session(state_dir: Path) -> int:
    """Increase and return the session counter kept in `state_dir/session` (atomic replace)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / "session"
    try:
        current = int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        current = 0
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{current + 1}\n")
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    tmp.replace(path)
    return current + 1
