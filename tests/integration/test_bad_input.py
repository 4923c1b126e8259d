"""Every applicable error code of the contract, over the real broker; after each of them
nothing moved (the simulator's truth) and the daemon is still online."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Broker
from tests.integration.stack import Stack, hil_stack
from tests.mqtt_probe import Probe

pytestmark = pytest.mark.integration


def _after(p: Probe, since: float, suffix: str) -> list[Any]:
    """Payloads on `{root}/{suffix}` received after monotonic time `since`."""
    topic = f"{p.root}/{suffix}"
    return [m.payload for m in p.msgs if m.topic == topic and m.at > since]


def _pose(truth: dict[str, Any]) -> dict[str, Any]:
    """What a drive command would change: the turntable and every unit's cable."""
    return {
        "turntable_deg": truth["turntable_deg"],
        "unit": truth["position"]["unit"],
        "units": {n: (u["paid_out_m"], u["parked"]) for n, u in truth["units"].items()},
    }


async def _pose_now(stack: Stack) -> dict[str, Any]:
    """The pose in a truth the simulator published after this moment."""
    return _pose(await stack.settled_truth(time.monotonic()))


async def test_rejections(mosquitto: Broker, tmp_path: Path) -> None:
    async with hil_stack(mosquitto, tmp_path) as stack:
        p = stack.probe
        pose_before = await _pose_now(stack)
        start = time.monotonic()

        async def rejected(
            payload: bytes | dict[str, object], code: str, cmd_id: str | None, **kw: object
        ) -> None:
            """Publish; exactly this rejection comes back, and only replies to this very
            publish count (an earlier reply with the same id and code does not)."""
            sent_at = time.monotonic()
            await p.publish("acu/cmd", payload, **kw)
            reps: list[dict[str, Any]] = await p.wait(
                lambda: [r for r in _after(p, sent_at, "acu/reply") if r.get("id") == cmd_id],
                5.0,
                f"rejection {code}",
            )
            assert len(reps) == 1, reps
            assert reps[0]["result"] == "rejected" and reps[0]["final"] is True, reps
            assert reps[0]["error"]["code"] == code, reps

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

        # four id-less rejections above, one reply each (none answered twice or left over)
        assert len([r for r in _after(p, start, "acu/reply") if r["id"] is None]) == 4
        # nothing moved: no transition, every audited reply a rejection, the truth unchanged
        # (the retained command was removed from the broker, never executed)
        assert not [e for e in _after(p, start, "events") if e.get("event") == "transition"]

        def audit() -> list[dict[str, Any]]:
            return [e for e in _after(p, start, "events") if e.get("event") == "command"]

        # each reply's audit event follows it
        await p.wait(lambda: len(audit()) >= 14, 5.0, "14 audited rejections")
        assert len(audit()) == 14 and {e["result"] for e in audit()} == {"rejected"}, audit()
        assert stack.acu()["state"] == "UNKNOWN"
        assert await _pose_now(stack) == pose_before

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
        # the rejected `select B` never reached a drive: home left unit A under the port (the
        # turntable at A's 0 deg, not B's 90 deg), every spool parked, and select never ran
        homed = await _pose_now(stack)
        off_a_deg = homed["turntable_deg"] % 360.0
        assert homed["unit"] == "A" and min(off_a_deg, 360.0 - off_a_deg) < 0.1, homed
        assert all(parked for _, parked in homed["units"].values()), homed
        assert not [
            e
            for e in _after(p, start, "events")
            if e.get("event") == "transition"
            and (e["trigger"] == "select" or e["command"] == busy_id)
        ]
        assert [e["result"] for e in audit() if e["id"] == busy_id] == ["rejected"]
        assert stack.acu()["state"] == "PARKED" and stack.acu()["position"]["unit"] == "A"

        # global topic: unknown action, reply on {root}/reply
        gid = await p.send(None, "launch")
        g = await p.ack(gid, None)
        assert g["error"]["code"] == "unknown_action"

        # unknown system: bad_request, on that system's reply topic
        await p.publish("nosuch/cmd", {"id": "u-1", "action": "home"})
        unknown = (await p.wait(lambda: p.replies("u-1", "nosuch"), 5.0, "unknown system"))[0]
        assert unknown["result"] == "rejected", unknown
        assert unknown["error"]["code"] == "bad_request", unknown
        assert "unknown system" in unknown["error"]["message"], unknown

        # still online after all of it, and nothing moved since home
        assert p.last("daemon/state")["state"] == "online"
        assert await _pose_now(stack) == homed
        assert stack.daemon.proc.poll() is None
