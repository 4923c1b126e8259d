"""`calibd demo`: a private Mosquitto, calibsim and calibd on a config, then live status."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from calibd.config import ConfigError, load_config
from calibd.ctl import CtlLink
from calibd.devbroker import PrivateBroker, private_config

#: the scripted cycle per system (`calibd demo --auto`), run one system after the other
DEMO_STEPS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "acu": [
        ("home", {}),
        ("deploy", {"unit": "A", "z_m": 0.0}),
        ("move", {"z_m": -10.0}),
        ("retract", {}),
    ],
    "cls1": [
        ("home", {}),
        ("deploy", {"x_m": 3.0, "z_m": 0.0}),
        ("move", {"x_m": 6.0, "z_m": -5.0}),
        ("retract", {}),
    ],
    "cls2": [
        ("home", {}),
        ("deploy", {"x_m": -3.0, "z_m": 0.0}),
        ("move", {"x_m": -8.0, "z_m": -3.0}),
        ("retract", {}),
    ],
    "gt": [
        ("home", {}),
        ("deploy", {"theta_deg": 30.0}),
        ("move", {"theta_deg": 120.0}),
        ("retract", {}),
    ],
    "rov": [
        ("home", {}),
        ("deploy", {"x_m": 2.0, "y_m": 1.0, "z_m": 8.0}),
        ("move", {"x_m": -3.0, "y_m": 2.0, "z_m": 2.0}),
        ("retract", {}),
    ],
}


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _line(doc: dict[str, Any]) -> str:
    pos = doc.get("position") or {}
    if doc.get("system") == "house":
        valves = " ".join(f"{k}={v}" for k, v in (pos.get("valves") or {}).items())
        env = f"O2={pos.get('o2_ppm')} ppm Rn={pos.get('radon_mbq_m3')} mBq/m3"
        return f"house  {doc['state']:<12} {valves} {env}"
    fault = doc.get("fault") or {}
    where = " ".join(f"{k}={_fmt(v)}" for k, v in pos.items())
    return (
        f"{doc['system']:<6} {doc['state']:<12} {where} "
        f"deployed={doc.get('deployed')} {fault.get('code', '')}"
    ).rstrip()


def _systems(docs: dict[Any, dict[str, Any]]) -> list[dict[str, Any]]:
    """The systems' statuses (`+/status` also matches `{root}/program/status`)."""
    return [d for d in docs.values() if isinstance(d.get("system"), str)]


async def _cycle(link: CtlLink, systems: list[str]) -> int:
    for system in systems:
        for action, args in DEMO_STEPS.get(system, []):
            print(f"> {system} {action} {args}", flush=True)
            _, final = await link.command(system, action, args, timeout_s=600)
            print(f"  {final['result'] if final else 'rejected'}", flush=True)
            for doc in _systems(await link.statuses(None, 0.3)):
                print("  " + _line(doc), flush=True)
            if final is None or final["result"] != "completed":
                return 1
    return 0


async def _live(link: CtlLink) -> int:
    while True:
        for doc in _systems(await link.statuses(None, 1.0)):
            print(_line(doc), flush=True)
        print("-" * 60, flush=True)


async def _wait_online(link: CtlLink, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if "house" in await link.statuses("house", 0.5):
            return
    raise SystemExit("calibd demo: the daemon did not come up")


def run_demo(config: str, *, auto: bool) -> int:
    try:
        settings = load_config(config)
    except ConfigError as exc:
        print("\n".join(exc.errors), file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="calibd-demo-"))
    try:
        broker = PrivateBroker(work).start()
    except FileNotFoundError as exc:
        print(f"calibd demo: {exc}", file=sys.stderr)
        return 1
    port = broker.port
    config = str(private_config(Path(config), work))
    env = {**os.environ, "CALIBD_MQTT__PORT": str(port), "CALIBD_STATE__DIR": str(work / "state")}
    bindir = Path(sys.executable).parent
    procs: list[subprocess.Popen[bytes]] = []
    try:
        sim_log = (work / "calibsim.log").open("wb")
        procs.append(
            subprocess.Popen(
                [str(bindir / "calibsim"), "--config", config],
                env=env,
                stdout=sim_log,
                stderr=subprocess.STDOUT,
            )
        )
        time.sleep(1.0)
        d_log = (work / "calibd.log").open("wb")
        procs.append(
            subprocess.Popen(
                [str(bindir / "calibd"), "run", "--config", config],
                env=env,
                stdout=d_log,
                stderr=subprocess.STDOUT,
            )
        )
        print(f"demo: broker 127.0.0.1:{port}, root {settings.mqtt.topic_root}, logs in {work}")
        print(f"demo: try  calibctl --config {config} --port {port} cmd acu home", flush=True)

        async def go() -> int:
            async with CtlLink("127.0.0.1", port, settings.mqtt.topic_root, "demo") as link:
                await _wait_online(link)
                systems = list(settings.systems())
                return await (_cycle(link, systems) if auto else _live(link))

        with contextlib.suppress(KeyboardInterrupt):
            return asyncio.run(go())
        return 0
    finally:
        for p in reversed(procs):
            p.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(10)
        broker.stop()
