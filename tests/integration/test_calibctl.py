"""The real `calibctl` console script against the real stack (Mosquitto + calibsim + calibd):
status, the ACU cycle, rejections, maintenance actions, watch, e-stop/reset, log export,
programs, and the exit codes when the daemon or the broker is gone."""

from __future__ import annotations

import asyncio
import csv
import json
import signal
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BIN, Broker
from tests.integration.stack import Stack, hil_stack

pytestmark = pytest.mark.integration
CALIBCTL = str(BIN / "calibctl")


@dataclass
class Ran:
    rc: int
    out: str
    err: str


async def ctl(stack: Stack, *args: str, timeout_s: float = 60.0) -> Ran:
    proc = await asyncio.create_subprocess_exec(
        CALIBCTL,
        "--config",
        str(stack.config),
        "--operator",
        "pytest",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return Ran(proc.returncode, out.decode(), err.decode())


async def ok(stack: Stack, *args: str) -> Ran:
    ran = await ctl(stack, *args)
    assert ran.rc == 0, (args, ran)
    return ran


def _z(stack: Stack) -> float:
    z: float = stack.acu()["position"]["z_m"]
    return z


async def test_operator_commands(mosquitto: Broker, tmp_path: Path) -> None:
    async with hil_stack(mosquitto, tmp_path) as stack:
        ran = await ok(stack, "status")
        assert ran.out.startswith("daemon: online (calibd ")
        rows = {line.split()[0]: line.split()[1] for line in ran.out.splitlines()[4:10]}
        assert rows == dict.fromkeys(("acu", "cls1", "cls2", "gt", "rov"), "UNKNOWN") | {
            "house": "READY"
        }
        doc = json.loads((await ok(stack, "status", "--json")).out)
        assert doc["daemon"]["state"] == "online"
        assert set(doc["systems"]) == {"acu", "cls1", "cls2", "gt", "rov", "house"}
        assert doc["systems"]["house"]["position"]["valves"]["acu"] == "closed"
        assert len((await ok(stack, "watch", "--count", "3")).out.splitlines()) == 3

        watcher = await asyncio.create_subprocess_exec(
            CALIBCTL, "--config", str(stack.config), "watch", stdout=asyncio.subprocess.PIPE
        )
        assert watcher.stdout is not None
        first = b""  # the watcher's view of the ACU before anything moves (it is connected)
        while b" acu " not in first:
            first += await asyncio.wait_for(watcher.stdout.readline(), 15)
        ran = await ok(stack, "acu", "home", "--progress")
        assert ran.out == "acu home: completed\n"
        assert "acu: HOMING" in ran.err and "acu: PARKED" in ran.err
        await ok(stack, "acu", "select", "--unit", "C")
        assert stack.acu()["position"]["unit"] == "C"
        ran = await ok(stack, "acu", "deploy", "--unit", "B", "--z", "5", "--json")
        deploy_id = json.loads(ran.out.splitlines()[0])["id"]
        assert stack.acu()["state"] == "AT_POSITION" and abs(_z(stack) - 5.0) < 0.002
        await ok(stack, "acu", "move", "--z", "-3")
        assert abs(_z(stack) - -3.0) < 0.002

        ran = await ctl(stack, "acu", "move", "--z", "99")
        assert ran.rc == 1
        assert ran.err.startswith("calibctl: acu move rejected: out_of_range: z_m 99.0 outside")
        assert abs(_z(stack) - -3.0) < 0.002  # nothing moved

        # maintenance actions: only with --expert, on the expert topic
        ran = await ctl(stack, "acu", "mount", "--source", "AmC-1", "--unit", "A")
        assert ran.rc == 2 and "maintenance action" in ran.err
        ran = await ctl(stack, "--expert", "acu", "mount", "--source", "AmC-1", "--unit", "A")
        assert ran.rc == 1 and "acu mount rejected: invalid_state" in ran.err
        await ok(stack, "expert", "house", "register", "--source", "T-1", "--kind", "AmC")
        inventory = stack.probe.last("inventory")
        assert "T-1" in {s["id"] for s in inventory["sources"]}

        await ok(stack, "cmd", "acu", "retract")
        assert stack.acu()["state"] == "PARKED"

        watcher.send_signal(signal.SIGINT)
        watched, _ = await asyncio.wait_for(watcher.communicate(), 10)
        watched = first + watched
        assert watcher.returncode == 130
        # one line per change of the acu (its stable states last long enough to be published)
        acu_states = [line.split()[2] for line in watched.decode().splitlines() if " acu " in line]
        assert acu_states[0] == "UNKNOWN" and acu_states[-1] == "PARKED", acu_states
        assert "AT_POSITION" in acu_states and len(acu_states) >= 5, acu_states

        # the deployment log, from the state directory named by the config
        records = json.loads((await ok(stack, "log", "export", "--format", "json")).out)
        (acu,) = [r for r in records if r["system"] == "acu"]
        assert acu["source"] == "Co60-1" and acu["outcome"] == "parked"
        assert deploy_id in acu["command_ids"]
        assert [round(s["position"]["z_m"], 2) for s in acu["stops"]] == [5.0, -3.0]
        out = tmp_path / "log.csv"
        await ok(stack, "log", "export", "--format", "csv", "--output", str(out))
        table = list(csv.DictReader(out.read_text().splitlines()))
        assert [r["z_m"][:4] for r in table if r["system"] == "acu"] == ["5.00", "-3.0"]
        ran = await ctl(stack, "log", "export", "--format", "json", "--since", "soon")
        assert ran.rc == 2 and "--since" in ran.err

        # e-stop and the global reset
        ran = await ok(stack, "estop")
        assert ran.out.startswith("estop: completed: acu=tripped cls1=tripped")
        ran = await ctl(stack, "acu", "home")
        assert ran.rc == 1 and "acu home rejected: interlock: estop" in ran.err
        ran = await ok(stack, "reset")
        assert "acu reset: completed" in ran.out.splitlines()
        assert stack.acu()["state"] == "PARKED"

        # the daemon stops: commands exit 3 without sending, status shows the last statuses
        assert stack.daemon.stop() == 0
        ran = await ctl(stack, "acu", "home")
        assert ran.rc == 3 and "daemon is not online: it is offline" in ran.err
        ran = await ctl(stack, "status")
        assert ran.rc == 3 and "acu" in ran.out


#: a short two-step program near the top of the axis (the weekly one runs in test_program.py)
QUICK = """
name = "quick"
title = "two AmC steps near the top of the axis"

[[steps]]
system = "acu"
source = "AmC"
daq_s = 20.0
points = [{ z_m = 15.0 }, { z_m = 12.0 }]

[[steps]]
system = "acu"
source = "AmC"
daq_s = 20.0
points = [{ z_m = 14.0 }]
"""


async def test_programs(mosquitto: Broker, tmp_path: Path) -> None:
    quick = tmp_path / "quick.toml"
    quick.write_text(QUICK)
    async with hil_stack(mosquitto, tmp_path) as stack:
        ran = await ctl(stack, "program", "run", "no-such-program")
        assert ran.rc == 1
        assert ran.err.startswith("calibctl: program.run rejected: bad_request:")
        ran = await ctl(stack, "program", "run", "weekly")  # the ACU is not homed
        assert ran.rc == 1 and "program.run rejected: invalid_state" in ran.err
        await ok(stack, "acu", "home")

        ran = await ok(stack, "program", "run", str(quick), "--wait")
        head, last = ran.out.splitlines()
        assert head.startswith(f"program {quick}: started (run quick-")
        run = head.split("(run ")[1].rstrip(")")
        assert last.startswith(f"program quick ({run})  COMPLETED")
        progress = ran.err.splitlines()
        assert progress[0].startswith(f"program quick ({run})  RUNNING  step 1/2")
        assert any("  step 2/2  " in line for line in progress), progress
        assert "  3/3 points  " in last
        doc: dict[str, Any] = json.loads((await ok(stack, "program", "status", "--json")).out)
        assert (doc["run"], doc["state"]) == (run, "COMPLETED")

        ran = await ok(stack, "program", "run", "weekly")
        assert ran.out.startswith("program weekly: started")
        await ok(stack, "program", "pause")
        assert "  PAUSED  " in (await ok(stack, "program", "status")).out
        frame = (await ok(stack, "watch", "--once")).out.splitlines()
        assert frame[-1].startswith("program weekly (") and "  PAUSED  " in frame[-1]
        ran = await ctl(stack, "program", "pause")
        assert ran.rc == 1 and "program.pause rejected: invalid_state" in ran.err
        await ok(stack, "program", "resume")
        await ok(stack, "program", "abort")
        doc = json.loads((await ok(stack, "program", "status", "--json")).out)
        assert doc["state"] == "ABORTED"
        assert stack.acu()["state"] == "PARKED"


async def test_no_broker_exit_3(tmp_path: Path) -> None:
    with socket.socket() as s:  # a free port: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = await asyncio.create_subprocess_exec(
        CALIBCTL, "--port", str(port), "acu", "home", stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 3
    assert f"cannot reach the MQTT broker at 127.0.0.1:{port}" in err.decode()
