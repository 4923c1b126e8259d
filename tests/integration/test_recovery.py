"""Restart recovery over the real stack: the daemon is killed (-9) mid-move and at a point, the
simulated hardware keeps running, and the restarted daemon knows where the source is, continues
its deployment record and has the complete audit trail; a drive's power loss, a lost and a
corrupt database are each met with a safe state and a clear message."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from calibd.config import load_config
from calibd.store.db import FILENAME
from tests.conftest import BIN, Broker
from tests.integration.stack import Stack, export, hil_stack, restart
from tests.mqtt_probe import Probe

pytestmark = pytest.mark.integration


async def _acu_after_restart(p: Probe, pred: Any) -> dict[str, Any]:
    """The first ACU status of the new session's first poll that satisfies `pred`."""
    return await p.status("acu", lambda s: s["seq"] > 1 and pred(s), 20.0)


async def _close_to_truth(stack: Stack, status: dict[str, Any]) -> float:
    truth = await stack.settled_truth(stack.probe.msgs[-1].at)
    true_z = truth["position"]["z_m"]
    assert abs(status["position"]["z_m"] - true_z) <= 0.001, (status["position"], truth)
    return float(true_z)


def _db(config: Path) -> Path:
    return load_config(config).state.dir / FILENAME


async def expert(p: Probe, system: str, action: str, args: dict[str, Any]) -> dict[str, Any]:
    """A maintenance command on the expert topic; its immediate reply."""
    cmd_id = f"x-{action}-{len(p.msgs)}"
    doc = {"id": cmd_id, "action": action, "args": args, "operator": "expert"}
    await p.publish(f"{system}/expert/cmd", doc)
    return await p.ack(cmd_id, system)


async def test_kill9_mid_move_and_at_a_point(mosquitto: Broker, tmp_path: Path) -> None:
    async with hil_stack(mosquitto, tmp_path, time_scale=50.0) as stack:
        p = stack.probe
        await stack.home()
        deploy = await p.send("acu", "deploy", {"unit": "A", "z_m": -12.0})
        assert (await p.ack(deploy))["result"] == "accepted"
        await p.wait(
            lambda: (stack.truth()["units"]["A"]["paid_out_m"] or 0) > 8.0, 30.0, "going down"
        )
        await restart(stack, "calibd-mid-move")
        # the drive stopped itself (its watchdog, 1 s after the killed daemon last polled it) and
        # the restarted daemon halts every drive first anyway: the source never reached the target
        status = await _acu_after_restart(p, lambda s: s["state"] == "STOPPED")
        assert status["deployed"] is True and status["homed"] is True, status
        assert status["source"] == "AmC-1" and status["position"]["unit"] == "A", status
        z_stopped = await _close_to_truth(stack, status)
        assert z_stopped > -11.0, "the drive was not stopped at the restart"
        assert status["fault"] is None

        move = await p.run("acu", "move", {"z_m": 2.0})
        assert move["result"] == "completed", move
        status = await p.status("acu", lambda s: s["state"] == "AT_POSITION")
        await _close_to_truth(stack, status)

        await restart(stack, "calibd-at-point")
        status = await _acu_after_restart(p, lambda s: s["state"] == "AT_POSITION")
        assert status["deployed"] is True and status["source"] == "AmC-1", status
        await _close_to_truth(stack, status)
        assert abs(status["position"]["z_m"] - 2.0) <= 0.001
        summary = p.last("deployments/summary")
        assert [r["system"] for r in summary["open"]] == ["acu"], summary

        retract = await p.run("acu", "retract", timeout_s=60)
        assert retract["result"] == "completed", retract
        assert stack.truth()["units"]["A"]["parked"] is True

    records = [r for r in export(stack.config) if r["system"] == "acu"]
    assert len(records) == 1, records  # one excursion, continued across both restarts
    rec = records[0]
    assert (rec["source"], rec["unit"], rec["operator"], rec["outcome"]) == (
        "AmC-1",
        "A",
        "pytest",
        "parked",
    )
    assert rec["ended"] is not None
    ids = [deploy, move["id"], retract["id"]]
    assert [i for i in rec["command_ids"] if i in ids] == ids, rec["command_ids"]
    assert [s["state"] for s in rec["stops"]] == ["STOPPED", "AT_POSITION"], rec["stops"]
    assert abs(rec["stops"][0]["position"]["z_m"] - z_stopped) <= 0.001, rec["stops"]
    assert abs(rec["stops"][1]["position"]["z_m"] - 2.0) <= 0.001, rec["stops"]
    assert all(s["departed"] is not None for s in rec["stops"])
    with sqlite3.connect(_db(stack.config)) as conn:
        audit = conn.execute(
            "SELECT id, result, operator FROM audit WHERE id IN (?, ?, ?) ORDER BY seq", ids
        ).fetchall()
    assert audit == [
        (deploy, "accepted", "pytest"),  # its final was never sent: the daemon was killed
        (move["id"], "accepted", "pytest"),
        (move["id"], "completed", "pytest"),
        (retract["id"], "accepted", "pytest"),
        (retract["id"], "completed", "pytest"),
    ], audit


