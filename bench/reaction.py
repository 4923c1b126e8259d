"""Interlock reaction time: fault injected on a moving axis -> the daemon's stop command.

On a private HIL rig (bench/_common.py: Mosquitto, calibsim, `calibd run` on a copy of
config/sim.toml) each system in `--systems` (default acu) is homed and deployed, then N times:
optionally rest `--rest-s` (the daemon drops to its idle poll), `move` (hauling the faulted
axis for a snag, paying out for slack, alternating for the others), wait for status `MOVING`,
wait 0-100 ms at random, inject the next fault of `--faults` on that axis
(`{root}/sim/<system>/fault`), wait for the simulator's `stopped` event (`reaction_ms` = wall
time from the injection to the first STOP/HALT the drive receives; none within
STOP_TIMEOUT_S is a miss), clear the fault, wait for the move's final reply, `reset` (retried
while refused `interlock`: cause still present) and check the system is movable again
(STOPPED/AT_POSITION). Then it is retracted (parked), so the next system may enter the
detector. Goal (issue 4): p99 <= poll period + 5 ms, the poll period being 1/poll_fast_hz of
the system's config; a miss fails it too. Prints one JSON object.

    .venv/bin/python bench/reaction.py [--n 200] [--time-scale 20] [--systems acu,cls1,gt]
        [--faults snag,slack,drive_alarm,limit] [--rest-s 0] [--seed 1] [--keep]

`run()` is the same as a function (bench/suite.py uses it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from _common import Link, Rig, linked, rig
from machine_info import machine
from reaction_plan import (
    DEFAULT_FAULTS,
    HAUL,
    MARGIN_MS,
    PLANS,
    STOP_FAULTS,
    Plan,
    Shot,
    by_fault,
    figures,
    stopped_event,
)

MAX_DELAY_S = 0.1
STOP_TIMEOUT_S = 2.0
SETTLE_TIMEOUT_S = 10.0
RESET_TIMEOUT_S = 10.0
SETUP_TIMEOUT_S = 180.0
MOVABLE = {"STOPPED", "AT_POSITION"}
SETTLED = MOVABLE | {"FAULT"}


async def reset(link: Link, system: str, poll_s: float) -> Counter[str]:
    """`reset` until completed. Returns what went wrong before: refused `interlock` (the cause
    still present) or failed (it tripped again while resetting)."""
    deadline = time.monotonic() + RESET_TIMEOUT_S
    trouble: Counter[str] = Counter()
    while True:
        cmd_id = await link.send(system, "reset")
        last = await link.ack(cmd_id)
        if last.get("result") == "accepted":
            last = await link.final(cmd_id, SETTLE_TIMEOUT_S)
            if last.get("result") == "completed":
                return trouble
            what = f"failed: {(last.get('error') or {}).get('message')}"
        elif (last.get("error") or {}).get("code") == "interlock":
            what = "refused: cause still present"
        else:
            raise RuntimeError(f"{system} reset refused: {last}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{system} reset not done in {RESET_TIMEOUT_S} s; last: {last}")
        trouble[what] += 1
        await link.state(system, {"FAULT"}, SETTLE_TIMEOUT_S)
        await asyncio.sleep(2 * poll_s)


async def settle(link: Link, system: str, poll_s: float) -> tuple[str | None, Counter[str]]:
    """Back to a movable state: a latched FAULT is reset (after the fault was cleared).
    Returns the trip code (None: no FAULT) and the reset's trouble (see `reset`)."""
    status = await link.state(system, SETTLED, SETTLE_TIMEOUT_S)
    trip, trouble = None, Counter[str]()
    if status["state"] == "FAULT":
        trip = (status.get("fault") or {}).get("code")
        trouble = await reset(link, system, poll_s)
    await link.state(system, MOVABLE, SETTLE_TIMEOUT_S)
    return trip, trouble


