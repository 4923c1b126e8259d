"""What every deployment system (acu, cls1/cls2, gt, rov) shares on top of `Subsystem`.

The long actions run in `on_enter_*` callbacks through `guarded()`: a Trip inside a motion
sequence latches FAULT in that same task, a finished one fires its completion trigger. A trip
found by the poll loop goes through `trip()` (once; further trips wait for the reset). Every
stop-like state halts the hardware. The poll loop reads the hardware, checks the protections
and publishes, fast while anything moves or a fault is latched (so a reset sees fresh data).
Subclasses keep their own STATES/TRANSITIONS table and the system-specific callbacks.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any, ClassVar, Protocol

from calibd.core.commands import Args, Command, NoArgs
from calibd.core.errors import CommandError, ErrorCode, Trip
from calibd.core.outbox import Outbox
from calibd.core.presence import Point, Presence, Segment
from calibd.core.subsystem import ActionSpec, Subsystem, sources

RESET_DESTINATIONS = frozenset({"UNKNOWN", "PARKED", "STOPPED"})
#: actions that never take a parked system into the detector (every other motion does)
NOT_ENTRY = frozenset({"status", "stop", "reset", "home", "select", "retract"})
#: trips after which the encoder cannot be trusted: `reset` leads to UNKNOWN (home again)
REHOME_AFTER = frozenset({"slip", "position_lost"})
#: fresh readings a reset waits for after resetting the drive alarms (wall seconds)
RESET_FRESH_S = 3.0


def enters(action: str, deployed: bool) -> bool:
    """Whether `action` takes a system that is not inside into the detector: every motion but
    select/retract/home, and `home` too when the system is off its home switch (homing then
    opens its gate valve: the source may be anywhere below it)."""
    return action not in NOT_ENTRY or (action == "home" and deployed)


def action_table(
    states: list[str], transitions: list[dict[str, Any]], motions: dict[str, type[Args]]
) -> dict[str, ActionSpec]:
    """The ACTIONS of a deployment system: `status` and `stop` in every state, `reset` where
    the table defines it, and each motion (with its argument model) in the states its trigger
    leaves from."""
    every = frozenset(states)
    table = {
        "status": ActionSpec(NoArgs, every, motion=False),
        "stop": ActionSpec(NoArgs, every, motion=False),
        "reset": ActionSpec(NoArgs, sources(transitions, "reset", states), motion=False),
    }
    for action, args in motions.items():
        table[action] = ActionSpec(args, sources(transitions, action, states))
    return table


class Hardware(Protocol):
    """The devices of one deployment system, as its FSM sees them."""

    homed: bool

    async def poll(self) -> None:
        """Read every device once; raise Trip(comm_loss) for a lost device."""
        ...

    async def wake(self) -> None:
        """Wake the motion sequences waiting for fresh readings."""
        ...

    async def wait_poll(self) -> None:
        """Until the next poll's readings have been judged."""
        ...

    def check_protections(self) -> None:
        """Raise Trip for the first protection the latest readings violate."""
        ...

    async def halt_all(self) -> None:
        """Quick-stop every drive; never raises for a silent device."""
        ...

    async def reset_alarms(self) -> None:
        """Clear drive alarms whose cause is gone."""
        ...

    def reference_lost(self) -> bool:
        """A drive no longer knows its position (power loss)."""
        ...

    def any_moving(self) -> bool:
        """Any drive in motion."""
        ...

    def telemetry(self) -> dict[str, Any]:
        """Raw axis data for the telemetry topic."""
        ...


class DeploymentSystem(Subsystem):
    """Shared behaviour of the systems that move a source (or vehicle) in and out."""

    STATES: ClassVar[list[str]]
    TRANSITIONS: ClassVar[list[dict[str, Any]]]
    MOTION_STATES: ClassVar[frozenset[str]]

    def __init__(
        self,
        name: str,
        outbox: Outbox,
        hw: Hardware,
        *,
        poll_fast_hz: float,
        poll_idle_s: float,
        time_scale: float = 1.0,
    ) -> None:
        super().__init__(name, outbox, time_scale=time_scale)
        self.hw = hw
        self.poll_fast_hz = poll_fast_hz
        self.poll_idle_s = poll_idle_s
        self.target: Any = None  # the running/last move's goal, in the system's own terms
        self._tripping = False
        self._poll_now = asyncio.Event()
        self.polls = 0

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

    # ---- presence (for the interlock board) ----------------------------------------------------

    @property
    def valve(self) -> str | None:
        """The gate valve this system passes (None: none, e.g. the GT outside the acrylic)."""
        valve = getattr(getattr(self, "cfg", None), "valve", None)
        return valve if isinstance(valve, str) else None

    def presence(self) -> Presence:
        """`inside`: the source is (or is about to be) in the detector. A system off its home
        switch with its gate valve closed is not (the closed valve proves its source is above
        it: it closes only with nothing in its path); one running an entry command is, from
        the moment the command is accepted (so two systems cannot both be let in)."""
        fields = self.status_fields()
        deployed = bool(fields.get("deployed"))
        valve, valves = self.valve, getattr(self, "valves", None)
        sealed = valve is not None and valves is not None and valves.valve(valve) == "closed"
        entering = self.command is not None and enters(self.command.action, deployed)
        inside = entering or (deployed and not sealed)
        return Presence(
            deployed=deployed,
            inside=inside,
            moving=self.state in self.MOTION_STATES or self.hw.any_moving(),
            faulted=self.state == "FAULT",
            source=fields.get("source"),
            valve=valve,
            cables=self.cables() if deployed and not sealed else (),
            known=self.polls > 0,
            point=self.point(),
        )

    def cables(self) -> tuple[Segment, ...]:
        """The segments the deployed cables occupy (detector frame); none by default."""
        return ()

    def cables_for(self, action: str, args: Any) -> tuple[Segment, ...]:
        """The segments the cables (or the vehicle's path) will occupy if `action` runs."""
        return ()

    def point(self) -> Point | None:
        """The vehicle's position, for systems that are a vehicle (ROV)."""
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
        while True:
            started = loop.time()
            trip: Trip | None = None
            try:
                await self.hw.poll()
            except Trip as exc:
                trip = exc
            self.polls += 1
            if trip is None and self.state != "FAULT":
                try:
                    self.hw.check_protections()
                except Trip as exc:
                    trip = exc
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
            if self.busy() or self.status_due(1.0):
                self.publish_status()
            period = 1.0 / self.poll_fast_hz if self.poll_fast() else self.poll_idle_s
            # an accepted motion command cuts an idle wait short: its first poll is now
            self._poll_now.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, period - (loop.time() - started))):
                    await self._poll_now.wait()
