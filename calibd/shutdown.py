"""The clean stop: every drive halted and seen standing before the daemon says `offline`.

On SIGTERM (systemd's stop) or SIGINT, after `STOPPING=1`:
1. the program sequencer and every subsystem are cancelled: no new command starts, running
   motion sequences unwind, and each subsystem halts its drives on the way out
   (`Subsystem.safe_stop`, bounded);
2. every deployment system's devices are read until no drive moves (halted again while one
   does), for at most `STANDSTILL_S`;
3. a `shutdown` event on `{root}/events` says which systems stand and which could not be seen
   standing (a lost device).
The caller then cancels the rest: the MQTT edge publishes what is queued (that event
included) and then `offline`; the store is flushed, the buses are closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from calibd.core.deployment import DeploymentSystem
from calibd.core.deployment_base import Hardware
from calibd.core.errors import Trip
from calibd.core.outbox import Outbox, Outgoing
from calibd.core.subsystem import Subsystem
from calibd.core.timefmt import iso_now

log = structlog.get_logger("calibd.shutdown", subsystem="daemon")

#: how long the cancelled control tasks get to unwind (each halts its drives within 2 s)
UNWIND_S = 4.0
#: how long the drives get to come to a standstill after the halt
STANDSTILL_S = 5.0
#: between two reads of a system that still moves
REPOLL_S = 0.05


async def standstill(hw: Hardware) -> bool:
    """Read the devices until no drive moves (halting them again while one does); False if
    one still moves (or was last seen moving by a device that no longer answers)."""
    try:
        async with asyncio.timeout(STANDSTILL_S):
            while True:
                try:
                    await hw.poll()
                except Trip:
                    pass  # a lost device: judged on what the others (and its last reading) say
                except Exception as exc:  # a bug must not cut the stop short: halt, report
                    log.error("shutdown_poll_failed", error=repr(exc))
                    await hw.halt_all()
                    return False
                if not hw.any_moving():
                    return True
                await hw.halt_all()
                await asyncio.sleep(REPOLL_S)
    except TimeoutError:
        return False


async def stop_plant(
    control: Sequence[asyncio.Task[Any]], subsystems: Mapping[str, Subsystem], outbox: Outbox
) -> dict[str, bool]:
    """Cancel the control tasks, see every drive standing, announce it; {system: standing}."""
    for task in control:
        task.cancel()
    _, late = await asyncio.wait(control, timeout=UNWIND_S)
    if late:
        log.error("shutdown_unwind_late", tasks=sorted(t.get_name() for t in late))
    systems = {n: s for n, s in subsystems.items() if isinstance(s, DeploymentSystem)}
    results = await asyncio.gather(*(standstill(s.hw) for s in systems.values()))
    standing = dict(zip(systems, results, strict=True))
    for name, ok in standing.items():
        if ok:
            log.info("halted_before_exit", subsystem=name)
        else:
            log.error("not_seen_standing", subsystem=name, after_s=STANDSTILL_S)
    doc = {
        "event": "shutdown",
        "system": None,
        "ts": iso_now(),
        "standing": sorted(n for n, ok in standing.items() if ok),
        "not_standing": sorted(n for n, ok in standing.items() if not ok),
    }
    outbox.put(Outgoing("event", None, doc))
    return standing
