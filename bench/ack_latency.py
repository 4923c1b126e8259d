"""Command -> `accepted` reply latency of calibd over MQTT, end to end on the HIL stack.

Starts a private Mosquitto on a free port (calibd.devbroker: loopback, TCP_NODELAY, no
persistence), then `calibsim` and `calibd run` on a temporary copy of config/sim.toml (free
ports, private pty directory, state directory and topic root), waits for
`{root}/daemon/state` to say `online`, then sends N `status` commands to `{root}/acu/cmd` one
after the other (MQTT v5, TCP_NODELAY, Response Topic + Correlation Data) and measures the time
from publishing each command to receiving its `accepted` reply. Prints one JSON object.

    .venv/bin/python bench/ack_latency.py [--n 1000] [--keep]

`run()` is the same as a function (bench/suite.py uses it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from typing import Any

from _common import REPLY_TIMEOUT_S, client, rig, wait_online
from figures import latency, percentile
from machine_info import machine
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

TARGET_P99_MS = 10


async def measure(port: int, root: str, n: int) -> list[float]:
    inbox = f"{root}/client/bench/inbox"
    latencies_ms: list[float] = []
    async with client(port, "bench") as mqtt:
        await wait_online(mqtt, root)
        await mqtt.subscribe(inbox, qos=1)
        await asyncio.sleep(0.5)  # let the first idle poll and status publications pass
        for i in range(n):
            cmd_id = f"bench-{os.getpid()}-{i}"
            corr = cmd_id.encode()
            props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            props.ResponseTopic = inbox
            props.CorrelationData = corr
            payload = json.dumps({"id": cmd_id, "action": "status", "operator": "bench"}).encode()
            t0 = time.perf_counter()
            await mqtt.publish(f"{root}/acu/cmd", payload, qos=1, properties=props)
            async with asyncio.timeout(REPLY_TIMEOUT_S):
                async for msg in mqtt.messages:
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


def run(n: int = 1000, *, keep: bool = False) -> dict[str, Any]:
    """N status commands on a fresh rig; the result document (without the machine)."""
    if n < 1:
        raise ValueError("ack_latency: n must be at least 1")
    t0 = time.monotonic()
    with rig("ack_latency", keep=keep) as stack:
        lat = sorted(asyncio.run(measure(stack.port, stack.root, n)))
    return {
        "benchmark": "ack_latency",
        "n": len(lat),
        **latency(lat),
        "target_p99_ms": TARGET_P99_MS,
        "met": percentile(lat, 99) <= TARGET_P99_MS,
        "wall_s": round(time.monotonic() - t0, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="calibd command -> accepted reply latency")
    parser.add_argument("--n", type=int, default=1000, help="number of commands (default 1000)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args()
    if args.n < 1:
        raise SystemExit("ack_latency: --n must be at least 1")
    print(json.dumps({**run(args.n, keep=args.keep), "machine": machine()}))


if __name__ == "__main__":
    main()
