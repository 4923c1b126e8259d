"""Command -> `accepted` reply latency of calibd over MQTT, end to end on the HIL stack.

Starts a private Mosquitto on a free port (calibd.devbroker: loopback, TCP_NODELAY, no
persistence), then `calibsim` and `calibd run` on a temporary copy of config/sim.toml (free
ports, private pty directory, state directory and topic root), waits for
`{root}/daemon/state` to say `online`, then sends N `status` commands to `{root}/acu/cmd` one
after the other (MQTT v5, TCP_NODELAY, Response Topic + Correlation Data) and measures the time
from publishing each command to receiving its `accepted` reply. Prints one JSON object.

    .venv/bin/python bench/ack_latency.py [--n 1000] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from calibd.devbroker import PrivateBroker, private_config

ROOT = Path(__file__).resolve().parent.parent
SIM_TOML = ROOT / "config" / "sim.toml"
BIN = Path(sys.executable).parent
NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
TARGET_P99_MS = 10
STARTUP_TIMEOUT_S = 30.0
REPLY_TIMEOUT_S = 5.0


def write_config(work: Path, mqtt_port: int, root: str) -> Path:
    """config/sim.toml with free device ports, private ptys and state, and its own topic root."""
    return private_config(SIM_TOML, work, mqtt_port=mqtt_port, topic_root=root)


def start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as fh:
        return subprocess.Popen(
            args, stdout=fh, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )


def wait_output(proc: subprocess.Popen[bytes], log: Path, text: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in log.read_text(errors="replace"):
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}:\n{tail}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{text!r} not seen in {log}")
        time.sleep(0.05)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def percentile(sorted_ms: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, math.ceil(q / 100.0 * len(sorted_ms)))
    return sorted_ms[rank - 1]


async def wait_online(client: aiomqtt.Client, root: str) -> None:
    await client.subscribe(f"{root}/daemon/state", qos=1)
    async with asyncio.timeout(STARTUP_TIMEOUT_S):
        async for msg in client.messages:
            if not isinstance(msg.payload, bytes) or not msg.payload:
                continue
            if json.loads(msg.payload).get("state") == "online":
                return


async def measure(port: int, root: str, n: int) -> list[float]:
    inbox = f"{root}/bench/inbox"
    client = aiomqtt.Client(
        "127.0.0.1",
        port,
        identifier=f"bench-{os.getpid()}",
        protocol=aiomqtt.ProtocolVersion.V5,
        socket_options=NODELAY,
        timeout=10,
    )
    latencies_ms: list[float] = []
    async with client:
        await wait_online(client, root)
        await client.subscribe(inbox, qos=1)
        await asyncio.sleep(0.5)  # let the first idle poll and status publications pass
        for i in range(n):
            cmd_id = f"bench-{os.getpid()}-{i}"
            corr = cmd_id.encode()
            props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            props.ResponseTopic = inbox
            props.CorrelationData = corr
            payload = json.dumps({"id": cmd_id, "action": "status", "operator": "bench"}).encode()
            t0 = time.perf_counter()
            await client.publish(f"{root}/acu/cmd", payload, qos=1, properties=props)
            async with asyncio.timeout(REPLY_TIMEOUT_S):
                async for msg in client.messages:
                    if getattr(msg.properties, "CorrelationData", None) != corr:
                        continue
                    assert isinstance(msg.payload, bytes)
                    rep: dict[str, Any] = json.loads(msg.payload)
                    if rep.get("result") == "accepted":
                        latencies_ms.append((time.perf_counter() - t0) * 1000.0)
                        break
                    if rep.get("result") == "rejected":
                        raise RuntimeError(f"command rejected: {rep}")
    return latencies_ms


def main() -> None:
    parser = argparse.ArgumentParser(description="calibd command -> accepted reply latency")
    parser.add_argument("--n", type=int, default=1000, help="number of commands (default 1000)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args()
    if args.n < 1:
        raise SystemExit("ack_latency: --n must be at least 1")

    work = Path(tempfile.mkdtemp(prefix="calibd-bench-"))
    root = f"bench{os.getpid()}/calib"
    procs: list[subprocess.Popen[bytes]] = []
    broker: PrivateBroker | None = None
    try:
        try:
            broker = PrivateBroker(work)
        except FileNotFoundError as exc:
            raise SystemExit(f"ack_latency: {exc}") from None
        broker.start()
        port = broker.port
        config = write_config(work, port, root)
        sim_log = work / "calibsim.log"
        sim = start([str(BIN / "calibsim"), "--config", str(config)], sim_log)
        procs.append(sim)
        wait_output(sim, sim_log, "calibsim: ready", STARTUP_TIMEOUT_S)
        procs.append(
            start([str(BIN / "calibd"), "run", "--config", str(config)], work / "calibd.log")
        )
        lat = sorted(asyncio.run(measure(port, root, args.n)))
    finally:
        for proc in reversed(procs):
            stop(proc)
        if broker is not None:
            broker.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    p99 = percentile(lat, 99)
    result = {
        "benchmark": "ack_latency",
        "n": len(lat),
        "p50_ms": round(percentile(lat, 50), 3),
        "p90_ms": round(percentile(lat, 90), 3),
        "p99_ms": round(p99, 3),
        "max_ms": round(lat[-1], 3),
        "target_p99_ms": TARGET_P99_MS,
        "met": p99 <= TARGET_P99_MS,
        "python": platform.python_version(),
        "machine": {
            "system": platform.system(),
            "release": platform.release(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
        },
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
