"""Restart recovery as pure logic: every branch of `reconcile`'s policy, and the journal that
keeps each drive's range ahead of the hardware (`SystemJournal`, `JournaledDrive`) on a fake
sink."""

from __future__ import annotations

import json
from typing import Any

import pytest

from calibd.core.journal import UPSERT, AxisNow, JournaledDrive, SystemJournal
from calibd.core.recovery import reconcile
from drivers.fake_drive import FakeDrive
from drivers.stepper import DriveStatus

CPR = 1000  # counts per revolution: a tolerance of 64 counts is 0.064 rev
TOL_COUNTS = 64.0
TOL_REV = TOL_COUNTS / CPR


def axis(
    rev: float | None, *, homed: bool = True, parked: bool = False, moving: bool = False
) -> AxisNow:
    return AxisNow(rev, homed, parked, CPR, moving)


def snapshot(state: str, ranges: dict[str, list[float]], *, homed: bool = True) -> dict[str, Any]:
    return {"state": state, "homed": homed, "ranges": ranges, "target": None}


# ---- reconcile: no persisted record --------------------------------------------------------------


def test_first_start_is_unknown_even_with_a_drive_off_its_switch() -> None:
    out = reconcile(None, {"A": axis(3.0)}, TOL_COUNTS, deployed=True, first_start=True)
    assert (out.kind, out.state) == ("unknown", "UNKNOWN")
    assert "first start" in out.message
    assert out.details["persisted"] is None
    assert out.details["drives"] == {"A": {"rev": 3.0, "homed": True, "parked": False}}


def test_no_record_with_nothing_out_is_unknown() -> None:
    now = {"A": axis(0.0, parked=True), "B": axis(0.0, parked=True)}
    out = reconcile(None, now, TOL_COUNTS, deployed=False)
    assert (out.kind, out.state) == ("unknown", "UNKNOWN")
    assert "nothing out" in out.message


def test_no_record_with_a_source_out_is_a_mismatch_naming_it() -> None:
    now = {"A": axis(0.0, parked=True), "C": axis(4.2), "B": axis(1.0)}
    out = reconcile(None, now, TOL_COUNTS, deployed=True)
    assert (out.kind, out.state) == ("mismatch", "FAULT")
    assert out.message == (
        "no persisted record, but B, C off the home switch: a source may be out with nothing"
        " known about it"
    )


# ---- reconcile: persisted, but not to be trusted ---------------------------------------------


def test_persisted_not_homed_is_unknown() -> None:
    persisted = snapshot("STOPPED", {"A": [3.0, 3.0]}, homed=False)
    out = reconcile(persisted, {"A": axis(3.0)}, TOL_COUNTS, deployed=True)
    assert (out.kind, out.state) == ("unknown", "UNKNOWN")
    assert "not homed before the restart" in out.message
    assert out.details["persisted"] == "STOPPED"


def test_a_lost_reference_is_a_mismatch_with_both_values() -> None:
    persisted = snapshot("AT_POSITION", {"A": [3.0, 3.0], "B": [0.0, 0.0]})
    now = {"A": axis(0.0, homed=False), "B": axis(0.0, parked=True)}
    out = reconcile(persisted, now, TOL_COUNTS, deployed=True)
    assert (out.kind, out.state) == ("mismatch", "FAULT")
    assert out.message == (
        "A: drive lost its reference (power loss?): persisted +3.0000 rev,"
        " drive reads +0.0000 rev not homed"
    )
    assert out.details["problems"] == [out.message]


def test_a_lost_reference_while_parked_is_only_unknown() -> None:
    persisted = snapshot("PARKED", {"A": [0.0, 0.0]})
    out = reconcile(
        persisted, {"A": axis(0.0, homed=False, parked=True)}, TOL_COUNTS, deployed=False
    )
    assert (out.kind, out.state) == ("unknown", "UNKNOWN")
    assert out.message.startswith("parked; A: drive lost its reference")


def test_a_drive_without_a_persisted_range_is_a_mismatch() -> None:
    persisted = snapshot("AT_POSITION", {"A": [3.0, 3.0]})
    out = reconcile(persisted, {"A": axis(3.0), "B": axis(1.5)}, TOL_COUNTS, deployed=True)
    assert (out.kind, out.state) == ("mismatch", "FAULT")
    assert out.message == "B: no persisted range (drive reads +1.5000 rev)"


# ---- reconcile: the range and its tolerance ---------------------------------------------------


@pytest.mark.parametrize(
    ("rev", "agrees"),
    [
        (2.0 - TOL_REV + 1e-4, True),  # just inside, below
        (3.0 + TOL_REV - 1e-4, True),  # just inside, above
        (2.5, True),
        (2.0 - TOL_REV - 1e-4, False),  # just outside, below
        (3.0 + TOL_REV + 1e-4, False),  # just outside, above
    ],
)
def test_range_plus_minus_tolerance(rev: float, agrees: bool) -> None:
    persisted = snapshot("MOVING", {"A": [2.0, 3.0]})
    out = reconcile(persisted, {"A": axis(rev)}, TOL_COUNTS, deployed=True)
    if agrees:
        assert (out.kind, out.state) == ("restore", "STOPPED")
        assert "problems" not in out.details
    else:
        assert (out.kind, out.state) == ("mismatch", "FAULT")
        assert out.message == f"A: persisted +2.0000 rev..+3.0000 rev, drive reads {rev:+.4f} rev"


