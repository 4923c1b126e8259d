"""The daemon's SQLite database in the state directory: one connection, owned by one worker
thread, so every access is off the event loop and serialized.

WAL journal with `synchronous=FULL`: a committed transaction survives a crash or power loss.
The schema is versioned (`PRAGMA user_version`) and brought up to date by the ordered
`MIGRATIONS` when the store opens; a database from a newer calibd, a file that is not a
database or fails its integrity check, is refused with a `StoreError` naming the file and what
to do: the daemon never starts on a store it cannot trust.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from calibd.store.migrations import MIGRATIONS

T = TypeVar("T")
FILENAME = "calibd.sqlite3"
BUSY_TIMEOUT_S = 5.0


def open_read_only(db_path: Path, busy_timeout_s: float = 5.0) -> sqlite3.Connection:
    """A read-only connection to the store at `db_path` (for offline readers: the log export,
    the program plan), which never creates or migrates anything; raises sqlite3.Error."""
    uri = f"file:{quote(str(db_path.resolve()))}?mode=ro"
    return sqlite3.connect(uri, uri=True, timeout=busy_timeout_s)


def has_table(conn: sqlite3.Connection, name: str) -> bool:
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return found is not None


class StoreError(Exception):
    """The store cannot be opened or used; the message says which file and why."""


def _open(path: Path, migrations: Sequence[str]) -> sqlite3.Connection:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"{path}: cannot open the store: {exc}") from exc
    try:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"{path}: WAL journal refused (got {mode})")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        check = conn.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise StoreError(f"{path}: integrity check failed ({check}); restore a backup")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(migrations):
            raise StoreError(
                f"{path}: schema version {version} is newer than this calibd knows "
                f"({len(migrations)}): upgrade calibd or restore a matching backup"
            )
        for number, script in enumerate(migrations[version:], start=version + 1):
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _statements(script):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={number}")
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                conn.execute("ROLLBACK")
                raise StoreError(
                    f"{path}: migration {number} failed ({exc}); the store is unchanged"
                ) from exc
            except BaseException:
                conn.execute("ROLLBACK")
                raise
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(
            f"{path}: not a usable calibd database ({exc}); move it aside and restore a backup"
        ) from exc
    except BaseException:
        conn.close()
        raise
    return conn


def _statements(script: str) -> list[str]:
    """The statements of a migration script (no semicolons inside statements)."""
    return [s.strip() for s in script.split(";") if s.strip()]


class Store:
    """The database; `await store.call(fn)` runs `fn(connection)` in the store's thread."""

    def __init__(self, path: Path, migrations: Sequence[str] = MIGRATIONS) -> None:
        self.path = path
        self._migrations = migrations
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="calibd-store")
        self._conn: sqlite3.Connection | None = None
        #: the database file did not exist before `open()` created it
        self.created = False

    @classmethod
    def in_dir(cls, state_dir: Path) -> Store:
        return cls(state_dir / FILENAME)

    async def open(self) -> None:
        """Open (creating it if missing), check and migrate; StoreError if it cannot."""
        loop = asyncio.get_running_loop()
        self.created = not await loop.run_in_executor(self._pool, self.path.exists)
        self._conn = await loop.run_in_executor(self._pool, _open, self.path, self._migrations)

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` with the connection in the store's thread (one at a time)."""
        conn = self._conn
        if conn is None:
            raise StoreError(f"{self.path}: the store is not open")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, fn, conn)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from exc

    async def transaction(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """Execute the statements in one durable transaction."""

        def run(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for sql, params in statements:
                    conn.execute(sql, params)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

        await self.call(run)

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._pool, conn.close)
        self._pool.shutdown(wait=True)
