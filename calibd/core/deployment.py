"""What every deployment system (acu, cls1/cls2, gt, rov) shares on top of `Subsystem`.

The long actions run in `on_enter_*` callbacks through `guarded()`: a Trip inside a motion
sequence latches FAULT in that same task, a finished one fires its completion trigger. A trip
found by the poll loop goes through `trip()` (once; further trips wait for the reset). Every
stop-like state halts the hardware. The poll loop reads the hardware, checks the protections
and publishes, fast while anything moves or a fault is latched (so a reset sees fresh data).
Subclasses keep their own STATES/TRANSITIONS table and the system-specific callbacks.

The other parts of a deployment system: its hardware and shared state
(`calibd/core/deployment_base.py`), its action table (`deployment_actions.py`), restart
recovery (`deployment_recovery.py`), the source inventory (`deployment_inventory.py`), its
presence for the interlock board (`deployment_presence.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any

from calibd.core.actions import sources
from calibd.core.commands import Command
from calibd.core.deployment_actions import RESET_DESTINATIONS
from calibd.core.deployment_inventory import SourceSlots
from calibd.core.deployment_presence import PresenceReport
from calibd.core.deployment_recovery import MISMATCH, RestartRecovery
from calibd.core.errors import CommandError, ErrorCode, Trip

#: trips after which the encoder cannot be trusted: `reset` leads to UNKNOWN (home again)
REHOME_AFTER = frozenset({"slip", "position_lost"})
#: fresh readings a reset waits for after resetting the drive alarms (wall seconds)
RESET_FRESH_S = 3.0


class DeploymentSystem(RestartRecovery, SourceSlots, PresenceReport):
    """Shared behaviour of the systems that move a source (or vehicle) in and out."""

    def motion_started(self) -> None:
        """A motion command was accepted: poll now, and fast from here on."""
        self._poll_now.set()

    # ---- conditions --------------------------------------------------------------------------

    def is_homed(self, event: Any = None) -> bool:
        return self.hw.homed

    # ---- common actions ----------------------------------------------------------------------

    async def act_status(self, cmd: Command, args: Any) -> None:
        self.publish_status()

    async def act_stop(self, cmd: Command, args: Any) -> None:
        if self.state in sources(self.TRANSITIONS, "stop", self.STATES):
            await self.trigger("stop")
        else:
            await self.hw.halt_all()

    async def act_reset(self, cmd: Command, args: Any) -> None:
        if self.latched is not None and self.latched.code == MISMATCH:
            raise CommandError(
                ErrorCode.INTERLOCK,
                f"{MISMATCH} is not reset: retract (slowly, onto the home switches) or an"
                f" expert `override` on {self.name}/expert/cmd",
            )
        await self.hw.reset_alarms()
        # judge on readings taken after the alarm resets, not on a poll already in flight
        try:
            async with asyncio.timeout(RESET_FRESH_S):
                await self.hw.wait_poll()
                await self.hw.wait_poll()
        except TimeoutError:
            raise CommandError(ErrorCode.TIMEOUT, "no fresh readings after the reset") from None
        still = self.reset_cause()
        if still is not None and still.code not in REHOME_AFTER:  # those the reset is for
            raise CommandError(
                ErrorCode.INTERLOCK, f"cause still present: {still.code}: {still.message}"
            )
        if self.hw.reference_lost() or (self.latched and self.latched.code in REHOME_AFTER):
            self.hw.homed = False  # reset leads to UNKNOWN: home again before any move
        self.latched = None
        self._tripping = False
        await self.run_trigger("reset", RESET_DESTINATIONS)

    def reset_cause(self) -> Trip | None:
        """The protection that still holds on the fresh readings a reset judges (None: gone)."""
        try:
            self.hw.check_protections()
        except Trip as still:
            return still
        return None

    # ---- faults --------------------------------------------------------------------------------

    async def guarded(self, what: str, sequence: Awaitable[None], **kwargs: Any) -> None:
        """Run a motion sequence; a Trip inside it latches the fault in this same task,
        otherwise fire the completion trigger `what`."""
        try:
            await sequence
        except Trip as exc:
            self._tripping = True
            await self._trip(exc)
            return
        await self.trigger(what, **kwargs)

    def trip(self, exc: Trip) -> None:
        if self._tripping or self.state == "FAULT":
            return
        self._tripping = True
        super().trip(exc)

    async def _trip(self, exc: Trip) -> None:
        if self.state == "FAULT":
            return
        # stop at once, before the FSM unwinds the running motion (on_enter_FAULT halts again)
        await self.hw.halt_all()
        await super()._trip(exc)

    # ---- state callbacks ---------------------------------------------------------------------

    async def on_enter_STOPPED(self, event: Any) -> None:  # noqa: N802 - transitions naming
        await self.hw.halt_all()

    async def on_enter_UNKNOWN(self, event: Any) -> None:  # noqa: N802
        if event.event.name == "stop":
            await self.hw.halt_all()

    async def on_enter_FAULT(self, event: Any) -> None:  # noqa: N802
        await self.hw.halt_all()

    async def on_enter_PARKED(self, event: Any) -> None:  # noqa: N802
        self.target = None

    async def safe_stop(self) -> None:
        await self.hw.halt_all()

    # ---- poll ----------------------------------------------------------------------------------

    def busy(self) -> bool:
        """Publish status on every poll: a command running, motion, a latched fault, a drive
        moving."""
        return (
            self.command is not None
            or self.state in self.MOTION_STATES
            or self.state == "FAULT"
            or self.hw.any_moving()
        )

    def poll_fast(self) -> bool:
        """Poll at `poll_fast_hz` (else every `poll_idle_s`)."""
        return self.busy()

    def after_poll(self) -> None:
        """Hook: system-specific checks on the fresh readings (e.g. warnings)."""

    async def poll_loop(self) -> None:
        loop = asyncio.get_running_loop()
        # first of all: whatever the drives were doing when the daemon (re)started, stop it
        await self.hw.halt_all()
        while True:
            started = loop.time()
            trip: Trip | None = None
            try:
                await self.hw.poll()
            except Trip as exc:
                trip = exc
            self.polls += 1
            if trip is None and not self._recovered:
                self._recover()  # before judging: a restored system is judged as what it is
                self.first_poll.set()
            elif trip is None and self.journal is not None and self.command is None:
                self.journal.settle(self.axes_now())
            if trip is None and self.state != "FAULT":
                try:
                    self.hw.check_protections()
                except Trip as exc:
                    trip = exc
            if trip is not None:
                self.first_poll.set()  # not readable: it stays unknown (its trip says why)
            if trip is not None and not (self._tripping or self.state == "FAULT"):
                # the trip task halts every drive first thing (let it send the halt before
                # this loop publishes); the motion sequences stay asleep (not woken by these
                # readings) until the fault has cancelled them
                self.trip(trip)
                await asyncio.sleep(0)
            elif self.state == "FAULT" and self.hw.any_moving():
                # a drive that did not answer the fault's halt (or was started behind our
                # back) is halted again on every poll until it stands
                await self.hw.halt_all()
            elif not (self._tripping and self.state != "FAULT"):
                await self.hw.wake()
            if self.on_fresh is not None:
                self.on_fresh(self.name)
            self.after_poll()
            self.telemetry(self.hw.telemetry())
            if self.busy() or self.status_due():
                self.publish_status()
            period = 1.0 / self.poll_fast_hz if self.poll_fast() else self.poll_idle_s
            # an accepted motion command cuts an idle wait short: its first poll is now
            self._poll_now.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, period - (loop.time() - started))):
                    await self._poll_now.wait()
