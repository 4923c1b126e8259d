"""The store's single writer: producers on the event loop put statements without waiting; one
task drains them into the store's thread, in batches, each batch one durable transaction.

`sync()` is the write-ahead barrier: it returns once everything put before it is committed
(used before a drive is sent somewhere the store does not know about yet). A full queue drops
the statement and logs it, never blocks a producer.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from calibd.store.db import Store, StoreError

log = structlog.get_logger("calibd.store.writer", subsystem="store")
BATCH = 256

Statement = tuple[str, tuple[Any, ...]]


class Writer:
    def __init__(self, store: Store, *, queue_size: int = 8192) -> None:
        self.store = store
        self.dropped = 0
        self.failed = 0
        self._queue: asyncio.Queue[Statement | asyncio.Future[None]] = asyncio.Queue(queue_size)

    def put(self, sql: str, params: tuple[Any, ...]) -> None:
        try:
            self._queue.put_nowait((sql, params))
        except asyncio.QueueFull:
            self.dropped += 1
            log.error("store_queue_full", dropped=self.dropped, sql=sql.split("(")[0])

    async def sync(self, timeout_s: float = 2.0) -> None:
        """Until everything put so far is durable; StoreError if that takes too long."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(timeout_s):
                await self._queue.put(done)
                await done
        except TimeoutError:
            raise StoreError(f"{self.store.path}: no durable commit within {timeout_s} s") from None

    async def run(self) -> None:
        """Write what arrives, in batches, each one durable transaction."""
        while True:
            batch = [await self._queue.get()]
            while len(batch) < BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._commit(batch)

    async def _one_by_one(self, statements: list[Statement], exc: StoreError) -> None:
        """A batch failed: commit its statements one at a time, so one bad statement (e.g.
        a record whose parent row was dropped by a full queue) costs only itself. If every
        one fails the store itself is broken: raise (the daemon stops, drives halted)."""
        failed = 0
        for statement in statements:
            try:
                await self.store.transaction([statement])
            except StoreError as one:
                failed += 1
                self.failed += 1
                log.error("store_statement_failed", error=str(one), sql=statement[0][:60])
        if failed == len(statements):
            raise exc

    async def flush(self) -> None:
        """Write everything queued now (on a clean stop)."""
        batch: list[Statement | asyncio.Future[None]] = []
        while not self._queue.empty():
            batch.append(self._queue.get_nowait())
        if batch:
            await self._commit(batch)

    async def _commit(self, batch: list[Statement | asyncio.Future[None]]) -> None:
        statements = [item for item in batch if isinstance(item, tuple)]
        if statements:
            try:
                await self.store.transaction(statements)
            except StoreError as exc:
                await self._one_by_one(statements, exc)
        for item in batch:
            if isinstance(item, asyncio.Future) and not item.done():
                item.set_result(None)
