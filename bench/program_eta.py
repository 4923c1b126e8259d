"""Program ETA accuracy: `calibd program plan` against the simulated run of the same program.

For each program of `--programs` (default weekly,monthly), on its own private HIL rig
(bench/_common.py: Mosquitto, calibsim, `calibd run` on a copy of config/sim.toml at
`--time-scale`): `calibd program plan NAME --json` gives the ETA (motion + DAQ, physics
seconds); every system the program uses is homed, then `program.run` is sent and the wall time
from its `completed` reply (the program started) to `{root}/program/status` COMPLETED is
measured. The run's physics time is wall x time_scale; `ratio` = run / ETA. Goal (issue 6):
within 5 % (0.95 <= ratio <= 1.05); the weekly program's wall time at the given time_scale is
reported too (issue 6: <= 30 s in CI). Prints one JSON object.

    .venv/bin/python bench/program_eta.py [--programs weekly,monthly] [--time-scale 100] [--keep]

`run_one()` is one program at one time scale as a function (bench/suite.py uses it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import time
import uuid
from typing import Any

from _common import BIN, ROOT, Link, Rig, linked, rig
from machine_info import machine

TOLERANCE = 0.05


def planned(stack: Rig, program: str) -> dict[str, Any]:
    out = subprocess.run(
        [str(BIN / "calibd"), "program", "plan", program, "--config", str(stack.config), "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"calibd program plan {program}: exit {out.returncode}\n{out.stdout}")
    doc: dict[str, Any] = json.loads(out.stdout)
    return doc


async def run_program(stack: Rig, link: Link, program: str, systems: list[str]) -> float:
    await link.mqtt.subscribe(f"{stack.root}/reply", qos=1)
    await link.mqtt.subscribe(f"{stack.root}/program/status", qos=1)
    for system in systems:
        await link.run(system, "home", timeout_s=600)
    cmd_id = f"bench-{uuid.uuid4().hex[:10]}"
    doc = {"id": cmd_id, "action": "program.run", "args": {"program": program}}
    await link.publish("cmd", {**doc, "operator": "bench"})
    rep = await link.wait(
        lambda: (
            (link.last.get("reply") or {}).get("id") == cmd_id
            and link.last["reply"].get("final")
            and link.last["reply"]
        ),
        60.0,
        "program.run final",
    )
    if rep.get("result") != "completed":
        raise RuntimeError(f"program.run {program}: {rep}")
    started = time.monotonic()
    status = await link.wait(
        lambda: (
            (s := link.last.get("program/status") or {}).get("state")
            in ("COMPLETED", "SUSPENDED", "FAILED", "ABORTED")
            and s
        ),
        7200.0,
        f"{program} ended",
    )
    if status["state"] != "COMPLETED":
        raise RuntimeError(f"{program}: {status}")
    return time.monotonic() - started


async def measure(stack: Rig, program: str, systems: list[str]) -> float:
    async with linked(stack, "program_eta") as link:
        await link.online(stack, systems)
        return await run_program(stack, link, program, systems)


def run_one(program: str, time_scale: float, *, keep: bool = False) -> dict[str, Any]:
    """One program on a fresh rig at `time_scale`: ETA, run time, wall time, ratio."""
    t0 = time.monotonic()
    with rig(f"program_eta_{program}", keep=keep, time_scale=time_scale) as stack:
        plan = planned(stack, program)
        systems = sorted({m["system"] for m in plan["moves"] if m["action"] != "mount"})
        wall_s = asyncio.run(measure(stack, program, systems))
    run_s = wall_s * time_scale
    ratio = run_s / plan["eta_s"]
    return {
        "program": program,
        "time_scale": time_scale,
        "points": plan.get("points"),
        "eta_s": round(plan["eta_s"], 1),
        "run_s": round(run_s, 1),
        "wall_s": round(wall_s, 2),
        "ratio": round(ratio, 4),
        "met": abs(ratio - 1.0) <= TOLERANCE,
        "bench_wall_s": round(time.monotonic() - t0, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="program plan ETA vs the simulated run")
    parser.add_argument("--programs", default="weekly,monthly")
    parser.add_argument("--time-scale", type=float, default=100.0)
    parser.add_argument("--keep", action="store_true", help="keep the work directories (logs)")
    args = parser.parse_args()
    programs = [p for p in args.programs.split(",") if p]
    results = [run_one(p, args.time_scale, keep=args.keep) for p in programs]
    print(
        json.dumps(
            {
                "benchmark": "program_eta",
                "time_scale": args.time_scale,
                "results": results,
                "target_ratio": f"1 +/- {TOLERANCE}",
                "met": all(r["met"] for r in results),
                "machine": machine(),
            }
        )
    )


if __name__ == "__main__":
    main()
