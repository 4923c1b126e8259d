"""`calibd demo --auto` runs the scripted cycle of every configured system end to end."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from calibd.config import load_config
from calibd.demo import DEMO_STEPS

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


async def test_demo_auto_cycles_every_system() -> None:
    config = ROOT / "config" / "sim.toml"
    systems = list(load_config(config).systems())
    env = {
        **os.environ,
        "CALIBD_SIM__TIME_SCALE": "300",
        # CLS waypoints every 1 m instead of 0.2 m: each waypoint costs a few polls whatever
        # the time scale (the straight-line accuracy is tested in test_cls.py)
        "CALIBD_CLS1__WAYPOINT_STEP_M": "1.0",
        "CALIBD_CLS2__WAYPOINT_STEP_M": "1.0",
        "PATH": f"/usr/sbin:{os.environ.get('PATH', '')}",
    }
    calibd = Path(sys.executable).parent / "calibd"
    proc = await asyncio.create_subprocess_exec(
        str(calibd),
        "demo",
        "--auto",
        "--config",
        str(config),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 100)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = out.decode()
    assert proc.returncode == 0, text
    for system in systems:
        for action, _args in DEMO_STEPS[system]:
            assert f"> {system} {action}" in text, (system, action, text)
    assert "rejected" not in text and "failed" not in text, text
    assert text.count("  completed") == sum(len(DEMO_STEPS[s]) for s in systems)
