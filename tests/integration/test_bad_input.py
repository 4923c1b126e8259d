"""Every applicable error code of the contract, over the real broker; after each of them
nothing moved and the daemon is still online."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import Broker
from tests.integration.stack import hil_stack

pytestmark = pytest.mark.integration


async def test_rejections(mosquitto: Broker, tmp_path: Path) -> None:
    async with hil_stack(mosquitto, tmp_path) as stack:
        p = stack.probe
        before = stack.acu()

        async def rejected(
            payload: bytes | dict[str, object], code: str, cmd_id: str | None, **kw: object
        ) -> None:
            await p.publish("acu/cmd", payload, **kw)
            rep = await p.wait(
                lambda: [
                    r
                    for r in p.on("acu/reply")
                    if r.get("id") == cmd_id and r.get("error") and r["error"]["code"] == code
                ],
                5.0,
                f"rejection {code}",
            )
            assert rep[0]["result"] == "rejected" and rep[0]["final"] is True

        def cid() -> str:
            return f"bad-{uuid.uuid4().hex[:8]}"

        await rejected(b"{not json", "bad_json", None)
        await rejected({"action": "home"}, "bad_request", None)
        await rejected({"id": "", "action": "home"}, "bad_request", None)
        await rejected({"id": "x" * 65, "action": "home"}, "bad_request", None)
        i = cid()
        await rejected({"id": i, "action": "fly"}, "unknown_action", i)
        i = cid()
        await rejected(
            {"id": i, "action": "deploy", "args": {"unit": "A", "z_m": "deep"}}, "bad_request", i
        )
        i = cid()
        await rejected(
            {"id": i, "action": "deploy", "args": {"unit": "A", "z_m": True}}, "bad_request", i
        )
        i = cid()
        await rejected(
            {"id": i, "action": "deploy", "args": {"unit": "A", "z_m": 1, "x": 2}}, "bad_request", i
        )
        i = cid()
        await rejected(
            {"id": i, "action": "deploy", "args": {"unit": "A", "z_m": -17.65}}, "out_of_range", i
        )
        i = cid()
        await rejected(
            {"id": i, "action": "deploy", "args": {"unit": "Q", "z_m": 1.0}}, "out_of_range", i
        )
        i = cid()
        await rejected({"id": i, "action": "move", "args": {"z_m": 1.0}}, "invalid_state", i)
        i = cid()
        await rejected(
            {"id": i, "action": "deploy", "args": {"unit": "A", "z_m": 1.0}}, "invalid_state", i
        )
        i = cid()
        await rejected({"id": i, "action": "home"}, "retained", i, retain=True)
        i = cid()
        past = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
        await rejected({"id": i, "action": "home", "expires_at": past}, "expired", i)

        # the retained command was removed from the broker, never executed
        assert stack.acu()["state"] == "UNKNOWN"

        # busy: a second motion while homing; duplicate: an id used before
        home_id = await p.send("acu", "home")
        busy_id = await p.send("acu", "select", {"unit": "B"})
        busy = await p.ack(busy_id)
        assert busy["result"] == "rejected" and busy["error"]["code"] == "busy", busy
        await p.publish("acu/cmd", {"id": home_id, "action": "status"})
        dup = await p.wait(
            lambda: [r for r in p.replies(home_id) if r.get("error")], 5.0, "duplicate"
        )
        assert dup[0]["error"]["code"] == "duplicate"
        done = (
            await p.wait(
                lambda: [r for r in p.replies(home_id) if r["final"] and r["action"] == "home"],
                40.0,
                "home completes",
            )
        )[0]
        assert done["result"] == "completed", done

        # global topic: unknown action, reply on {root}/reply
        gid = await p.send(None, "launch")
        g = await p.ack(gid, None)
        assert g["error"]["code"] == "unknown_action"

        # unknown system
        await p.publish("nosuch/cmd", {"id": "u-1", "action": "home"})
        await p.wait(lambda: p.replies("u-1", "nosuch"), 5.0, "unknown system reply")

        # still online, nothing moved by any rejection
        assert p.last("daemon/state")["state"] == "online"
        assert before["state"] == "UNKNOWN"
        truth = stack.truth()
        assert all(u["paid_out_m"] < 0.02 for u in truth["units"].values())
        assert stack.daemon.proc.poll() is None