async def shot(
    link: Link, plan: Plan, fault: str, haul: bool, delay_s: float, poll_s: float
) -> Shot | str:
    """One injection during a move; if the move ended before the fault went in, why."""
    system, fault_topic = plan.system, f"sim/{plan.system}/fault"
    move_id = await link.send(system, "move", plan.target(link.status(system), haul))
    ack = await link.ack(move_id)
    if ack.get("result") != "accepted":
        if (ack.get("error") or {}).get("code") != "interlock":
            raise RuntimeError(f"{system} move: {ack}")
        await link.state(system, {"FAULT"}, SETTLE_TIMEOUT_S)  # tripped since it was STOPPED
        trip, _ = await settle(link, system, poll_s)
        return f"refused, latched {trip}"
    await link.wait(
        lambda: (
            link.status(system).get("state") == "MOVING"
            or any(r.get("final") for r in link.replies.get(move_id, []))
        ),
        SETTLE_TIMEOUT_S,
        f"{system} MOVING",
    )
    await asyncio.sleep(delay_s)
    if link.status(system).get("state") != "MOVING":
        final = await link.final(move_id, SETTLE_TIMEOUT_S)
        trip, _ = await settle(link, system, poll_s)
        return str(final.get("result")) if trip is None else f"tripped {trip}"
    mark = len(link.events)
    await link.publish(fault_topic, {"fault": fault, "axis": plan.axis})
    try:
        event = await link.wait(
            lambda: stopped_event(link.events[mark:], plan, fault), STOP_TIMEOUT_S, "stop"
        )
    except TimeoutError:
        event = None
    await link.publish(fault_topic, {"fault": "clear", "axis": plan.axis})
    if event is None and link.status(system).get("state") == "MOVING":
        await link.send(system, "stop")  # missed: end the move by hand
    final = await link.final(move_id, SETTLE_TIMEOUT_S)
    trip, trouble = await settle(link, system, poll_s)
    error = (final.get("error") or {}).get("code")
    return Shot(
        system,
        fault,
        haul,
        round(delay_s * 1000.0, 1),
        None if event is None else float(event["reaction_ms"]),
        trip,
        f"{final.get('result')}/{error}" if error else str(final.get("result")),
        trouble,
    )


@dataclass(frozen=True)
class Options:
    faults: list[str]
    n: int  # injections per system
    rest_s: float  # at rest before each move (the daemon back to its idle poll)
    seed: int
    configured: tuple[str, ...] = ()  # every deployment system of the config


@dataclass
class Tally:
    shots: list[Shot] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)  # moves ended before the injection
    aborted: str | None = None  # why the run stopped early


async def exercise(
    link: Link, plan: Plan, opts: Options, rng: random.Random, poll_s: float, tally: Tally
) -> None:
    """Home, deploy, n injections, retract; into `tally`."""
    system, faults = plan.system, opts.faults
    others = [s for s in opts.configured if s != system]

    def out(other: str) -> bool:  # as the cross-system rules see it: off its switch, valve open
        valves = (link.status("house").get("position") or {}).get("valves") or {}
        return bool(link.status(other).get("deployed", True)) and valves.get(other) != "closed"

    # until its first readings a system counts as out (source limit, chimney)
    await link.wait(lambda: not any(map(out, others)), SETTLE_TIMEOUT_S, "nothing else out")
    await link.run(system, "home", timeout_s=SETUP_TIMEOUT_S)
    await link.run(system, "deploy", plan.deploy, timeout_s=SETUP_TIMEOUT_S)
    done = 0
    while done < opts.n:
        await asyncio.sleep(opts.rest_s)
        fault = faults[done % len(faults)]
        haul = HAUL.get(fault, done % 2 == 0)
        got = await shot(link, plan, fault, haul, rng.uniform(0, MAX_DELAY_S), poll_s)
        if isinstance(got, str):
            tally.skipped[f"{system}: {got}"] += 1
            if tally.skipped.total() > opts.n:
                raise RuntimeError(f"{system}: moves keep ending before the injection")
        else:
            tally.shots.append(got)
            done += 1
    await link.run(system, "retract", timeout_s=SETUP_TIMEOUT_S)
    print(f"reaction: {system} done ({opts.n} injections)", file=sys.stderr)


