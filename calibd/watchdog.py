"""What systemd hears from the daemon: READY, the watchdog pings from the control loops, STATUS.

A `Liveness` watches the control loops through counters that only their own rounds increase:
every subsystem's poll loop (counted by the interlock board, which each poll round calls once,
whether the hardware answered or not) and the board's own loop. A loop whose counter has not
moved for `STALE_AFTER_S` is stuck. The `Watchdog` sends `WATCHDOG=1` every WatchdogSec/2 only
while no loop is stuck, so a stuck loop (or a blocked event loop) gets the daemon restarted by
systemd; it names the stuck loop in the log and in `STATUS=`.

A device that does not answer is not a stuck loop: its poll round fails fast (deadlines,
reconnect backoff that never sleeps) and the loop keeps counting, so a broken cable latches
`comm_loss` and never causes a restart loop. The MQTT edge is not watched: it has its own
deadlines and reconnects, and a restart (which halts every drive) would not bring a broker back.

Before READY the watchdog sends `EXTEND_TIMEOUT_USEC` instead of pings, again only while every
loop runs: a daemon waiting for its broker stays "activating" without hitting TimeoutStartSec.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from calibd.systemd import sd_notify

log = structlog.get_logger("calibd.watchdog", subsystem="watchdog")

#: a loop whose counter has not moved for this long is stuck. The slowest legitimate round is
#: well under half of it: an idle poll period (<= 5 s, the config's bound) plus one round of
#: I/O with every device silent (Modbus 0.2 s x 3 attempts per request, one request at a time
#: per bus, the link dropped after 3 failures; serial 0.1 s x 3; in FAULT one halt of each
#: drive more): about 8 s.
STALE_AFTER_S = 15.0
#: the tick without a systemd watchdog (WatchdogSec unset): STATUS and start-up extension only
DEFAULT_TICK_S = 5.0


@dataclass(frozen=True)
class Loop:
    """A control loop: `progress()` returns a counter that grows with each of its rounds."""

    name: str
    progress: Callable[[], int]
    max_gap_s: float = STALE_AFTER_S


@dataclass(frozen=True)
class Stale:
    name: str
    silent_s: float


class Liveness:
    """Which loops have not made progress within their `max_gap_s` (sampled at each `check`)."""

    def __init__(self, loops: Iterable[Loop], clock: Callable[[], float] = time.monotonic) -> None:
        self.loops = list(loops)
        self.clock = clock
        now = clock()
        #: per loop: the counter last seen and when it was first seen at that value
        self._seen = {loop.name: (loop.progress(), now) for loop in self.loops}

    def check(self) -> list[Stale]:
        """The stuck loops now (silence is measured from the check that saw the last change,
        so it is never overestimated)."""
        now = self.clock()
        stale: list[Stale] = []
        for loop in self.loops:
            value = loop.progress()
            last, since = self._seen[loop.name]
            if value != last:
                self._seen[loop.name] = (value, now)
            elif now - since > loop.max_gap_s:
                stale.append(Stale(loop.name, now - since))
        return stale


class Polled(Protocol):
    """What the liveness reads of the interlock board: poll rounds per system, its own rounds."""

    @property
    def polls(self) -> Mapping[str, int]: ...

    @property
    def rounds(self) -> int: ...


def control_loops(systems: Iterable[str], board: Polled) -> list[Loop]:
    """The loops the watchdog guards: each system's poll loop and the interlock board's."""

    def polls_of(name: str) -> Callable[[], int]:
        return lambda: board.polls.get(name, 0)

    loops = [Loop(f"{name} poll loop", polls_of(name)) for name in systems]
    loops.append(Loop("interlock board", lambda: board.rounds))
    return loops


class Watchdog:
    """Sends READY=1 once `ready` and no loop is stuck; then WATCHDOG=1 every tick while no loop
    is stuck (before READY: EXTEND_TIMEOUT_USEC); STATUS= whenever the line changes."""

    def __init__(
        self,
        liveness: Liveness,
        status: Callable[[], str],
        *,
        interval_s: float | None,
        notify: Callable[..., Any] = sd_notify,
    ) -> None:
        self.liveness = liveness
        self.status = status
        #: WatchdogSec/2 under systemd's watchdog (None: no pings expected)
        self.pings = interval_s is not None
        self.tick_s = interval_s if interval_s is not None else DEFAULT_TICK_S
        self.notify = notify
        self.ready_sent = False
        self._stale: set[str] = set()
        self._status = ""

    def tick(self, ready: bool) -> list[Stale]:
        """One look at the loops; tell systemd what it should know. Returns the stuck loops."""
        stale = self.liveness.check()
        self._log(stale)
        fields: list[str] = []
        if stale:
            worst = max(stale, key=lambda s: s.silent_s)
            names = ", ".join(s.name for s in stale)
            line = f"STUCK: {names} (no progress for {worst.silent_s:.0f} s); no watchdog pings"
        else:
            line = self.status()
            if ready and not self.ready_sent:
                fields.append("READY=1")
                self.ready_sent = True
                log.info("ready", status=line)
            elif self.ready_sent and self.pings:
                fields.append("WATCHDOG=1")
            elif not self.ready_sent:
                fields.append(f"EXTEND_TIMEOUT_USEC={int(self.tick_s * 3 * 1e6)}")
        if line != self._status:
            fields.append(f"STATUS={line}")
            self._status = line
        if fields:
            self.notify(*fields)
        return stale

    def _log(self, stale: list[Stale]) -> None:
        now = {s.name for s in stale}
        for s in stale:
            if s.name not in self._stale:
                log.error(
                    "loop_stale",
                    loop=s.name,
                    silent_s=round(s.silent_s, 1),
                    hint="watchdog pings withheld: systemd restarts the daemon",
                )
        for name in sorted(self._stale - now):
            log.warning("loop_recovered", loop=name)
        self._stale = now

    async def run(self, ready: asyncio.Event) -> None:
        """Tick every `tick_s`, and at once when `ready` is set."""
        while True:
            self.tick(ready.is_set())
            if self.ready_sent or ready.is_set():
                await asyncio.sleep(self.tick_s)
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.tick_s):
                    await ready.wait()


class EdgeView(Protocol):
    """What the status line reads of the MQTT edge."""

    ready: asyncio.Event
    connected: asyncio.Event
    connects: int


class FaultView(Protocol):
    latched: Any


def daemon_status(
    edge: EdgeView, subsystems: Mapping[str, FaultView], session: int, broker: str
) -> str:
    """The STATUS= line: what the daemon is doing, its session, its systems, latched faults."""
    if not edge.ready.is_set():
        head = "reading the hardware"
    elif edge.connected.is_set():
        head = "online"
    elif edge.connects == 0:
        head = f"waiting for the MQTT broker {broker}"
    else:
        head = f"MQTT broker {broker} lost, reconnecting"
    line = f"{head}, session {session}, {len(subsystems)} systems"
    faults = [f"{n} ({s.latched.code})" for n, s in sorted(subsystems.items()) if s.latched]
    if faults:
        line += "; FAULT: " + ", ".join(faults)
    return line
