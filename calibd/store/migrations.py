"""The store's schema, as ordered migrations: migration k brings `user_version` k-1 to k.

Never edit a released migration; append a new one. Statements are separated by `;` and
contain none themselves.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: command ids (duplicates are refused across restarts) and the command audit log
    """
    CREATE TABLE command_ids (
        id TEXT PRIMARY KEY,
        system TEXT,
        seen_at TEXT NOT NULL
    );
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        ts TEXT NOT NULL,
        system TEXT,
        id TEXT,
        action TEXT,
        result TEXT NOT NULL,
        operator TEXT,
        error_code TEXT,
        error_message TEXT,
        args_json TEXT
    );
    CREATE INDEX audit_id ON audit (id)
    """,
)