async def measure(stack: Rig, plans: list[Plan], opts: Options, poll_s: dict[str, float]) -> Tally:
    """Every plan in turn; a system that cannot go on ends the run (`aborted`), so the
    figures so far are still reported."""
    rng = random.Random(opts.seed)
    tally = Tally()
    async with linked(stack, "reaction") as link:
        await link.online(stack, list(opts.configured))
        for plan in plans:
            try:
                await exercise(link, plan, opts, rng, poll_s[plan.system], tally)
            except (RuntimeError, TimeoutError) as exc:
                tally.aborted = f"{plan.system}: {exc}"
                break
    return tally


def run(
    n: int = 200,
    *,
    time_scale: float = 20.0,
    systems: tuple[str, ...] = ("acu",),
    faults: tuple[str, ...] = tuple(DEFAULT_FAULTS.split(",")),
    rest_s: float = 0.0,
    seed: int = 1,
    keep: bool = False,
) -> dict[str, Any]:
    """N injections per system on a fresh rig; the result document (without the machine).
    `aborted` says why a run stopped early (its figures so far are still there)."""
    if n < 1:
        raise ValueError("reaction: n must be at least 1")
    if not systems or set(systems) - PLANS.keys():
        raise ValueError(f"reaction: systems must be among {', '.join(PLANS)}")
    if not faults or set(faults) - set(STOP_FAULTS):
        raise ValueError(f"reaction: faults must be among {', '.join(STOP_FAULTS)}")
    t0 = time.monotonic()
    with rig("reaction", keep=keep, time_scale=time_scale) as stack:
        cfg = tomllib.loads(stack.config.read_text())
        configured = tuple(k for k, v in cfg.items() if isinstance(v, dict) and "poll_fast_hz" in v)
        poll_s = {s: 1.0 / float(cfg[s]["poll_fast_hz"]) for s in systems}
        plans = [PLANS[s] for s in systems]
        opts = Options(list(faults), n, rest_s, seed, configured)
        tally = asyncio.run(measure(stack, plans, opts, poll_s))
    shots = tally.shots

    per_system: dict[str, Any] = {}
    for s in systems:
        target_ms = poll_s[s] * 1000.0 + MARGIN_MS
        mine = [x for x in shots if x.system == s]
        per_system[s] = {
            "axis": PLANS[s].axis,
            "poll_period_ms": round(poll_s[s] * 1000.0, 3),
            "target_p99_ms": round(target_ms, 3),
            **figures(mine, target_ms),
        }
        if len(systems) > 1:
            per_system[s]["per_fault"] = by_fault(mine, list(faults), target_ms)
    poll_ms = max(poll_s.values()) * 1000.0
    overall = figures(shots, poll_ms + MARGIN_MS)
    return {
        "benchmark": "reaction",
        "systems": list(systems),
        "faults": list(faults),
        "time_scale": time_scale,
        "rest_s": rest_s,
        "poll_period_ms": round(poll_ms, 3),
        "target_p99_ms": round(poll_ms + MARGIN_MS, 3),
        **{k: v for k, v in overall.items() if k != "pass"},
        "pass": tally.aborted is None and all(v["pass"] for v in per_system.values()),
        "aborted": tally.aborted,
        "moves_ended_before_injection": dict(tally.skipped),
        "per_fault": by_fault(shots, list(faults), poll_ms + MARGIN_MS),
        "per_system": per_system,
        "wall_s": round(time.monotonic() - t0, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="calibd interlock reaction time (JSON)")
    parser.add_argument("--n", type=int, default=200, help="injections per system (default 200)")
    parser.add_argument("--time-scale", type=float, default=20.0, help="simulator time scale")
    parser.add_argument("--systems", default="acu", help=f"of {','.join(PLANS)} (default acu)")
    parser.add_argument("--faults", default=DEFAULT_FAULTS, help=f"of {','.join(STOP_FAULTS)}")
    parser.add_argument("--rest-s", type=float, default=0.0, help="idle before each move (s)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random delays")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args()
    try:
        result = run(
            args.n,
            time_scale=args.time_scale,
            systems=tuple(s for s in args.systems.split(",") if s),
            faults=tuple(f for f in args.faults.split(",") if f),
            rest_s=args.rest_s,
            seed=args.seed,
            keep=args.keep,
        )
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    print(json.dumps({**result, "machine": machine()}))
    if result["aborted"]:
        raise SystemExit(f"reaction: aborted: {result['aborted']}")


if __name__ == "__main__":
    main()