def test_a_point_range_names_one_value_and_the_tolerance_scales_with_counts() -> None:
    persisted = snapshot("AT_POSITION", {"A": [5.0, 5.0]})
    off = 5.0 + 2 * TOL_REV
    out = reconcile(persisted, {"A": axis(off)}, TOL_COUNTS, deployed=True)
    assert out.kind == "mismatch"
    assert out.message == f"A: persisted +5.0000 rev, drive reads {off:+.4f} rev"
    # the same reading on a coarser encoder (fewer counts per rev) is within 64 counts
    coarse = AxisNow(off, True, False, CPR // 4)
    assert reconcile(persisted, {"A": coarse}, TOL_COUNTS, deployed=True).kind == "restore"


def test_out_of_range_while_parked_is_unknown() -> None:
    persisted = snapshot("PARKED", {"A": [0.0, 0.0]})
    out = reconcile(persisted, {"A": axis(0.3, parked=True)}, TOL_COUNTS, deployed=False)
    assert (out.kind, out.state) == ("unknown", "UNKNOWN")
    assert "persisted +0.0000 rev, drive reads +0.3000 rev" in out.message


# ---- reconcile: restore ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persisted_state", "deployed", "restored"),
    [
        ("AT_POSITION", True, "AT_POSITION"),
        ("HOLDING", True, "HOLDING"),
        ("STOPPED", True, "STOPPED"),
        ("PARKED", False, "PARKED"),
        ("MOVING", True, "STOPPED"),  # it was moving: the drives were stopped first
        ("DEPLOYING", True, "STOPPED"),
        ("RETRACTING", True, "STOPPED"),
        ("HOMING", False, "STOPPED"),
        ("PARKED", True, "STOPPED"),  # persisted parked, but a source is out now
    ],
)
def test_restore(persisted_state: str, deployed: bool, restored: str) -> None:
    persisted = snapshot(persisted_state, {"A": [3.0, 3.0], "tt": [0.25, 0.25]})
    now = {"A": axis(3.0 + TOL_REV / 2, parked=not deployed), "tt": axis(0.25)}
    out = reconcile(persisted, now, TOL_COUNTS, deployed=deployed)
    assert (out.kind, out.state) == ("restore", restored)
    assert out.message == (
        f"persisted {persisted_state} agrees with the drives (restored {restored})"
    )
    assert out.details["persisted"] == persisted_state


def test_axis_now_of_a_status_and_of_none() -> None:
    st = DriveStatus(
        moving=True,
        in_position=False,
        alarm=False,
        home_switch=False,
        limit_pos=False,
        limit_neg=False,
        homed=True,
        enabled=True,
        alarm_code=0,
        commanded_rev=1.5,
        encoder_rev=1.25,
        velocity_rev_s=2.0,
        inputs=0,
    )
    assert AxisNow.of(st, 4000) == AxisNow(1.25, True, False, 4000, True)
    assert AxisNow.of(None, 4000) == AxisNow(None, False, False, 4000, False)


# ---- the journal --------------------------------------------------------------------------------


class Sink:
    """Records every write and every sync barrier, in order."""

    def __init__(self) -> None:
        self.log: list[tuple[str, Any]] = []

    def put(self, sql: str, params: tuple[Any, ...]) -> None:
        assert sql == UPSERT
        system, ts, doc = params
        parsed = json.loads(doc)
        assert parsed["ts"] == ts
        self.log.append(("put", (system, parsed)))

    async def sync(self) -> None:
        self.log.append(("sync", None))

    def docs(self) -> list[dict[str, Any]]:
        return [p[1] for kind, p in self.log if kind == "put"]

    def last(self) -> dict[str, Any]:
        return self.docs()[-1]


def journal(sink: Sink, ranges: dict[str, list[float]] | None = None) -> SystemJournal:
    j = SystemJournal("acu", sink, {"state": "PARKED"}, first_start=False)
    if ranges is not None:
        j.ranges = {k: list(v) for k, v in ranges.items()}
    return j


def test_journal_keeps_what_it_was_given() -> None:
    j = SystemJournal("gt", Sink(), None, first_start=True)
    assert (j.system, j.persisted, j.first_start, j.ranges) == ("gt", None, True, {})