async def test_power_loss_while_down_is_a_position_mismatch(
    mosquitto: Broker, tmp_path: Path
) -> None:
    async with hil_stack(mosquitto, tmp_path) as stack:
        p = stack.probe
        await stack.home()
        assert (await p.run("acu", "deploy", {"unit": "A", "z_m": 2.0}))["result"] == "completed"
        assert stack.daemon.stop() == 0
        await stack.inject("power_loss", "A")
        await p.wait(
            lambda: any(
                m.topic.endswith("sim/acu/events") and m.payload.get("event") == "power_loss"
                for m in p.msgs
            ),
            10.0,
            "power loss",
        )
        await restart(stack, "calibd-after-power-loss", kill=False)
        status = await _acu_after_restart(p, lambda s: s["state"] == "FAULT")
        fault = status["fault"]
        assert fault["code"] == "position_mismatch", status
        assert "A: drive lost its reference" in fault["message"], fault
        assert "persisted +" in fault["message"] and "reads +0.0000 rev" in fault["message"]
        assert status["deployed"] is True  # never parked while the source is out
        # the board follows the status at its next evaluation
        await p.wait(
            lambda: any(e["id"] == "position_mismatch" for e in p.last("interlocks")["active"]),
            5.0,
            "position_mismatch on the interlock board",
        )

        # nothing but the slow retract (or an expert) gets it out of there
        reset = await p.send("acu", "reset")
        assert (await p.final(reset))["error"]["code"] == "interlock"
        move = await p.send("acu", "move", {"z_m": 0.0})
        assert (await p.ack(move))["error"]["code"] == "interlock"
        override = await p.send("acu", "override", {"accept": "drive"})
        assert (await p.ack(override))["error"]["code"] == "unauthorized"
        refused = await expert(p, "acu", "override", {"accept": "drive"})
        assert refused["error"]["code"] == "invalid_state", refused  # the drive is not homed

        retract = await p.run("acu", "retract", timeout_s=60)
        assert retract["result"] == "completed", retract
        status = p.last("acu/status")
        assert status["state"] == "PARKED" and status["homed"] is True, status
        assert stack.truth()["units"]["A"]["parked"] is True
        events = [m.payload for m in p.msgs if m.topic.endswith("/events")]
        assert any(e.get("event") == "recovery" and e["outcome"] == "mismatch" for e in events)
    records = [r for r in export(stack.config) if r["system"] == "acu"]
    assert len(records) == 1 and records[0]["outcome"] == "parked", records


async def test_a_lost_database_and_the_expert_override(mosquitto: Broker, tmp_path: Path) -> None:
    async with hil_stack(mosquitto, tmp_path) as stack:
        p = stack.probe
        await stack.home()
        assert (await p.run("acu", "deploy", {"unit": "A", "z_m": 3.0}))["result"] == "completed"
        assert stack.daemon.stop() == 0
        db = _db(stack.config)
        for path in db.parent.glob(db.name + "*"):
            path.unlink()
        await restart(stack, "calibd-no-db", kill=False)
        status = await _acu_after_restart(p, lambda s: s["state"] == "FAULT")
        assert status["fault"]["code"] == "position_mismatch", status
        assert "no persisted record" in status["fault"]["message"]
        cls1 = p.last("cls1/status")
        assert cls1["state"] == "UNKNOWN" and cls1["fault"] is None, cls1  # nothing was out

        # an expert who has checked the source's position accepts the drives' readings
        accepted = await expert(p, "acu", "override", {"accept": "drive"})
        assert accepted["result"] == "accepted", accepted
        status = await p.status("acu", lambda s: s["state"] == "STOPPED")
        assert status["homed"] is True and status["fault"] is None
        await _close_to_truth(stack, status)
        assert (await p.run("acu", "retract", timeout_s=60))["result"] == "completed"


async def test_a_corrupt_database_stops_everything_and_refuses_to_start(
    mosquitto: Broker, tmp_path: Path
) -> None:
    async with hil_stack(mosquitto, tmp_path, time_scale=20.0) as stack:
        p = stack.probe
        await stack.home()
        deploy = await p.send("acu", "deploy", {"unit": "A", "z_m": -10.0})
        assert (await p.ack(deploy))["result"] == "accepted"
        await p.wait(
            lambda: (stack.truth()["units"]["A"]["paid_out_m"] or 0) > 2.0, 30.0, "going down"
        )
        stack.daemon.kill9()
        db = _db(stack.config)
        for path in db.parent.glob(db.name + "-*"):
            path.unlink()
        db.write_bytes(b"garbage" * 4096)
        log = tmp_path / "calibd-corrupt.log"
        proc = await asyncio.to_thread(
            subprocess.run,
            [str(BIN / "calibd"), "run", "--config", str(stack.config)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        log.write_text(proc.stdout + proc.stderr)
        assert proc.returncode == 2, log.read_text()
        assert f"store error: {db}" in proc.stderr and "restore a backup" in proc.stderr
        # the source was left moving by the killed daemon: the refusing one stopped it first
        exited = time.monotonic()
        first = (await stack.settled_truth(exited))["units"]["A"]["paid_out_m"]
        later = (await stack.settled_truth(time.monotonic() + 0.5))["units"]["A"]["paid_out_m"]
        assert first == pytest.approx(later, abs=1e-4)
        assert first < 30.0  # far from the target's 33 m of cable
