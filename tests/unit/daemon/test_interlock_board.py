"""The interlock board on stub systems: the cross-system rows trip, inhibit and report; the
retained board carries rule entries, latched faults and warnings; events on raise/clear."""

from __future__ import annotations

from typing import Any

import pytest

from calibd.cfg_interlocks import InterlocksCfg, RunPermitCfg
from calibd.core.actions import Fault
from calibd.core.errors import CommandError, ErrorCode, Trip
from calibd.core.fsm import attach
from calibd.core.outbox import Outbox, Outgoing
from calibd.core.presence import Presence, Segment
from calibd.core.subsystem import Subsystem
from calibd.interlocks import InterlockBoard
from calibd.subsystems.house import ValveGuard

VALVES = {"acu": "acu", "cls1": "cls1", "cls2": "cls2", "rov": "rov", "gt": None}


class _House:
    def __init__(self) -> None:
        self.ok: bool | None = True
        self.air: tuple[float, float] | None = (4.0, 8.0)
        self.guard: ValveGuard | None = None

    def estop_ok(self) -> bool | None:
        return self.ok

    def atmosphere(self) -> tuple[float, float] | None:
        return self.air


class _System(Subsystem):
    """A deployment system reduced to what the board reads; records trips."""

    def __init__(self, name: str, outbox: Outbox) -> None:
        super().__init__(name, outbox)
        attach(self, ["IDLE", "FAULT"], [], "IDLE")
        self.trips: list[Trip] = []
        self.deployed = False
        self.moving = False
        self.cables: tuple[Segment, ...] = ()
        self.point: tuple[float, float, float] | None = None

    def trip(self, exc: Trip) -> None:
        self.trips.append(exc)

    def presence(self) -> Presence:
        return Presence(
            deployed=self.deployed,
            inside=self.deployed,
            moving=self.moving,
            faulted=self.state == "FAULT",
            source="src",
            valve=VALVES[self.name],
            cables=self.cables if self.deployed else (),
            point=self.point,
        )

    def cables_for(self, action: str, args: Any) -> tuple[Segment, ...]:
        if self.name == "rov" and action in {"deploy", "move"}:
            start = self.point if action == "move" and self.point else (0.0, 0.0, 16.0)
            return ((start, args),)
        if self.name == "acu" and action in {"deploy", "move"}:
            return (((0.0, 0.0, 21.0), (0.0, 0.0, args)),)
        return ()


Rig = tuple[InterlockBoard, _House, dict[str, _System], Outbox]


def _drain(outbox: Outbox) -> list[Outgoing]:
    out = []
    while (item := outbox.get_nowait()) is not None:
        out.append(item)
    return out


def _boards(items: list[Outgoing]) -> list[dict[str, Any]]:
    return [i.payload for i in items if i.kind == "interlocks"]


def _refused(board: InterlockBoard, system: str, action: str, args: Any = None) -> str:
    with pytest.raises(CommandError) as info:
        board.check(system, action, args)
    assert info.value.code == ErrorCode.INTERLOCK
    return info.value.message


def _make(cfg: InterlocksCfg | None = None) -> Rig:
    outbox = Outbox(512)
    house = _House()
    systems = {n: _System(n, outbox) for n in ("acu", "cls1", "cls2", "gt", "rov")}
    board = InterlockBoard(systems, house, outbox, cfg)
    return board, house, systems, outbox


@pytest.fixture
def rig() -> Rig:
    return _make()


def test_estop_input_trips_every_system_and_inhibits(rig: Rig) -> None:
    board, house, systems, outbox = rig
    board.evaluate()
    assert all(not s.trips for s in systems.values())
    board.check("acu", "deploy", 5.0)  # nothing active: allowed

    house.ok = False
    board.evaluate()
    assert all([t.code for t in s.trips] == ["estop_input"] for s in systems.values())
    assert systems["acu"].trips[0].error == ErrorCode.INTERLOCK
    for action in ("deploy", "home", "reset"):
        assert _refused(board, "gt", action).startswith("estop_input:")
    board.check("gt", "status", None)
    board.check("gt", "stop", None)
    assert house.guard is board and board.may_open("acu") is not None
    items = _drain(outbox)
    assert [(e["id"], e["severity"], e["latched"]) for e in _boards(items)[-1]["active"]] == [
        ("estop_input", "trip", False)
    ]
    raised = [i.payload for i in items if i.kind == "event"]
    assert raised[0]["event"] == "interlock" and raised[0]["state"] == "raised"

    board.evaluate()  # unchanged: no new board
    assert _boards(_drain(outbox)) == []

    # closed again: still latched (like the global e-stop) until the global reset
    house.ok = True
    board.evaluate()
    assert "global reset" in _refused(board, "acu", "reset")
    items = _drain(outbox)
    assert [(e["id"], e["latched"]) for e in _boards(items)[-1]["active"]] == [
        ("estop_input", True)
    ]
    # the "circuit open" entry cleared, the "send the global reset" one raised
    assert [i.payload["state"] for i in items if i.kind == "event"] == ["raised", "cleared"]
    board.release_estop()
    board.check("acu", "reset", None)
    board.evaluate()
    items = _drain(outbox)
    assert _boards(items)[-1]["active"] == []
    assert [i.payload["state"] for i in items if i.kind == "event"] == ["cleared"]


def test_no_reading_is_not_an_open_circuit(rig: Rig) -> None:
    board, house, systems, _ = rig
    house.ok = None  # IO module silent: its own comm_loss fault covers that
    board.evaluate()
    assert not systems["acu"].trips
    board.check("acu", "deploy", 5.0)


