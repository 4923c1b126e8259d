"""The interlock board: e-stop input trips and inhibits, the retained board, faults and warnings."""

from __future__ import annotations

from typing import Any

import pytest

from calibd.core.errors import CommandError, ErrorCode, Trip
from calibd.core.fsm import attach
from calibd.core.outbox import Outbox, Outgoing
from calibd.core.subsystem import Fault, Subsystem
from calibd.interlocks import InterlockBoard


class _House:
    def __init__(self) -> None:
        self.ok: bool | None = True

    def estop_ok(self) -> bool | None:
        return self.ok


class _System(Subsystem):
    """Records trips instead of running an FSM task."""

    def __init__(self, name: str, outbox: Outbox) -> None:
        super().__init__(name, outbox)
        attach(self, ["IDLE", "FAULT"], [], "IDLE")
        self.trips: list[Trip] = []

    def trip(self, exc: Trip) -> None:
        self.trips.append(exc)


def _drain(outbox: Outbox) -> list[Outgoing]:
    out = []
    while (item := outbox.get_nowait()) is not None:
        out.append(item)
    return out


def _boards(items: list[Outgoing]) -> list[dict[str, Any]]:
    return [i.payload for i in items if i.kind == "interlocks"]


@pytest.fixture
def rig() -> tuple[InterlockBoard, _House, dict[str, _System], Outbox]:
    outbox = Outbox(256)
    house = _House()
    systems = {n: _System(n, outbox) for n in ("acu", "gt")}
    board = InterlockBoard(systems, house, outbox, deployment_systems=frozenset(systems))
    return board, house, systems, outbox


def test_estop_input_trips_every_system_and_inhibits(
    rig: tuple[InterlockBoard, _House, dict[str, _System], Outbox],
) -> None:
    board, house, systems, outbox = rig
    board.evaluate()
    assert all(not s.trips for s in systems.values())
    board.check("acu", "deploy")  # nothing active: allowed

    house.ok = False
    board.evaluate()
    assert [t.code for t in systems["acu"].trips] == ["estop_input"]
    assert [t.code for t in systems["gt"].trips] == ["estop_input"]
    assert systems["acu"].trips[0].error == ErrorCode.INTERLOCK
    for action in ("deploy", "home", "reset"):
        with pytest.raises(CommandError) as info:
            board.check("gt", action)
        assert info.value.code == ErrorCode.INTERLOCK
        assert "estop_input" in info.value.message
    board.check("gt", "status")
    board.check("gt", "stop")
    items = _drain(outbox)
    board_doc = _boards(items)[-1]
    assert [(e["id"], e["severity"], e["latched"]) for e in board_doc["active"]] == [
        ("estop_input", "trip", False)
    ]
    raised = [i.payload for i in items if i.kind == "event"]
    assert raised[0]["event"] == "interlock" and raised[0]["state"] == "raised"

    # unchanged: no new board
    board.evaluate()
    assert _boards(_drain(outbox)) == []

    house.ok = True
    board.evaluate()
    board.check("acu", "reset")
    items = _drain(outbox)
    assert _boards(items)[-1]["active"] == []
    assert [i.payload["state"] for i in items if i.kind == "event"] == ["cleared"]


def test_no_reading_is_not_an_open_circuit(
    rig: tuple[InterlockBoard, _House, dict[str, _System], Outbox],
) -> None:
    board, house, systems, _ = rig
    house.ok = None  # IO module silent: its own comm_loss fault covers that
    board.evaluate()
    assert not systems["acu"].trips
    board.check("acu", "deploy")


def test_latched_faults_and_warnings_are_on_the_board(
    rig: tuple[InterlockBoard, _House, dict[str, _System], Outbox],
) -> None:
    board, _, systems, outbox = rig
    systems["acu"].latched = Fault("snag", "over-tension on A", ErrorCode.INTERLOCK, "A")
    systems["gt"].warn("uss_mismatch", True, "7 cm")
    _drain(outbox)
    board.evaluate()
    active = _boards(_drain(outbox))[-1]["active"]
    assert {(e["system"], e["id"], e["severity"], e["latched"]) for e in active} == {
        ("acu", "snag", "trip", True),
        ("gt", "uss_mismatch", "warning", False),
    }
    systems["acu"].latched = None
    board.evaluate()
    active = _boards(_drain(outbox))[-1]["active"]
    assert [e["id"] for e in active] == ["uss_mismatch"]
