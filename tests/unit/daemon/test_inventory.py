"""The source inventory: config, seeding, the store as authority, every action and refusal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from structlog.testing import capture_logs

from calibd.cfg_inventory import InventoryCfg, SourceCfg, parse_mount
from calibd.core.errors import CommandError, ErrorCode
from calibd.core.outbox import Outbox, Outgoing
from calibd.store.db import Store
from calibd.store.inventory import TOPIC, Inventory
from calibd.store.inventory_rules import SourceRecord
from calibd.store.writer import Writer

FAMILIES = {"acu": "acu", "cls1": "cls", "cls2": "cls", "gt": "gt", "rov": "rov"}
SEED = InventoryCfg.model_validate(
    {
        "sources": [
            {"id": "AmC-1", "kind": "AmC", "activity_bq": 1000.0, "mounted": "acu:A"},
            {"id": "Co60-1", "kind": "Co60", "activity_bq": 5e3},
            {"id": "Cs137-1", "kind": "Cs137", "state": "checked_out"},
            {"id": "Ge68-1", "kind": "Ge68", "state": "inactive"},
            {"id": "laser-1", "kind": "laser", "radioactive": False, "mounted": "cls2"},
        ]
    }
)
HISTORY = "SELECT source, action, from_state, to_state, system, unit, operator, command_id"


class Rig:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.writer = Writer(store)
        self.outbox = Outbox()
        self.inventory = Inventory(self.writer, self.outbox, FAMILIES)

    def drain(self) -> list[Outgoing]:
        items = []
        while (item := self.outbox.get_nowait()) is not None:
            items.append(item)
        return items

    async def rows(self, sql: str) -> list[tuple[Any, ...]]:
        await self.writer.flush()
        return await self.store.call(lambda c: c.execute(sql).fetchall())

    async def history(self) -> list[tuple[Any, ...]]:
        return await self.rows(f"{HISTORY} FROM source_history ORDER BY seq")

    async def sources(self) -> list[tuple[Any, ...]]:
        return await self.rows(
            "SELECT id, kind, activity_bq, radioactive, state, system, unit FROM sources"
            " ORDER BY id"
        )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = Store.in_dir(tmp_path)
    await store.open()
    yield store
    await store.close()


@pytest.fixture
async def rig(store: Store) -> Rig:
    rig = Rig(store)
    await rig.inventory.load(SEED)
    await rig.writer.flush()
    rig.drain()
    return rig


# ---- config ------------------------------------------------------------------------------------


def test_config_parses_mounts_and_defaults() -> None:
    assert parse_mount("acu:B") == ("acu", "B")
    assert parse_mount("cls1") == ("cls1", None)
    cfg = SEED.sources[0]
    assert cfg.slot == ("acu", "A") and cfg.radioactive is True and cfg.state == "in_stock"
    assert SEED.sources[1].slot is None
    assert InventoryCfg().sources == []


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        ([{"id": "a", "kind": "AmC"}, {"id": "a", "kind": "Co60"}], "ids must be unique: a"),
        (
            [
                {"id": "a", "kind": "AmC", "mounted": "gt"},
                {"id": "b", "kind": "Co60", "mounted": "gt"},
            ],
            "one source per mount slot: gt",
        ),
        ([{"id": "a", "kind": "AmC", "mounted": "acu"}], "the ACU needs a unit"),
        ([{"id": "a", "kind": "AmC", "mounted": "acu:a"}], "expected 'acu:<unit>'"),
        ([{"id": "a", "kind": "AmC", "mounted": "cls3"}], "expected 'acu:<unit>'"),
        ([{"id": "a", "kind": "AmC", "mounted": "gt:A"}], "expected 'acu:<unit>'"),
        ([{"id": "Am C", "kind": "AmC"}], "should match pattern"),
        ([{"id": "a/b", "kind": "AmC"}], "should match pattern"),
        ([{"id": "x" * 33, "kind": "AmC"}], "should match pattern"),
        ([{"id": "", "kind": "AmC"}], "should match pattern"),
        ([{"id": "a", "kind": ""}], "at least 1 character"),
        ([{"id": "a", "kind": "AmC", "activity_bq": -1}], "greater than or equal to 0"),
        ([{"id": "a", "kind": "AmC", "mounted": "gt", "state": "inactive"}], "state applies only"),
        ([{"id": "a", "kind": "AmC", "state": "acu_in_use"}], "Input should be"),
        ([{"id": "a", "kind": "AmC", "colour": "red"}], "Extra inputs are not permitted"),
    ],
)
def test_config_refuses(sources: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        InventoryCfg.model_validate({"sources": sources})


def test_config_schema_describes_every_field() -> None:
    schema = InventoryCfg.model_json_schema()
    fields = schema["$defs"]["SourceCfg"]["properties"]
    assert set(fields) == set(SourceCfg.model_fields)
    assert all(f.get("description") for f in fields.values())
    assert schema["properties"]["sources"]["description"]


# ---- seeding and the store as authority ---------------------------------------------------------


async def test_an_empty_store_is_seeded_from_the_config(store: Store) -> None:
    rig = Rig(store)
    await rig.inventory.load(SEED)
    assert await rig.sources() == [
        ("AmC-1", "AmC", 1000.0, 1, "acu_in_use", "acu", "A"),
        ("Co60-1", "Co60", 5000.0, 1, "in_stock", None, None),
        ("Cs137-1", "Cs137", None, 1, "checked_out", None, None),
        ("Ge68-1", "Ge68", None, 1, "inactive", None, None),
        ("laser-1", "laser", None, 0, "cls_in_use", "cls2", None),
    ]
    assert await rig.history() == [
        ("AmC-1", "seed", None, "acu_in_use", "acu", "A", None, None),
        ("Co60-1", "seed", None, "in_stock", None, None, None, None),
        ("Cs137-1", "seed", None, "checked_out", None, None, None, None),
        ("Ge68-1", "seed", None, "inactive", None, None, None, None),
        ("laser-1", "seed", None, "cls_in_use", "cls2", None, None, None),
    ]
    inv = rig.inventory
    amc = inv.mounted("acu", "A")
    assert amc is not None and amc.id == "AmC-1" and amc == inv.get("AmC-1")
    laser = inv.mounted("cls2")
    assert laser is not None and laser.id == "laser-1" and laser.radioactive is False
    assert inv.mounted("acu", "B") is None and inv.mounted("acu") is None
    assert inv.mounted("cls1") is None and inv.get("nope") is None
    assert [r.id for r in inv.records()] == ["AmC-1", "Co60-1", "Cs137-1", "Ge68-1", "laser-1"]
    items = rig.drain()
    assert [(i.kind, i.topic) for i in items] == [("retained", TOPIC)]  # no events for a seed
    assert items[0].payload["sources"] == [r.as_dict() for r in inv.records()]


async def test_the_store_wins_over_a_changed_config(store: Store) -> None:
    first = Rig(store)
    await first.inventory.load(SEED)
    first.inventory.apply("checkout", source="Co60-1", operator="jo")
    await first.writer.flush()
    changed = InventoryCfg.model_validate(
        {
            "sources": [
                {"id": "AmC-1", "kind": "AmC", "activity_bq": 1000.0, "mounted": "acu:A"},
                {"id": "Co60-1", "kind": "Co60", "activity_bq": 7e3, "mounted": "gt"},
                {"id": "new-1", "kind": "Cs137"},
            ]
        }
    )
    second = Rig(store)
    with capture_logs() as logs:
        await second.inventory.load(changed)
    assert [r.as_dict() for r in second.inventory.records()] == [
        r.as_dict() for r in first.inventory.records()
    ]
    co60 = second.inventory.get("Co60-1")
    assert co60 is not None and co60.state == "checked_out" and co60.activity_bq == 5e3
    assert second.inventory.get("new-1") is None and second.inventory.mounted("gt") is None
    warnings = {e["source"]: e for e in logs if e["event"] == "inventory_config_ignored"}
    assert set(warnings) == {"Co60-1", "new-1"}  # AmC-1 agrees with the store
    assert warnings["Co60-1"]["diff"] == {
        "activity_bq": {"config": 7e3, "store": 5e3},
        "state": {"config": "gt_in_use", "store": "checked_out"},
        "system": {"config": "gt", "store": None},
    }
    assert all(e["log_level"] == "warning" for e in warnings.values())
    history = await second.history()
    assert [h[1] for h in history] == ["seed"] * 5 + ["checkout"]  # nothing seeded again
    retained = second.drain()[-1]
    assert retained.topic == TOPIC
    assert [s["id"] for s in retained.payload["sources"]] == [
        "AmC-1",
        "Co60-1",
        "Cs137-1",
        "Ge68-1",
        "laser-1",
    ]


# ---- every action --------------------------------------------------------------------------------


async def test_every_action_in_turn(rig: Rig) -> None:
    inv = rig.inventory
    steps: list[tuple[str, dict[str, Any], str | None, str]] = [
        ("register", {"source": "K40-1", "kind": "K40", "activity_bq": 12.5}, None, "in_stock"),
        ("checkout", {"source": "K40-1"}, "in_stock", "checked_out"),
        ("mount", {"source": "K40-1", "system": "acu", "unit": "B"}, "checked_out", "acu_in_use"),
        ("unmount", {"system": "acu", "unit": "B"}, "acu_in_use", "checked_out"),
        ("return", {"source": "K40-1"}, "checked_out", "in_stock"),
        ("mount", {"source": "K40-1", "system": "cls1"}, "in_stock", "cls_in_use"),
        ("unmount", {"system": "cls1", "source": "K40-1"}, "cls_in_use", "checked_out"),
        ("mount", {"source": "K40-1", "system": "gt"}, "checked_out", "gt_in_use"),
        ("unmount", {"system": "gt"}, "gt_in_use", "checked_out"),
        ("mount", {"source": "K40-1", "system": "rov"}, "checked_out", "rov_in_use"),
        ("unmount", {"system": "rov"}, "rov_in_use", "checked_out"),
        ("deactivate", {"source": "K40-1"}, "checked_out", "inactive"),
        ("reactivate", {"source": "K40-1"}, "inactive", "in_stock"),
        ("deactivate", {"source": "K40-1"}, "in_stock", "inactive"),
    ]
    for n, (action, kwargs, before, after) in enumerate(steps):
        record = inv.apply(action, operator="jo", command_id=f"c{n}", **kwargs)
        assert record.state == after and inv.get("K40-1") == record
        mounted_on = kwargs.get("system") if action == "mount" else None
        assert record.system == mounted_on and record.unit == (
            kwargs.get("unit") if action == "mount" else None
        )
        items = rig.drain()
        assert [i.kind for i in items] == ["event", "retained"]
        event, retained = items
        slot = (kwargs.get("system"), kwargs.get("unit"))
        assert event.system == slot[0]
        assert event.payload == {
            "event": "inventory",
            "action": action,
            "source": "K40-1",
            "from": before,
            "to": after,
            "system": slot[0],
            "unit": slot[1],
            "operator": "jo",
            "id": f"c{n}",
            "ts": record.updated,
        }
        assert retained.topic == TOPIC
        assert record.as_dict() in retained.payload["sources"]
    history = [h for h in await rig.history() if h[0] == "K40-1"]
    assert history == [
        ("K40-1", action, before, after, *_slot(action, kwargs), "jo", f"c{n}")
        for n, (action, kwargs, before, after) in enumerate(steps)
    ]
    row = [s for s in await rig.sources() if s[0] == "K40-1"]
    assert row == [("K40-1", "K40", 12.5, 1, "inactive", None, None)]


def _slot(action: str, kwargs: dict[str, Any]) -> tuple[str | None, str | None]:
    if action in {"mount", "unmount"}:
        return kwargs.get("system"), kwargs.get("unit")
    return None, None


async def test_register_keeps_what_it_is_given(rig: Rig) -> None:
    record = rig.inventory.apply(
        "register", source="temp.probe_2", kind="temperature", radioactive=False
    )
    assert record == SourceRecord(
        "temp.probe_2", "temperature", None, False, "in_stock", None, None, record.updated
    )
    assert ("temp.probe_2", "temperature", None, 0, "in_stock", None, None) in await rig.sources()


async def test_unmount_frees_the_slot_for_another_source(rig: Rig) -> None:
    inv = rig.inventory
    inv.apply("unmount", system="acu", unit="A")
    assert inv.mounted("acu", "A") is None
    inv.apply("mount", source="Co60-1", system="acu", unit="A")
    inv.apply("mount", source="AmC-1", system="acu", unit="C")
    a, c = inv.mounted("acu", "A"), inv.mounted("acu", "C")
    assert a is not None and a.id == "Co60-1" and c is not None and c.id == "AmC-1"


# ---- refusals ------------------------------------------------------------------------------------

KNOWN = "known: AmC-1, Co60-1, Cs137-1, Ge68-1, laser-1"
REFUSALS: list[tuple[str, dict[str, Any], ErrorCode, str]] = [
    ("fly", {"source": "Co60-1"}, ErrorCode.UNKNOWN_ACTION, "unknown inventory action 'fly'"),
    ("checkout", {}, ErrorCode.BAD_REQUEST, "checkout needs a source id"),
    ("checkout", {"source": "Co57"}, ErrorCode.OUT_OF_RANGE, f"unknown source 'Co57'; {KNOWN}"),
    ("mount", {"source": "Co57", "system": "gt"}, ErrorCode.OUT_OF_RANGE, KNOWN),
    ("register", {"kind": "AmC"}, ErrorCode.BAD_REQUEST, "register needs a new source id"),
    ("register", {"source": "a b", "kind": "AmC"}, ErrorCode.OUT_OF_RANGE, "bad source id 'a b'"),
    ("register", {"source": "x" * 33, "kind": "AmC"}, ErrorCode.OUT_OF_RANGE, "bad source id"),
    (
        "register",
        {"source": "Co60-1", "kind": "Co60"},
        ErrorCode.INVALID_STATE,
        "already registered .*register it under a new id",
    ),
    ("register", {"source": "n"}, ErrorCode.BAD_REQUEST, "register needs the source's kind"),
    ("register", {"source": "n", "kind": " "}, ErrorCode.BAD_REQUEST, "needs the source's kind"),
    ("register", {"source": "n", "kind": "k" * 65}, ErrorCode.OUT_OF_RANGE, "longer than 64"),
    (
        "register",
        {"source": "n", "kind": "AmC", "activity_bq": -1.0},
        ErrorCode.OUT_OF_RANGE,
        "activity_bq must be >= 0",
    ),
    (
        "register",
        {"source": "n", "kind": "AmC", "activity_bq": float("nan")},
        ErrorCode.OUT_OF_RANGE,
        "activity_bq must be >= 0",
    ),
    (
        "checkout",
        {"source": "Cs137-1"},
        ErrorCode.INVALID_STATE,
        "cannot checkout source Cs137-1: it is checked_out; nothing to do",
    ),
    ("return", {"source": "Co60-1"}, ErrorCode.INVALID_STATE, "it is in_stock; nothing to do"),
    ("checkout", {"source": "Ge68-1"}, ErrorCode.INVALID_STATE, "reactivate it first"),
    ("return", {"source": "Ge68-1"}, ErrorCode.INVALID_STATE, "reactivate it first"),
    ("deactivate", {"source": "Ge68-1"}, ErrorCode.INVALID_STATE, "inactive; nothing to do"),
    (
        "reactivate",
        {"source": "Cs137-1"},
        ErrorCode.INVALID_STATE,
        "reactivate applies only to a source that is inactive",
    ),
    (
        "deactivate",
        {"source": "AmC-1"},
        ErrorCode.INVALID_STATE,
        "it is acu_in_use on acu unit A; unmount it from acu unit A first",
    ),
    ("checkout", {"source": "laser-1"}, ErrorCode.INVALID_STATE, "unmount it from cls2 first"),
    (
        "mount",
        {"source": "Ge68-1", "system": "gt"},
        ErrorCode.INVALID_STATE,
        "cannot mount source Ge68-1: it is inactive; reactivate it first",
    ),
    (
        "mount",
        {"source": "AmC-1", "system": "acu", "unit": "B"},
        ErrorCode.INVALID_STATE,
        "unmount it from acu unit A first",
    ),
    (
        "mount",
        {"source": "Co60-1", "system": "acu", "unit": "A"},
        ErrorCode.INVALID_STATE,
        "acu unit A already holds source AmC-1: unmount it first",
    ),
    (
        "mount",
        {"source": "Co60-1", "system": "cls2"},
        ErrorCode.INVALID_STATE,
        "cls2 already holds source laser-1",
    ),
    ("mount", {"source": "Co60-1"}, ErrorCode.BAD_REQUEST, "mount needs a system"),
    ("mount", {"source": "Co60-1", "system": "moon"}, ErrorCode.OUT_OF_RANGE, "unknown system"),
    ("mount", {"source": "Co60-1", "system": "acu"}, ErrorCode.BAD_REQUEST, "needs a unit"),
    (
        "mount",
        {"source": "Co60-1", "system": "cls1", "unit": "A"},
        ErrorCode.BAD_REQUEST,
        "cls1 has no units",
    ),
    ("unmount", {"unit": "A"}, ErrorCode.BAD_REQUEST, "unmount needs a system"),
    ("unmount", {"system": "acu"}, ErrorCode.BAD_REQUEST, "unmount on acu needs a unit"),
    (
        "unmount",
        {"system": "acu", "unit": "B"},
        ErrorCode.INVALID_STATE,
        "nothing is mounted on acu unit B",
    ),
    ("unmount", {"system": "gt"}, ErrorCode.INVALID_STATE, "nothing is mounted on gt"),
    (
        "unmount",
        {"system": "cls2", "source": "Co60-1"},
        ErrorCode.INVALID_STATE,
        "cls2 holds source laser-1, not Co60-1",
    ),
]


@pytest.mark.parametrize(
    ("action", "kwargs", "code", "message"),
    REFUSALS,
    ids=[f"{a}-{m[:30]}" for a, _, _, m in REFUSALS],
)
async def test_a_refusal_changes_nothing(
    rig: Rig, action: str, kwargs: dict[str, Any], code: ErrorCode, message: str
) -> None:
    inv = rig.inventory
    records = inv.records()
    slots = {(s, u): inv.mounted(s, u) for s in FAMILIES for u in (None, "A", "B")}
    history = await rig.history()
    sources = await rig.sources()
    with pytest.raises(CommandError, match=message) as caught:
        inv.apply(action, operator="jo", command_id="x1", **kwargs)
    assert caught.value.code == code
    assert inv.records() == records
    assert {(s, u): inv.mounted(s, u) for s in FAMILIES for u in (None, "A", "B")} == slots
    assert rig.drain() == []
    assert await rig.history() == history
    assert await rig.sources() == sources