def test_record_collapses_standing_and_keeps_moving_ranges() -> None:
    sink = Sink()
    j = journal(sink, {"A": [0.0, 5.0], "B": [1.0, 2.0], "C": [0.0, 0.0]})
    doc = {"state": "FAULT", "homed": True, "position": {"z_m": 1.0}}
    j.record(
        doc,
        {
            "A": axis(4.0),  # standing: collapses
            "B": axis(2.5, moving=True),  # halting after a trip: widened to its reading
            "C": axis(3.0, moving=True),  # moving, point range: widened
            "D": axis(0.5, moving=True),  # moving, no range yet: its reading
            "E": axis(None, homed=False),  # no reading: no range
        },
    )
    assert j.ranges == {"A": [4.0, 4.0], "B": [1.0, 2.5], "C": [0.0, 3.0], "D": [0.5, 0.5]}
    assert [k for k, _ in sink.log] == ["put"]
    system, written = sink.log[0][1]
    assert system == "acu"
    assert written["state"] == "FAULT" and written["position"] == {"z_m": 1.0}
    assert written["ranges"] == j.ranges
    assert written["axes"]["B"] == {"homed": True, "parked": False, "rev": 2.5}
    assert written["axes"]["E"] == {"homed": False, "parked": False, "rev": None}


async def test_extend_inside_the_range_writes_nothing() -> None:
    sink = Sink()
    j = journal(sink, {"A": [1.0, 3.0]})
    for target in (2.0, 1.0, 3.0):
        await j.extend("A", target)
    assert sink.log == []
    assert j.ranges == {"A": [1.0, 3.0]}


async def test_extend_outside_writes_then_waits_for_the_commit() -> None:
    sink = Sink()
    j = journal(sink, {"A": [1.0, 3.0]})
    j.doc = {"state": "AT_POSITION"}
    await j.extend("A", 7.5)
    assert j.ranges["A"] == [1.0, 7.5]
    assert [k for k, _ in sink.log] == ["put", "sync"]
    assert sink.last()["ranges"]["A"] == [1.0, 7.5]
    assert sink.last()["state"] == "AT_POSITION"
    await j.extend("A", -0.5)
    assert j.ranges["A"] == [-0.5, 7.5]
    await j.extend("B", 2.0)  # a drive with no range yet: a point at the target
    assert j.ranges["B"] == [2.0, 2.0]
    assert [k for k, _ in sink.log] == ["put", "sync"] * 3


def test_settle_collapses_only_standing_drives_with_a_span() -> None:
    sink = Sink()
    j = journal(sink, {"A": [0.0, 5.0], "B": [1.0, 4.0], "C": [2.0, 2.0]})
    j.settle({"A": axis(5.0, moving=True), "B": axis(3.5), "C": axis(2.0), "D": axis(1.0)})
    assert j.ranges == {"A": [0.0, 5.0], "B": [3.5, 3.5], "C": [2.0, 2.0]}
    assert len(sink.docs()) == 1 and sink.last()["ranges"] == j.ranges
    j.settle({"A": axis(5.0, moving=True), "B": axis(3.5)})  # nothing changed: no write
    j.settle({"B": axis(None)})  # no reading: kept
    assert len(sink.docs()) == 1


class OrderedSink(Sink):
    """Also notes which drive commands had been sent at each write and sync."""

    def __init__(self, drive: FakeDrive) -> None:
        super().__init__()
        self.drive = drive

    def put(self, sql: str, params: tuple[Any, ...]) -> None:
        super().put(sql, params)
        self.log.append(("commands at put", list(self.drive.commands)))

    async def sync(self) -> None:
        await super().sync()
        self.log.append(("commands at sync", list(self.drive.commands)))


async def test_move_to_journals_before_it_commands() -> None:
    inner = FakeDrive("spool-A", position_rev=0.0, homed=True)
    sink = OrderedSink(inner)
    j = journal(sink, {"A": [0.0, 0.0]})
    drive = JournaledDrive(inner, "A", j)
    assert drive.name == "spool-A"
    await drive.move_to(4.0, 2.0, 10.0)
    assert [k for k, _ in sink.log] == ["put", "commands at put", "sync", "commands at sync"]
    assert sink.log[1][1] == [] and sink.log[3][1] == []  # nothing commanded before the commit
    assert sink.last()["ranges"]["A"] == [0.0, 4.0]
    assert inner.commands == [("move_to", (4.0, 2.0, 10.0))]
    sink.log.clear()
    await drive.move_to(1.0, 2.0, 10.0)  # inside the range: straight to the drive
    assert sink.log == []
    assert inner.commands[-1] == ("move_to", (1.0, 2.0, 10.0))


async def test_home_extends_to_zero_and_the_rest_passes_through() -> None:
    inner = FakeDrive("spool-A", position_rev=3.0, homed=False)
    sink = OrderedSink(inner)
    j = journal(sink, {"A": [2.5, 3.0]})
    drive = JournaledDrive(inner, "A", j)
    await drive.home(1.0)
    assert j.ranges["A"] == [0.0, 3.0]
    assert [k for k, _ in sink.log] == ["put", "commands at put", "sync", "commands at sync"]
    assert sink.log[3][1] == []
    assert inner.commands == [("home", (1.0,))]
    sink.log.clear()
    await drive.stop()
    await drive.halt()
    await drive.reset_alarm()
    status = await drive.read_status()
    assert sink.log == []  # stopping, halting, resetting and reading are never journaled
    assert [c[0] for c in inner.commands[1:]] == ["stop", "halt", "reset_alarm"]
    assert isinstance(status, DriveStatus) and status.encoder_rev == inner.position_rev
