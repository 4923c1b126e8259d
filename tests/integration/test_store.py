"""The store over the real stack: a command id is refused `duplicate` also after the daemon
restarts, and the audit trail on disk holds every command with its operator."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from calibd.config import load_config
from calibd.store.db import FILENAME
from tests.conftest import BIN, Broker, Proc
from tests.integration.stack import hil_stack
from tests.mqtt_probe import Probe

pytestmark = pytest.mark.integration


async def _reply_to_resend(p: Probe, cmd_id: str) -> dict[str, Any]:
    """Send `status` again with an id used before; its reply (not the old one's)."""
    sent_at = p.msgs[-1].at
    await p.send("acu", "status", cmd_id=cmd_id)
    replies: list[dict[str, Any]] = await p.wait(
        lambda: [
            m.payload
            for m in p.msgs
            if m.at > sent_at and m.topic.endswith("/acu/reply") and m.payload.get("id") == cmd_id
        ],
        5.0,
        f"reply to {cmd_id}",
    )
    return replies[0]


async def test_duplicate_ids_survive_a_restart_and_commands_are_audited(
    mosquitto: Broker, tmp_path: Path
) -> None:
    async with hil_stack(mosquitto, tmp_path) as stack:
        p = stack.probe
        cmd_id = await p.send("acu", "status", cmd_id="once-only")
        assert (await p.final(cmd_id, "acu"))["result"] == "completed"
        bad_id = await p.send("acu", "deploy", {"unit": "Z", "z_m": 1.0}, cmd_id="bad-unit")
        assert (await p.ack(bad_id, "acu"))["error"]["code"] == "out_of_range"
        session = p.last("daemon/state")["session"]
        assert stack.daemon.stop() == 0
        await p.wait(lambda: p.last("daemon/state")["state"] == "offline", 10.0, "offline")

        stack.daemon = Proc(
            [str(BIN / "calibd"), "run", "--config", str(stack.config)],
            tmp_path / "calibd2.log",
            env={"PYTHONUNBUFFERED": "1"},
        )
        await p.wait(
            lambda: (
                p.last("daemon/state")["session"] == session + 1
                and p.last("daemon/state")["state"] == "online"
            ),
            20.0,
            "second daemon online",
        )
        for again in ("once-only", "bad-unit"):
            reply = await _reply_to_resend(p, again)
            assert reply["result"] == "rejected", reply
            assert reply["error"]["code"] == "duplicate", reply

    db = load_config(stack.config).state.dir / FILENAME
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT id, action, result, operator, error_code FROM audit ORDER BY seq"
        ).fetchall()
    assert ("once-only", "status", "accepted", "pytest", None) in rows
    assert ("once-only", "status", "completed", "pytest", None) in rows
    assert ("bad-unit", "deploy", "rejected", "pytest", "out_of_range") in rows
    assert ("once-only", "status", "rejected", "pytest", "duplicate") in rows
