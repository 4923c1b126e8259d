"""The SQLite store and the command ledger: WAL, migrations, clear refusals, durable records."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

import pytest

from calibd.core.commands import ReplyRoute
from calibd.core.outbox import Outgoing
from calibd.store.db import FILENAME, Store, StoreError
from calibd.store.ledger import CommandLedger
from calibd.store.migrations import MIGRATIONS
from calibd.store.writer import Writer


async def test_creates_migrates_and_reopens(tmp_path: Path) -> None:
    store = Store.in_dir(tmp_path / "state")
    await store.open()
    version = await store.call(lambda c: c.execute("PRAGMA user_version").fetchone()[0])
    mode = await store.call(lambda c: c.execute("PRAGMA journal_mode").fetchone()[0])
    await store.close()
    assert version == len(MIGRATIONS) and mode == "wal"
    again = Store.in_dir(tmp_path / "state")
    await again.open()  # already at the latest version: nothing to do
    await again.close()


async def test_a_later_migration_applies_on_top(tmp_path: Path) -> None:
    store = Store.in_dir(tmp_path)
    await store.open()
    await store.close()
    newer = Store(tmp_path / FILENAME, (*MIGRATIONS, "CREATE TABLE x (a INTEGER)"))
    await newer.open()
    tables = await newer.call(
        lambda c: [r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    )
    await newer.close()
    assert "x" in tables and "audit" in tables


async def test_refuses_a_newer_schema(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / FILENAME) as conn:
        conn.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    store = Store.in_dir(tmp_path)
    with pytest.raises(StoreError, match="newer than this calibd"):
        await store.open()
    await store.close()


async def test_refuses_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    (tmp_path / FILENAME).write_bytes(b"this is not sqlite" * 512)
    store = Store.in_dir(tmp_path)
    with pytest.raises(StoreError, match="not a usable calibd database"):
        await store.open()
    await store.close()


async def test_a_failed_migration_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    store = Store(tmp_path / FILENAME, (*MIGRATIONS, "CREATE TABLE y (a INTEGER); NOT SQL"))
    with pytest.raises(StoreError, match=f"migration {len(MIGRATIONS) + 1} failed"):
        await store.open()
    await store.close()
    with sqlite3.connect(tmp_path / FILENAME) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master")]
    assert "y" not in names


def _event(doc: dict[str, object]) -> Outgoing:
    return Outgoing("event", "acu", {"event": "command", **doc}, ReplyRoute())


async def test_ledger_remembers_ids_and_audits_commands(tmp_path: Path) -> None:
    store = Store.in_dir(tmp_path)
    await store.open()
    writer = Writer(store)
    ledger = CommandLedger(writer, remember=2)
    for cmd_id in ("a", "b", "c"):
        ledger.add_id(cmd_id, "acu")
    ledger.add_id("a", "acu")  # a repeat is ignored, not an error
    ledger.tap(
        _event(
            {
                "id": "a",
                "action": "deploy",
                "result": "accepted",
                "operator": "jo",
                "args": {"unit": "A", "z_m": 5.0},
                "ts": "t1",
            }
        )
    )
    ledger.tap(
        _event(
            {
                "id": "a",
                "action": "deploy",
                "result": "failed",
                "operator": "jo",
                "error": {"code": "interlock", "message": "snag: ..."},
                "ts": "t2",
            }
        )
    )
    ledger.tap(Outgoing("event", "acu", {"event": "transition"}, ReplyRoute()))  # not audited
    await writer.flush()
    assert await ledger.recent_ids() == ["b", "c"]
    rows = await store.call(
        lambda c: c.execute(
            "SELECT id, result, operator, error_code, args_json FROM audit ORDER BY seq"
        ).fetchall()
    )
    await store.close()
    assert rows == [
        ("a", "accepted", "jo", None, '{"unit": "A", "z_m": 5.0}'),
        ("a", "failed", "jo", "interlock", None),
    ]


async def test_sync_returns_once_what_was_put_is_durable(tmp_path: Path) -> None:
    store = Store.in_dir(tmp_path)
    await store.open()
    writer = Writer(store)
    task = asyncio.create_task(writer.run())
    writer.put("INSERT INTO command_ids (id, system, seen_at) VALUES (?, ?, ?)", ("x", None, "t"))
    await writer.sync()
    # a second connection sees it: it is committed, not just queued
    with sqlite3.connect(tmp_path / FILENAME) as other:
        assert other.execute("SELECT id FROM command_ids").fetchall() == [("x",)]
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await store.close()
