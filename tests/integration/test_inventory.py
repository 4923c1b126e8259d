"""The source inventory over the real stack: the retained inventory, the mounted source in the
ACU's status, the expert mount/unmount and source-store actions and their refusals, their
events, and their history rows in the store."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from calibd.config import load_config
from calibd.store.db import FILENAME
from tests.conftest import Broker
from tests.integration.stack import hil_stack
from tests.mqtt_probe import Probe

pytestmark = pytest.mark.integration

EXPERT = "expert-jane"
_ids = itertools.count()


async def expert(p: Probe, system: str, action: str, args: dict[str, Any]) -> dict[str, Any]:
    """A maintenance command on `{system}/expert/cmd`; its first reply (accepted/rejected)."""
    cmd_id = f"x-{system}-{action}-{next(_ids)}"
    doc = {"id": cmd_id, "action": action, "args": args, "operator": EXPERT}
    await p.publish(f"{system}/expert/cmd", doc)
    return await p.ack(cmd_id, system)


async def done(p: Probe, system: str, action: str, args: dict[str, Any]) -> str:
    """An expert command that must be accepted and complete; its id."""
    ack = await expert(p, system, action, args)
    assert ack["result"] == "accepted", ack
    final = await p.final(ack["id"], system, timeout_s=10.0)
    assert final["result"] == "completed", final
    return str(ack["id"])


async def refused(p: Probe, system: str, action: str, args: dict[str, Any]) -> str:
    """An expert command that must be rejected; its error code."""
    ack = await expert(p, system, action, args)
    assert ack["result"] == "rejected" and ack["final"] is True, ack
    return str(ack["error"]["code"])


def sources(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in doc["sources"]}


async def test_inventory_expert_actions(mosquitto: Broker, tmp_path: Path) -> None:
    async with hil_stack(mosquitto, tmp_path) as stack:
        p = stack.probe
        configured = load_config(stack.config).inventory.sources
        inventory = await p.wait(lambda: p.last("inventory"), 10.0, "retained inventory")
        assert set(sources(inventory)) == {s.id for s in configured}
        amc = sources(inventory)["AmC-1"]
        assert (amc["state"], amc["system"], amc["unit"]) == ("acu_in_use", "acu", "A")
        assert sources(inventory)["Cs137-1"]["state"] == "in_stock"

        await stack.home()
        await p.status("acu", lambda s: s["state"] == "PARKED" and s["source"] == "AmC-1")

        # maintenance actions only on the expert topic, operator actions only on the other
        cmd = await p.send("acu", "mount", {"source": "Cs137-1", "unit": "A"})
        assert (await p.ack(cmd))["error"]["code"] == "unauthorized"
        assert await refused(p, "acu", "home", {}) == "unknown_action"

        unmounted = await done(p, "acu", "unmount", {"unit": "A"})
        await p.status("acu", lambda s: s["source"] is None)
        assert await refused(p, "acu", "mount", {"source": "AmC-1", "unit": "Z"}) == "out_of_range"
        assert await refused(p, "acu", "mount", {"source": "Co60-1", "unit": "A"}) == (
            "invalid_state"  # Co60-1 is mounted on unit B
        )
        mounted = await done(p, "acu", "mount", {"source": "Cs137-1", "unit": "A"})
        await p.status("acu", lambda s: s["source"] == "Cs137-1")

        assert (await p.run("acu", "deploy", {"unit": "A", "z_m": 15.0}))["result"] == "completed"
        status = await p.status("acu", lambda s: s["state"] == "AT_POSITION")
        assert status["deployed"] is True and status["source"] == "Cs137-1", status
        assert await refused(p, "acu", "unmount", {"unit": "A"}) == "invalid_state"
        assert await refused(p, "acu", "mount", {"source": "Mn54-1", "unit": "A"}) == (
            "invalid_state"
        )

        # the source store, on the house's expert topic
        cmd = await p.send("house", "checkout", {"source": "Mn54-1"})
        assert (await p.ack(cmd, "house"))["error"]["code"] == "unauthorized"
        checkout = await done(p, "house", "checkout", {"source": "Mn54-1"})
        assert await refused(p, "house", "checkout", {"source": "Mn54-1"}) == "invalid_state"
        returned = await done(p, "house", "return", {"source": "Mn54-1"})
        deactivated = await done(p, "house", "deactivate", {"source": "K40-1"})
        assert await refused(p, "house", "return", {"source": "K40-1"}) == "invalid_state"
        assert await refused(p, "house", "checkout", {"source": "Cs137-1"}) == "invalid_state"
        assert await refused(p, "house", "checkout", {"source": "Pu-9"}) == "out_of_range"
        assert await refused(p, "house", "checkout", {}) == "bad_request"

        ids = [unmounted, mounted, checkout, returned, deactivated]
        events = await p.wait(
            lambda: (
                got
                if len(got := [e for e in p.on("events") if e.get("event") == "inventory"]) >= 5
                else None
            ),
            5.0,
            "inventory events",
        )
        assert [(e["action"], e["source"], e["from"], e["to"]) for e in events] == [
            ("unmount", "AmC-1", "acu_in_use", "checked_out"),
            ("mount", "Cs137-1", "in_stock", "acu_in_use"),
            ("checkout", "Mn54-1", "in_stock", "checked_out"),
            ("return", "Mn54-1", "checked_out", "in_stock"),
            ("deactivate", "K40-1", "in_stock", "inactive"),
        ]
        assert [(e["id"], e["operator"]) for e in events] == [(i, EXPERT) for i in ids]
        assert [(e["system"], e["unit"]) for e in events[:2]] == [("acu", "A")] * 2

        final = sources(p.last("inventory"))
        assert {k: final[k]["state"] for k in ("AmC-1", "Cs137-1", "Mn54-1", "K40-1")} == {
            "AmC-1": "checked_out",
            "Cs137-1": "acu_in_use",
            "Mn54-1": "in_stock",
            "K40-1": "inactive",
        }
        assert (final["Cs137-1"]["system"], final["Cs137-1"]["unit"]) == ("acu", "A")

    db = load_config(stack.config).state.dir / FILENAME
    with sqlite3.connect(db) as conn:
        seeded = conn.execute(
            "SELECT source FROM source_history WHERE action = 'seed' ORDER BY source"
        ).fetchall()
        history = conn.execute(
            "SELECT source, action, from_state, to_state, system, unit, operator, command_id"
            " FROM source_history WHERE action != 'seed' ORDER BY seq"
        ).fetchall()
    assert sorted(r[0] for r in seeded) == sorted(s.id for s in configured)
    assert history == [
        ("AmC-1", "unmount", "acu_in_use", "checked_out", "acu", "A", EXPERT, unmounted),
        ("Cs137-1", "mount", "in_stock", "acu_in_use", "acu", "A", EXPERT, mounted),
        ("Mn54-1", "checkout", "in_stock", "checked_out", None, None, EXPERT, checkout),
        ("Mn54-1", "return", "checked_out", "in_stock", None, None, EXPERT, returned),
        ("K40-1", "deactivate", "in_stock", "inactive", None, None, EXPERT, deactivated),
    ]
