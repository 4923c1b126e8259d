"""`calibctl status` and `watch` on a fake link: the snapshot, the frame, one line per change."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from calibd.ctl.errors import OK, UNAVAILABLE, USAGE, CtlError
from calibd.ctl.link import Inbound
from calibd.ctl.run import Options
from calibd.ctl.view import View, status
from calibd.ctl.watch import CLEAR_SCREEN, HOME, watch
from tests.unit.test_ctl_session import ONLINE, ROOT, FakeLink

pytestmark = pytest.mark.timeout(10)

BOARD = {"ts": "T", "active": [{"id": "o2_high", "system": "house", "severity": "inhibit"}]}
PROGRAM = {"program": "weekly", "run": "r-1", "state": "RUNNING", "step": 1, "steps": 2}


def _acu(state: str, z_m: float, **kw: Any) -> dict[str, Any]:
    return {"system": "acu", "state": state, "position": {"z_m": z_m, "unit": "A"}, **kw}


def _retained() -> dict[str, Any]:
    return {
        f"{ROOT}/acu/status": _acu("PARKED", 23.0, homed=True),
        f"{ROOT}/house/status": {"system": "house", "state": "READY"},
        f"{ROOT}/interlocks": BOARD,
        f"{ROOT}/program/status": PROGRAM,
        f"{ROOT}/deployments/summary": {"open": []},  # not a status: ignored
    }


def _opts(**kw: Any) -> Options:
    return Options(out=io.StringIO(), err=io.StringIO(), **kw)


def _out(opts: Options) -> str:
    assert isinstance(opts.out, io.StringIO)
    return opts.out.getvalue()


async def test_status_json_snapshot() -> None:
    opts = _opts(json=True)
    assert await status(FakeLink(_retained()), None, opts) == OK
    doc = json.loads(_out(opts))
    assert list(doc["systems"]) == ["acu", "house"]  # program/status is not a system
    assert doc["daemon"] == ONLINE
    assert doc["interlocks"] == BOARD["active"]
    assert doc["program"] == PROGRAM


async def test_status_table_of_one_system() -> None:
    opts = _opts()
    assert await status(FakeLink(_retained()), "acu", opts) == OK
    lines = _out(opts).splitlines()
    assert lines[0].startswith("daemon: online (calibd 0.1.0, session 2")
    assert lines[1] == "interlocks: 1 active (1 inhibit)"
    assert lines[3].split()[:2] == ["SYSTEM", "STATE"]
    assert lines[4].split()[:2] == ["acu", "PARKED"]
    assert not any(line.startswith("house") for line in lines)


async def test_status_unknown_system_exit_2() -> None:
    with pytest.raises(CtlError, match=r"no status for 'acx'.*systems: acu, house") as info:
        await status(FakeLink(_retained()), "acx", _opts())
    assert info.value.exit_code == USAGE


async def test_status_daemon_offline_prints_then_exit_3() -> None:
    link = FakeLink({**_retained(), f"{ROOT}/daemon/state": {"state": "offline", "session": 2}})
    opts = _opts()
    with pytest.raises(CtlError, match="not online: it is offline") as info:
        await status(link, None, opts)
    assert info.value.exit_code == UNAVAILABLE
    assert "acu" in _out(opts) and "PARKED" in _out(opts)


def test_view_change_lines_skip_position_only_updates() -> None:
    view = View(ROOT)
    topic = f"{ROOT}/acu/status"
    lines = []
    for doc in (
        _acu("MOVING", 5.0, busy=True, command={"action": "move"}, target={"z_m": 0.0}),
        _acu("MOVING", 4.0, busy=True, command={"action": "move"}, target={"z_m": 0.0}),
        _acu("MOVING", 3.0, busy=True, command={"action": "move"}, target={"z_m": 0.0}),
        _acu("AT_POSITION", 0.0, target={"z_m": 0.0}),
        _acu("FAULT", 0.0, fault={"code": "slack", "message": "m"}),
    ):
        item = view.update(Inbound(topic, doc, False))
        assert item == "acu"
        line = view.change(item)
        if line is not None:
            lines.append(line.split(" ", 1)[1])  # without the time
    assert lines == [
        "acu MOVING at z=5.000m unit=A target z=0.000m busy (move)",
        "acu AT_POSITION at z=0.000m unit=A target z=0.000m",
        "acu FAULT at z=0.000m unit=A FAULT slack",
    ]
    assert view.update(Inbound(f"{ROOT}/acu/telemetry", {"x": 1}, False)) is None


async def test_watch_lines_into_a_pipe_until_count() -> None:
    link = FakeLink(_retained())
    opts = _opts()
    assert await watch(link, opts, tty=False, once=False, count=5) == OK
    lines = [line.split(" ", 1)[1] for line in _out(opts).splitlines()]
    assert lines == [
        "daemon: online (calibd 0.1.0, session 2, started T0)",
        "interlocks: 1 active (1 inhibit): o2_high (house, inhibit)",
        "acu PARKED at z=23.000m unit=A",
        "house READY at -",
        "program weekly (r-1)  RUNNING  step 1/2  [..............................]   0%  ETA -",
    ]
    # live changes after the retained ones
    link.queue.extend(
        [
            Inbound(f"{ROOT}/acu/status", _acu("PARKED", 23.0, homed=True), False),  # no change
            Inbound(f"{ROOT}/interlocks", {"active": []}, True),
        ]
    )
    opts = _opts()
    assert await watch(link, opts, tty=False, once=False, count=6) == OK
    assert _out(opts).splitlines()[-1].endswith("interlocks: none active")


async def test_watch_redraws_in_place_on_a_terminal() -> None:
    link = FakeLink(_retained())
    link.queue.append(Inbound(f"{ROOT}/acu/status", _acu("HOMING", 22.0), False))
    opts = _opts()
    assert await watch(link, opts, tty=True, once=False, count=2) == OK
    text = _out(opts)
    assert text.startswith(CLEAR_SCREEN + HOME)
    first, second = text.split(HOME)[1:]
    assert "PARKED" in first and "HOMING" in second
    assert "o2_high" in second  # the board, line by line
    assert "program weekly (r-1)" in second


async def test_watch_once_prints_the_frame() -> None:
    opts = _opts()
    assert await watch(FakeLink(_retained()), opts, tty=True, once=True, count=None) == OK
    text = _out(opts)
    assert "\x1b" not in text and "SYSTEM" in text and "o2_high" in text
