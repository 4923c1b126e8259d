"""Idle load: CPU % (of one core) and memory of the daemon with every system connected and idle.

On a private HIL rig (bench/_common.py: Mosquitto, calibsim, `calibd run` on a copy of
config/sim.toml) it waits until the daemon is online, the house READY and every system of the
config has published a status (every device answering: nothing is homed or moved, so each system
is parked or UNKNOWN), lets it settle `--settle-s`, then reads utime + stime of
/proc/<pid>/stat of the daemon and of calibsim at the start and the end of a `--window-s`
window: CPU % = CPU seconds / wall seconds x 100 (100 = one core busy). VmRSS and VmHWM (peak
RSS) come from /proc/<pid>/status at the end. calibsim's figures are context: the simulated
hardware, not the daemon. Prints one JSON object.

    .venv/bin/python bench/idle_load.py [--settle-s 10] [--window-s 30] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import tomllib
from pathlib import Path
from typing import Any

from _common import Rig, linked, rig
from machine_info import machine

TICKS_S = os.sysconf("SC_CLK_TCK")


def cpu_ticks(stat: str) -> int:
    """utime + stime (clock ticks, all threads) from /proc/<pid>/stat text."""
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5), after pid and comm


def status_kib(status: str, key: str) -> int:
    """A `key: N kB` line of /proc/<pid>/status, in KiB."""
    for line in status.splitlines():
        name, _, value = line.partition(":")
        if name == key:
            return int(value.split()[0])
    raise KeyError(f"{key} not in /proc/<pid>/status")


def cpu_s(pid: int) -> float:
    return cpu_ticks(Path(f"/proc/{pid}/stat").read_text()) / TICKS_S


def memory_mib(pid: int) -> dict[str, float]:
    text = Path(f"/proc/{pid}/status").read_text()
    return {
        "rss_mib": round(status_kib(text, "VmRSS") / 1024, 1),
        "hwm_mib": round(status_kib(text, "VmHWM") / 1024, 1),
    }


def systems_of(config: Path) -> list[str]:
    """The house and every system with a poll rate in the config."""
    cfg = tomllib.loads(config.read_text())
    polled = [k for k, v in cfg.items() if isinstance(v, dict) and "poll_fast_hz" in v]
    return ["house", *polled] if "house" in cfg else polled


async def measure(stack: Rig, settle_s: float, window_s: float) -> dict[str, Any]:
    systems = systems_of(stack.config)
    async with linked(stack, "idle") as link:
        await link.online(stack, systems)
        await asyncio.sleep(settle_s)
        pids = {"daemon": stack.daemon_pid, "calibsim": stack.sim_pid}
        start = {k: cpu_s(p) for k, p in pids.items()}
        t0 = time.monotonic()
        await asyncio.sleep(window_s)
        end = {k: cpu_s(p) for k, p in pids.items()}
        wall_s = time.monotonic() - t0
        stack.check()
        states = {s: link.status(s).get("state") for s in systems}
        faults = {s: link.status(s).get("fault") for s in systems if link.status(s).get("fault")}
    procs = {
        k: {"cpu_pct": round((end[k] - start[k]) / wall_s * 100.0, 2), **memory_mib(p)}
        for k, p in pids.items()
    }
    return {"window_s": round(wall_s, 2), "states": states, "faults": faults, **procs}


def run(settle_s: float = 10.0, window_s: float = 30.0, *, keep: bool = False) -> dict[str, Any]:
    """One measurement on a fresh rig; the result document (without the machine)."""
    if window_s <= 0 or settle_s < 0:
        raise ValueError("idle_load: need window_s > 0 and settle_s >= 0")
    t0 = time.monotonic()
    with rig("idle_load", keep=keep) as stack:
        got = asyncio.run(measure(stack, settle_s, window_s))
    return {
        "benchmark": "idle_load",
        "settle_s": settle_s,
        **got,
        "wall_s": round(time.monotonic() - t0, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="idle CPU and memory of the daemon (JSON)")
    parser.add_argument("--settle-s", type=float, default=10.0, help="after online (default 10)")
    parser.add_argument("--window-s", type=float, default=30.0, help="CPU window (default 30)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args()
    print(json.dumps({**run(args.settle_s, args.window_s, keep=args.keep), "machine": machine()}))


if __name__ == "__main__":
    main()
