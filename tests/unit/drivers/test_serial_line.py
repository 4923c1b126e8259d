"""SerialLine and LoadCell over a real pty pair; the test plays the indicators on the master."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import serial_asyncio_fast

from drivers.endpoint import SerialEndpoint
from drivers.errors import CommError, ProtocolError
from drivers.load_cell import LoadCell, LoadReading, LoadStatus, checksum
from drivers.serial_line import SerialLine

from .conftest import IndicatorAnswer, PtyIndicator

MakeIndicator = Callable[[IndicatorAnswer], PtyIndicator]

GOLDEN = {
    b"@01W\r": b"@01 ST +0001.7340 N*6C\r\n",
    b"@03W\r": b"@03 OL +0200.0000 N*69\r\n",
    b"@02I\r": b"@02 ID LC-200N 200.0*5D\r\n",
    b"@04X\r": b"@04 ?? *04\r\n",
}


def _answer(address: int, tension_n: float) -> bytes:
    payload = f"{address:02d} ST {tension_n:+010.4f} N".encode()
    return b"@" + payload + b"*%02X\r\n" % checksum(payload)


def _line(
    path: str, *, timeout_s: float = 0.05, retries: int = 0, backoff_initial_s: float = 0.05
) -> SerialLine:
    return SerialLine(
        SerialEndpoint(path),
        name="acu-loadcells",
        timeout_s=timeout_s,
        retries=retries,
        backoff_initial_s=backoff_initial_s,
    )


async def test_golden_round_trips(pty_indicator: MakeIndicator) -> None:
    indicator = pty_indicator(GOLDEN.get)
    line = _line(indicator.path)
    try:
        assert await LoadCell(line, 1, name="cable A").read() == LoadReading(
            1.734, LoadStatus.STABLE
        )
        assert await LoadCell(line, 3, name="cable C").read() == LoadReading(
            200.0, LoadStatus.OVERLOAD
        )
        assert await LoadCell(line, 2, name="cable B").identify() == "LC-200N 200.0"
        assert await line.transact(b"@04X\r") == b"@04 ?? *04\r\n"
        assert line.health.connected
        assert line.health.consecutive_failures == 0
    finally:
        await line.close()
    assert indicator.requests == [b"@01W\r", b"@03W\r", b"@02I\r", b"@04X\r"]
    assert not line.health.connected


async def test_silent_indicator_times_out(pty_indicator: MakeIndicator) -> None:
    indicator = pty_indicator(lambda r: None)
    line = _line(indicator.path, timeout_s=0.04, retries=2)
    cell = LoadCell(line, 5, name="cable E")
    try:
        with pytest.raises(CommError, match=r"no answer within 0.04 s \(3 attempts\)") as info:
            await cell.read()
    finally:
        await line.close()
    assert info.value.device == "cable E"
    assert indicator.requests == [b"@05W\r"] * 3  # the request and its two retries
    assert line.health.consecutive_failures == 1


async def _until(predicate: Callable[[], bool], timeout_s: float = 2.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not predicate():
            await asyncio.sleep(0.005)


async def test_late_answer_is_discarded_before_the_next_request(
    pty_indicator: MakeIndicator,
) -> None:
    replies: list[bytes | None] = [None, _answer(1, 2.0)]  # the first is answered late, by hand
    indicator = pty_indicator(lambda r: replies.pop(0))
    line = _line(indicator.path, timeout_s=0.05, retries=0)
    cell = LoadCell(line, 1, name="cable A")
    try:
        with pytest.raises(CommError):
            await cell.read()
        indicator.send(_answer(1, 1.0))  # the stale answer arrives while nobody is asking
        indicator.send(b"@01 ST +00")  # and some line noise
        await asyncio.sleep(0.01)
        assert await cell.read() == LoadReading(2.0, LoadStatus.STABLE)
    finally:
        await line.close()


async def test_cancelled_request_does_not_desynchronise(pty_indicator: MakeIndicator) -> None:
    replies: list[bytes | None] = [None, _answer(1, 2.0)]  # the first is answered late, by hand
    indicator = pty_indicator(lambda r: replies.pop(0))
    line = _line(indicator.path, timeout_s=0.5)
    cell = LoadCell(line, 1, name="cable A")
    try:
        first = asyncio.create_task(cell.read())
        await _until(lambda: len(indicator.requests) == 1)  # the request is on the line
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        indicator.send(_answer(1, 1.0))  # the answer to the cancelled request, late
        assert await cell.read() == LoadReading(2.0, LoadStatus.STABLE)
    finally:
        await line.close()
    assert indicator.requests == [b"@01W\r"] * 2


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (b"@02 ST +0001.7340 N*6F\r\n", "address 02"),
        (b"@01 ST +0001.7340 N*6D\r\n", "checksum"),
        (b"@01 ST +0001.7340 N*6C\r\r\n", "malformed"),
        (b"@04 ?? *04\r\n", "address 04"),
    ],
)
async def test_bad_answers_are_protocol_errors(
    pty_indicator: MakeIndicator, reply: bytes, message: str
) -> None:
    indicator = pty_indicator(lambda r: reply)
    line = _line(indicator.path)
    try:
        with pytest.raises(ProtocolError, match=message) as info:
            await LoadCell(line, 1, name="cable A").read()
    finally:
        await line.close()
    assert info.value.device == "cable A"
    assert line.health.consecutive_failures == 0


async def test_endless_garbage_is_protocol_error(pty_indicator: MakeIndicator) -> None:
    indicator = pty_indicator(lambda r: b"x" * 300)
    line = _line(indicator.path, timeout_s=0.2)
    try:
        with pytest.raises(ProtocolError, match="within 256 bytes"):
            await line.transact(b"@01W\r")
    finally:
        await line.close()


async def test_pty_vanishes_and_comes_back(pty_indicator: MakeIndicator, tmp_path: Path) -> None:
    link = tmp_path / "acu-loadcells"
    first = pty_indicator(lambda r: _answer(1, 1.0))
    os.symlink(first.path, link)
    line = _line(str(link), backoff_initial_s=0.1)
    cell = LoadCell(line, 1, name="cable A")
    try:
        assert (await cell.read()).tension_n == 1.0
        first.close()  # the simulator goes away
        with pytest.raises(CommError):
            await cell.read()
        assert not line.health.connected
        with pytest.raises(CommError, match="next open attempt"):
            await cell.read()
        second = pty_indicator(lambda r: _answer(1, 2.0))  # and comes back on a new pty
        os.symlink(second.path, tmp_path / "new")
        os.replace(tmp_path / "new", link)
        await asyncio.sleep(0.12)
        assert (await cell.read()).tension_n == 2.0
        assert line.health.connected
    finally:
        await line.close()


async def test_missing_port_fails_then_backs_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opens: list[str] = []
    real_open = serial_asyncio_fast.create_serial_connection

    async def counting_open(loop: Any, factory: Any, path: str, **kwargs: Any) -> Any:
        opens.append(path)
        return await real_open(loop, factory, path, **kwargs)

    monkeypatch.setattr(serial_asyncio_fast, "create_serial_connection", counting_open)
    missing = str(tmp_path / "nothing")
    line = _line(missing, backoff_initial_s=5.0)
    with pytest.raises(CommError, match="cannot open"):
        await line.connect()
    assert opens == [missing]
    with pytest.raises(CommError, match="next open attempt"):
        await line.transact(b"@01W\r")
    assert opens == [missing]  # refused inside the backoff window without trying the port
    assert line.health.consecutive_failures == 2
    with pytest.raises(CommError, match="cannot open"):
        await line.connect()  # an explicit connect ignores the window
    assert opens == [missing, missing]
    await line.close()
