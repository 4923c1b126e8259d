"""The daemon says `online` only once every system has read its hardware (or given up)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

import pytest

from calibd import app


def _systems(n: int) -> dict[str, Any]:
    return {f"s{i}": SimpleNamespace(first_poll=asyncio.Event()) for i in range(n)}


async def test_ready_only_after_every_first_poll() -> None:
    systems = _systems(3)
    edge = SimpleNamespace(ready=asyncio.Event())
    task = asyncio.create_task(app._first_readings(cast(Any, systems), cast(Any, edge)))
    for name in ("s2", "s0"):
        systems[name].first_poll.set()
        await asyncio.sleep(0.01)
        assert not edge.ready.is_set()
    systems["s1"].first_poll.set()
    await asyncio.wait_for(task, 1.0)
    assert edge.ready.is_set()


async def test_ready_after_the_deadline_even_if_a_system_never_polls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(app, "FIRST_READINGS_S", 0.05)
    systems = _systems(2)
    systems["s0"].first_poll.set()
    edge = SimpleNamespace(ready=asyncio.Event())
    await asyncio.wait_for(app._first_readings(cast(Any, systems), cast(Any, edge)), 1.0)
    assert edge.ready.is_set()