def test_global_estop_latches_until_released(rig: Rig) -> None:
    board, _, systems, outbox = rig
    assert board.estop("e-stop by op (c1)") == ["acu", "cls1", "cls2", "gt", "rov"]
    assert all([t.code for t in s.trips] == ["estop"] for s in systems.values())
    assert "global reset" in _refused(board, "cls1", "reset")
    _refused(board, "house", "home")
    board.check("house", "status", None)
    active = _boards(_drain(outbox))[-1]["active"]
    assert [(e["id"], e["system"]) for e in active] == [("estop", "daemon")]
    board.release_estop()
    board.check("cls1", "reset", None)


def test_chimney_systems_are_mutually_exclusive(rig: Rig) -> None:
    board, _, systems, outbox = rig
    systems["cls1"].deployed = True
    board.evaluate()
    message = _refused(board, "acu", "deploy", 5.0)
    assert message.startswith("chimney_exclusive:") and "cls1" in message
    _refused(board, "rov", "deploy", (1.0, 1.0, 0.0))
    board.check("acu", "home", None)  # homing never enters
    board.check("acu", "select", None)
    board.check("cls1", "move", None)  # the one inside may move
    entries = {(e["id"], e["severity"]) for e in _boards(_drain(outbox))[-1]["active"]}
    assert ("chimney_exclusive", "inhibit") in entries
    # a violation (two inside) trips the moving one only
    systems["cls2"].deployed = systems["cls2"].moving = True
    board.evaluate()
    assert [t.code for t in systems["cls2"].trips] == ["chimney_exclusive"]
    assert systems["cls1"].trips == []


def test_source_limit_counts_the_gt(rig: Rig) -> None:
    board, _, systems, _ = rig
    systems["gt"].deployed = True
    board.evaluate()
    assert _refused(board, "acu", "deploy", 5.0).startswith("source_limit:")
    board.check("gt", "move", None)


def test_source_limit_is_configurable() -> None:
    board, _, systems, _ = _make(InterlocksCfg(max_sources_in_detector=2))
    systems["gt"].deployed = True
    board.evaluate()
    board.check("acu", "deploy", 5.0)
    systems["acu"].deployed = True
    board.evaluate()
    assert _refused(board, "cls1", "deploy", None).startswith("chimney_exclusive:")


def test_valves_open_only_in_good_air_and_close_only_with_a_clear_path(rig: Rig) -> None:
    board, house, systems, outbox = rig
    assert board.may_open("acu") is None
    house.air = (12.0, 8.0)
    board.evaluate()
    assert board.may_open("acu") is not None and board.may_open("acu")[0] == "o2_high"  # type: ignore[index]
    assert _refused(board, "acu", "deploy", 5.0).startswith("o2_high:")
    board.check("gt", "deploy", None)  # no valve on the GT
    assert ("o2_high", "house") in {
        (e["id"], e["system"]) for e in _boards(_drain(outbox))[-1]["active"]
    }
    house.air = (4.0, 20.0)
    board.evaluate()
    assert _refused(board, "cls2", "deploy", None).startswith("radon_high:")
    house.air = None
    assert board.may_open("acu") is not None  # no reading: no valve opens
    house.air = (4.0, 8.0)
    systems["cls1"].deployed = True
    refusal = board.may_close("cls1")
    assert refusal is not None and refusal[0] == "valve_path"
    assert board.may_close("acu") is None


def test_run_permit_required_per_system() -> None:
    cfg = InterlocksCfg(run_permit=RunPermitCfg(required_for=["acu"]))
    board, _, _, outbox = _make(cfg)
    board.evaluate()
    assert _refused(board, "acu", "deploy", 5.0).startswith("run_permit:")
    board.check("acu", "retract", None)
    board.check("cls1", "deploy", None)  # not required there
    board.set_permit(b'{"permit": true, "run": 1234}')
    board.check("acu", "deploy", 5.0)
    board.set_permit(b"not json")
    assert _refused(board, "acu", "move", 3.0).startswith("run_permit:")
    assert ("run_permit", "acu") in {
        (e["id"], e["system"]) for e in _boards(_drain(outbox))[-1]["active"]
    }


def test_rov_keeps_out_of_deployed_cables() -> None:
    board, _, systems, _ = _make(InterlocksCfg(max_in_chimney=2, max_sources_in_detector=2))
    acu, rov = systems["acu"], systems["rov"]
    acu.deployed = True
    acu.cables = (((0.0, 0.0, 21.0), (0.0, 0.0, -5.0)),)
    board.evaluate()
    # a path across the axis is refused; one that stays clear is allowed
    assert _refused(board, "rov", "deploy", (0.0, 0.5, 0.0)).startswith("rov_keepout:")
    rov.deployed, rov.point = True, (5.0, 0.0, 0.0)
    assert _refused(board, "rov", "move", (-5.0, 0.0, 0.0)).startswith("rov_keepout:")
    board.check("rov", "move", (5.0, 3.0, -2.0))
    # the ACU may not lower its cable next to the vehicle
    rov.point = (0.5, 0.0, -8.0)
    assert _refused(board, "acu", "move", -10.0).startswith("rov_keepout:")
    # the vehicle inside a zone: the moving one trips
    rov.point, rov.moving = (0.5, 0.0, -3.0), True
    board.evaluate()
    assert [t.code for t in rov.trips] == ["rov_keepout"]
    assert acu.trips == []


def test_latched_faults_and_warnings_are_on_the_board(rig: Rig) -> None:
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
