"""The DAQ at a program point (dwell or MQTT handshake) and the program runs kept in the store."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from calibd.cfg_program import ProgramCfg
from calibd.core.outbox import Outbox
from calibd.program.daq import REQUEST_TOPIC, Daq, DaqError
from calibd.program.runs import RunLog, RunRecord, last_run
from calibd.store.db import Store
from calibd.store.writer import Writer
from tests.vtime import VirtualTimeLoop

REQUEST = {"id": "r.3.daq", "run": "r", "step": 1, "point": 2, "system": "acu"}


def _requests(outbox: Outbox) -> list[dict[str, object]]:
    out = []
    while (item := outbox.get_nowait()) is not None:
        if item.kind == "message" and item.topic == REQUEST_TOPIC:
            out.append(item.payload)
    return out


def test_dwell_waits_the_scaled_daq_time_and_publishes_nothing() -> None:
    loop = VirtualTimeLoop()  # virtual time: the dwell is exact and costs no wall time
    try:
        outbox = Outbox()
        daq = Daq(ProgramCfg(daq="dwell"), outbox, time_scale=20.0)
        began = loop.time()
        window = loop.run(daq.take(REQUEST, 60.0))
        assert loop.time() - began == pytest.approx(3.0)  # 60 s of DAQ at time_scale 20
    finally:
        loop.close()
    assert (window.request, window.mode) == ("r.3.daq", "dwell")
    assert window.start <= window.end
    assert _requests(outbox) == []


async def test_handshake_publishes_the_request_and_waits_for_its_done() -> None:
    outbox = Outbox()
    daq = Daq(ProgramCfg(daq="handshake"), outbox)
    task = asyncio.create_task(daq.take(REQUEST, 60.0))
    await asyncio.sleep(0.01)
    (sent,) = _requests(outbox)
    assert sent["id"] == "r.3.daq" and sent["point"] == 2 and "ts" in sent
    daq.on_done(b"not json")  # ignored, logged
    daq.on_done(json.dumps({"id": "someone-else"}).encode())
    await asyncio.sleep(0.01)
    assert not task.done()
    daq.on_done(json.dumps({"id": "r.3.daq", "ok": True}).encode())
    window = await asyncio.wait_for(task, 1.0)
    assert window.mode == "handshake"


async def test_handshake_failure_and_timeout_are_daq_errors() -> None:
    daq = Daq(ProgramCfg(daq="handshake", daq_timeout_s=1.0), Outbox(), time_scale=100.0)
    task = asyncio.create_task(daq.take(REQUEST, 1.0))
    await asyncio.sleep(0.005)
    daq.on_done(json.dumps({"id": "r.3.daq", "ok": False, "message": "run control"}).encode())
    with pytest.raises(DaqError, match="daq_failed: run control"):
        await task
    with pytest.raises(DaqError, match="daq_timeout"):
        await daq.take(REQUEST, 1.0)  # (1 + 1) s / 100: nobody answers


async def test_runs_are_saved_and_the_last_one_read_back(tmp_path: Path) -> None:
    store = Store.in_dir(tmp_path)
    await store.open()
    writer = Writer(store)
    runs = RunLog(writer)
    assert await last_run(store) is None
    first = RunRecord(
        "w-1",
        "weekly",
        "/p/weekly.toml",
        "d1",
        "jo",
        "RUNNING",
        0,
        0,
        None,
        "2026-11-21T10:00:00.000Z",
        "2026-11-21T10:00:00.000Z",
    )
    runs.save(first)
    runs.save(first.advanced(state="COMPLETED", move=30, done_points=15))
    second = RunRecord(
        "w-2",
        "weekly",
        "/p/weekly.toml",
        "d1",
        "al",
        "RUNNING",
        0,
        0,
        None,
        "2026-11-21T11:00:00.000Z",
        "2026-11-21T11:00:00.000Z",
    )
    runs.save(second)
    runs.save(second.advanced(state="SUSPENDED", move=4, done_points=2, reason="snag"))
    await writer.flush()
    got = await last_run(store)
    assert got is not None
    assert (got.run, got.state, got.move, got.done_points, got.reason) == (
        "w-2",
        "SUSPENDED",
        4,
        2,
        "snag",
    )
    await store.close()
