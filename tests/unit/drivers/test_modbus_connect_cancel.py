"""ModbusBus's connect keeps a cancel that pymodbus's ``asyncio.wait_for`` swallows (3.11), and
its own deadline still ends a connect that does not come."""

from __future__ import annotations

import asyncio

import pytest
from pymodbus.client import AsyncModbusTcpClient

from drivers.endpoint import TcpEndpoint
from drivers.errors import CommError
from drivers.modbus_bus import ModbusBus


class _Recorder:
    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.closed = 0


def _patch_client(monkeypatch: pytest.MonkeyPatch, *, swallow: bool) -> _Recorder:
    """``connect`` waits; a cancel is either swallowed with a connection (3.11's wait_for when
    the result and the cancel arrive together) or delivered. ``close`` is counted."""
    seen = _Recorder()

    async def connect(_self: AsyncModbusTcpClient) -> bool:
        seen.entered.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            if swallow:
                return True  # the result wins, the cancel is lost
            raise
        return True

    def close(_self: AsyncModbusTcpClient) -> None:
        seen.closed += 1

    monkeypatch.setattr(AsyncModbusTcpClient, "connect", connect)
    monkeypatch.setattr(AsyncModbusTcpClient, "close", close)
    return seen


def _bus(connect_timeout_s: float) -> ModbusBus:
    return ModbusBus(
        TcpEndpoint("127.0.0.1", 1), name="bus", timeout_s=0.05, connect_timeout_s=connect_timeout_s
    )


async def test_a_swallowed_cancel_during_connect_is_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = _patch_client(monkeypatch, swallow=True)
    bus = _bus(connect_timeout_s=30.0)
    task = asyncio.create_task(bus.connect())
    async with asyncio.timeout(2.0):
        await seen.entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen.closed == 1  # the half-made client is not kept
    assert not bus.health.connected


async def test_the_connect_deadline_still_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _patch_client(monkeypatch, swallow=True)  # even when its own cancel is swallowed
    bus = _bus(connect_timeout_s=0.05)
    with pytest.raises(CommError, match=r"cannot connect .* within 0\.05 s"):
        await bus.connect()
    assert seen.closed == 1
    assert not bus.health.connected
    assert bus.health.consecutive_failures == 1
