"""The deployment log: records and stops from the statuses, events, summary, restart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from calibd.core.outbox import Outbox, Outgoing
from calibd.store.db import Store
from calibd.store.deployment_book import SUMMARY_TOPIC
from calibd.store.deployments import DeploymentLog
from calibd.store.writer import Writer

SYSTEMS = ("acu", "cls1", "cls2", "gt", "rov")


def status(
    system: str,
    state: str,
    deployed: bool | None,
    ts: str,
    position: dict[str, Any] | None = None,
    command: str | None = None,
    source: str | None = None,
    homed: bool = True,
) -> Outgoing:
    doc = {
        "system": system,
        "state": state,
        "ts": ts,
        "homed": homed,
        "deployed": deployed,
        "source": source,
        "position": position or {},
        "command": None if command is None else {"id": command, "action": "x"},
    }
    return Outgoing("status", system, doc)


def accepted(
    cmd_id: str, system: str, operator: str | None, program: str | None = None
) -> Outgoing:
    doc: dict[str, Any] = {"event": "command", "id": cmd_id, "system": system, "action": "x"}
    doc.update(result="accepted", operator=operator, ts="t")
    if program is not None:
        doc["program"] = program
    return Outgoing("event", system, doc)


class Rig:
    """A store, its writer, an outbox and a DeploymentLog tapping it (as app.py wires it)."""

    def __init__(self, path: Path, session: int = 1) -> None:
        self.path = path
        self.session = session
        self.store = Store.in_dir(path)
        self.outbox = Outbox()
        self.writer = Writer(self.store)
        self.log = DeploymentLog(self.writer, self.outbox, systems=SYSTEMS, session=session)
        self.outbox.taps.append(self.log.tap)

    async def start(self) -> Rig:
        await self.store.open()
        await self.log.load()
        return self

    def feed(self, *items: Outgoing) -> None:
        for item in items:
            if item.kind == "status":
                assert item.system is not None
                self.outbox.status(item.system, item.payload)
            else:
                self.outbox.put(item)

    def drain(self) -> list[Outgoing]:
        out = []
        while (item := self.outbox.get_nowait()) is not None:
            out.append(item)
        return out

    def changes(self) -> list[tuple[str, str, str]]:
        """(change, system, ts) of every deployment event queued since the last call."""
        return [
            (i.payload["change"], i.payload["system"], i.payload["ts"])
            for i in self.drain()
            if i.kind == "event" and i.payload.get("event") == "deployment"
        ]

    def summary(self) -> dict[str, Any]:
        return self.outbox.latest_retained()[SUMMARY_TOPIC]

    async def rows(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        await self.writer.flush()
        records = await self.store.call(
            lambda c: c.execute(
                "SELECT id, system, unit, source, operator, program, command_ids, session,"
                " started, ended, outcome FROM deployments ORDER BY started, id"
            ).fetchall()
        )
        stops = await self.store.call(
            lambda c: c.execute(
                "SELECT deployment, n, state, position, arrived, departed FROM stops"
                " ORDER BY deployment, n"
            ).fetchall()
        )
        return records, stops

    async def stop(self) -> None:
        await self.writer.flush()
        await self.store.close()


def acu(z_m: float | None, unit: str | None = "A") -> dict[str, Any]:
    return {"z_m": z_m, "unit": unit}


async def test_a_full_acu_excursion(tmp_path: Path) -> None:
    rig = await Rig(tmp_path).start()
    assert rig.summary()["total"] == 0 and rig.summary()["open"] == []
    rig.feed(
        status("acu", "PARKED", False, "t00", acu(17.4)),
        accepted("c1", "acu", "jo", program="calib-7"),
        status("acu", "DEPLOYING", True, "t01", acu(17.0), "c1", "AmC-1"),
    )
    for k in range(2, 6):  # 50 Hz while moving: nothing new
        rig.feed(status("acu", "DEPLOYING", True, f"t0{k}", acu(17.0 - k), "c1", "AmC-1"))
    rig.feed(status("acu", "AT_POSITION", True, "t10", acu(5.0), None, "AmC-1"))
    rig.feed(status("acu", "AT_POSITION", True, "t11", acu(5.0001), None, "AmC-1"))
    assert rig.changes() == [("opened", "acu", "t01"), ("arrived", "acu", "t10")]
    opened = rig.log.open_record("acu")
    assert opened is not None
    assert (opened["source"], opened["unit"], opened["operator"], opened["program"]) == (
        "AmC-1",
        "A",
        "jo",
        "calib-7",
    )
    assert opened["stops"] == [
        {"position": acu(5.0), "arrived": "t10", "departed": None, "state": "AT_POSITION"}
    ]
    assert rig.summary()["open"] == [opened] and rig.summary()["total"] == 1
    rig.feed(
        accepted("c2", "acu", "kim"),
        status("acu", "MOVING", True, "t20", acu(4.0), "c2", "AmC-1"),
        status("acu", "AT_POSITION", True, "t30", acu(-3.0), None, "AmC-1"),
        accepted("c3", "acu", "kim"),
        status("acu", "RETRACTING", True, "t40", acu(0.0), "c3", "AmC-1"),
        status("acu", "RETRACTING", True, "t41", acu(16.0), "c3", "AmC-1"),
        status("acu", "PARKED", False, "t50", acu(17.4), "c3", "AmC-1"),
        status("acu", "PARKED", False, "t51", acu(17.4), None, "AmC-1"),
    )
    assert rig.changes() == [
        ("departed", "acu", "t20"),
        ("arrived", "acu", "t30"),
        ("departed", "acu", "t40"),
        ("closed", "acu", "t50"),
    ]
    assert rig.log.open_record("acu") is None
    summary = rig.summary()
    assert summary["ts"] == "t50" and summary["open"] == [] and summary["total"] == 1
    (done,) = summary["recent"]
    assert done["command_ids"] == ["c1", "c2", "c3"]
    assert (done["ended"], done["outcome"], done["operator"]) == ("t50", "parked", "jo")
    assert [(s["arrived"], s["departed"], s["position"]["z_m"]) for s in done["stops"]] == [
        ("t10", "t20", 5.0),
        ("t30", "t40", -3.0),
    ]
    records, stops = await rig.rows()
    await rig.stop()
    assert records == [
        (
            "acu-1-1",
            "acu",
            "A",
            "AmC-1",
            "jo",
            "calib-7",
            '["c1", "c2", "c3"]',
            1,
            "t01",
            "t50",
            "parked",
        )
    ]
    assert [(s[1], s[2], json.loads(s[3]), s[4], s[5]) for s in stops] == [
        (1, "AT_POSITION", {"z_m": 5.0, "unit": "A"}, "t10", "t20"),
        (2, "AT_POSITION", {"z_m": -3.0, "unit": "A"}, "t30", "t40"),
    ]


async def test_cls_and_rov_excursions_keep_their_own_position_keys(tmp_path: Path) -> None:
    rig = await Rig(tmp_path).start()
    cls = {"x_m": 1.5, "z_m": 3.25}
    rov = {"x_m": 1.0, "y_m": -2.0, "z_m": 4.0}
    rig.feed(
        accepted("d1", "cls1", "ann"),
        status("cls1", "DEPLOYING", True, "c1", {"x_m": 0.0, "z_m": 17.0}, "d1", "Co-60"),
        status("cls1", "AT_POSITION", True, "c2", cls, None, "Co-60"),
        status("cls1", "FAULT", True, "c3", cls, None, "Co-60"),  # at rest still: a new stop
        status("cls1", "STOPPED", True, "c4", cls, None, "Co-60"),
        accepted("r1", "rov", "bo"),
        status("rov", "LAUNCHING", True, "r1", {"x_m": 0.0, "y_m": 0.0, "z_m": 17.0}, "r1"),
        status("rov", "NAVIGATING", True, "r2", {"x_m": 0.5, "y_m": -1.0, "z_m": 9.0}, "r1"),
        status("rov", "HOLDING", True, "r3", rov, None),
        status("rov", "RETURNING", True, "r4", rov, None),
        status("rov", "RECOVERING", True, "r5", {"x_m": 0.0, "y_m": 0.0, "z_m": 17.0}),
        status("rov", "PARKED", False, "r6", {"x_m": None, "y_m": None, "z_m": None}),
    )
    assert rig.changes() == [
        ("opened", "cls1", "c1"),
        ("arrived", "cls1", "c2"),
        ("departed", "cls1", "c3"),
        ("arrived", "cls1", "c3"),
        ("departed", "cls1", "c4"),
        ("arrived", "cls1", "c4"),
        ("opened", "rov", "r1"),
        ("arrived", "rov", "r3"),
        ("departed", "rov", "r4"),
        ("closed", "rov", "r6"),
    ]
    still = rig.log.open_record("cls1")
    assert still is not None and still["unit"] is None and still["operator"] == "ann"
    assert [(s["state"], s["position"], s["departed"]) for s in still["stops"]] == [
        ("AT_POSITION", cls, "c3"),
        ("FAULT", cls, "c4"),
        ("STOPPED", cls, None),
    ]
    summary = rig.summary()
    assert [r["id"] for r in summary["open"]] == ["cls1-1-1"]
    assert [r["id"] for r in summary["recent"]] == ["rov-1-2"]
    assert summary["recent"][0]["stops"][0]["position"] == rov
    records, stops = await rig.rows()
    await rig.stop()
    assert [(r[0], r[4], r[9], r[10]) for r in records] == [
        ("cls1-1-1", "ann", None, None),
        ("rov-1-2", "bo", "r6", "parked"),
    ]
    assert [(s[0], s[2], json.loads(s[3])) for s in stops if s[0] == "rov-1-2"] == [
        ("rov-1-2", "HOLDING", rov)
    ]


async def test_what_the_log_ignores(tmp_path: Path) -> None:
    rig = await Rig(tmp_path).start()
    rig.drain()
    rig.feed(
        # the first status of a system is published before its drives were read
        status("gt", "UNKNOWN", True, "g0", {"theta_deg": None}, homed=False),
        status("house", "OPEN", True, "h0"),  # not a deployment system
        status("gt", "UNKNOWN", None, "g1"),  # `deployed` not known
        Outgoing("event", "gt", {"event": "deployment", "change": "opened"}),
        Outgoing("event", "gt", {"event": "command", "id": "x", "result": "rejected"}),
        Outgoing("status", "gt", {"garbage": True}),  # never raises
        Outgoing("status", "gt", {"state": "AT_POSITION", "deployed": True, "position": 7}),
        # off the switch, but the position is not known (power-on, before homing)
        status("gt", "UNKNOWN", True, "g2", {"theta_deg": None}, homed=False),
        Outgoing(
            "status",
            "gt",
            {"state": "AT_POSITION", "deployed": True, "homed": True, "position": 7},
        ),
    )
    queued = rig.drain()
    assert [i.payload.get("change") for i in queued if i.kind == "event"] == [
        "opened",  # what was put, not ours
        None,
        "opened",  # the malformed status still opened a record: deployed, at rest
        "arrived",
    ]
    record = rig.log.open_record("gt")
    assert record is not None and record["stops"][0]["position"] == {}
    assert rig.log.open_record("house") is None
    await rig.stop()


async def test_operator_arrives_after_the_status_that_opened_the_record(tmp_path: Path) -> None:
    rig = await Rig(tmp_path).start()
    rig.feed(
        status("gt", "DEPLOYING", True, "g1", {"theta_deg": 0.0}, "k1", "Cs-137"),
        accepted("k1", "gt", "lee", program="scan"),
    )
    record = rig.log.open_record("gt")
    assert record is not None and (record["operator"], record["program"]) == ("lee", "scan")
    assert rig.summary()["open"][0]["operator"] == "lee"
    records, _ = await rig.rows()
    await rig.stop()
    assert [(r[4], r[5]) for r in records] == [("lee", "scan")]


async def _leave_at_position(path: Path) -> str:
    """Session 1: the ACU deployed and at rest at z = 5 m when the daemon dies."""
    rig = await Rig(path).start()
    rig.feed(
        accepted("c1", "acu", "jo"),
        status("acu", "DEPLOYING", True, "t01", acu(17.0), "c1", "AmC-1"),
        status("acu", "AT_POSITION", True, "t10", acu(5.0), None, "AmC-1"),
    )
    record = rig.log.open_record("acu")
    assert record is not None
    await rig.stop()
    return str(record["id"])


async def test_restart_continues_the_record_and_its_stop(tmp_path: Path) -> None:
    first = await _leave_at_position(tmp_path)
    rig = await Rig(tmp_path, session=2).start()
    assert [r["id"] for r in rig.summary()["open"]] == [first]
    rig.drain()
    rig.feed(
        status("acu", "UNKNOWN", True, "t20", acu(None), homed=False),  # before the first poll
        status("acu", "AT_POSITION", True, "t21", acu(5.0004), None, "AmC-1"),
    )
    assert rig.changes() == []
    record = rig.log.open_record("acu")
    assert record is not None and record["id"] == first and record["session"] == 1
    assert [(s["arrived"], s["departed"]) for s in record["stops"]] == [("t10", None)]
    rig.feed(
        accepted("c2", "acu", "kim"),
        status("acu", "RETRACTING", True, "t30", acu(5.0), "c2", "AmC-1"),
        status("acu", "PARKED", False, "t40", acu(17.4), None, "AmC-1"),
    )
    assert rig.changes() == [("departed", "acu", "t30"), ("closed", "acu", "t40")]
    records, stops = await rig.rows()
    await rig.stop()
    assert [(r[0], r[6], r[7], r[9], r[10]) for r in records] == [
        (first, '["c1", "c2"]', 1, "t40", "parked")
    ]
    assert [(s[1], s[4], s[5]) for s in stops] == [(1, "t10", "t30")]


async def test_restart_elsewhere_departs_the_stop(tmp_path: Path) -> None:
    first = await _leave_at_position(tmp_path)
    rig = await Rig(tmp_path, session=2).start()
    rig.drain()
    rig.feed(status("acu", "STOPPED", True, "t20", acu(5.2), None, "AmC-1"))
    assert rig.changes() == [("departed", "acu", "t20"), ("arrived", "acu", "t20")]
    record = rig.log.open_record("acu")
    assert record is not None and record["id"] == first
    assert [(s["state"], s["position"]["z_m"], s["departed"]) for s in record["stops"]] == [
        ("AT_POSITION", 5.0, "t20"),
        ("STOPPED", 5.2, None),
    ]
    _, stops = await rig.rows()
    await rig.stop()
    assert [(s[1], s[2], s[5]) for s in stops] == [(1, "AT_POSITION", "t20"), (2, "STOPPED", None)]


async def test_restart_parked_closes_the_record_parked_while_down(tmp_path: Path) -> None:
    first = await _leave_at_position(tmp_path)
    rig = await Rig(tmp_path, session=1).start()  # even the same session: ids stay unique
    rig.drain()
    rig.feed(status("acu", "PARKED", False, "t20", acu(17.4), None, "AmC-1"))
    assert rig.changes() == [("departed", "acu", "t20"), ("closed", "acu", "t20")]
    assert rig.summary()["recent"][0]["outcome"] == "parked_while_down"
    rig.feed(status("acu", "DEPLOYING", True, "t30", acu(16.0), None, "AmC-1"))
    assert rig.changes() == [("opened", "acu", "t30")]
    records, stops = await rig.rows()
    await rig.stop()
    assert [(r[0], r[4], r[9], r[10]) for r in records] == [
        (first, "jo", "t20", "parked_while_down"),
        ("acu-1-2", None, None, None),  # no command in the status: operator unknown
    ]
    assert [(s[0], s[5]) for s in stops] == [(first, "t20")]


async def test_a_source_found_out_at_start_opens_a_record(tmp_path: Path) -> None:
    rig = await Rig(tmp_path).start()
    rig.drain()
    rig.feed(
        status("cls2", "UNKNOWN", True, "s0", {"x_m": None, "z_m": None}, homed=False),
        status("cls2", "FAULT", True, "s1", {"x_m": None, "z_m": None}, homed=False),
    )
    assert rig.changes() == [("opened", "cls2", "s1"), ("arrived", "cls2", "s1")]
    record = rig.log.open_record("cls2")
    assert record is not None and record["operator"] is None and record["command_ids"] == []
    await rig.stop()


async def test_a_program_daq_window_lands_on_its_stop_and_in_the_export(tmp_path: Path) -> None:
    from calibd.store.export import read_records, to_csv

    rig = await Rig(tmp_path).start()
    rig.feed(
        status("acu", "PARKED", False, "t00", acu(17.4)),
        accepted("r.1.deploy.ab", "acu", "jo", program="weekly-r1"),
        status("acu", "DEPLOYING", True, "t01", acu(17.0), "r.1.deploy.ab", "AmC-1"),
        status("acu", "AT_POSITION", True, "t10", acu(5.0), None, "AmC-1"),
    )
    window = {"id": "r.1.daq", "run": "weekly-r1", "step": 1, "point": 1, "ok": True}
    window.update(start="t11", end="t12", mode="dwell")
    daq = {"event": "daq", "system": "acu", "ts": "t12", "source": "AmC-1", **window}
    rig.feed(Outgoing("event", "acu", daq))
    # a window without a stop (nothing deployed on gt) is ignored, not an error
    rig.feed(Outgoing("event", "gt", {**daq, "system": "gt"}))
    changes = rig.changes()
    assert ("daq", "acu", "t12") in changes and all(c[1] != "gt" for c in changes)
    opened = rig.log.open_record("acu")
    assert opened is not None and opened["program"] == "weekly-r1"
    assert opened["stops"][0]["daq"] == window
    rig.feed(status("acu", "PARKED", False, "t20", acu(17.4)))
    await rig.stop()
    records = read_records(tmp_path / "calibd.sqlite3", None)
    assert records[0]["stops"][0]["daq"] == window
    header, row = to_csv(records).splitlines()[:2]
    cells = dict(zip(header.split(","), row.split(","), strict=True))
    assert (cells["daq_start"], cells["daq_end"], cells["daq_request"]) == ("t11", "t12", "r.1.daq")
