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
from collections.abc import Awaitable, Mapping
from typing import Any, ClassVar, Literal, Protocol

from calibd.core.axis import Axis
from calibd.core.commands import Args, Command, NoArgs
from calibd.core.errors import CommandError, ErrorCode, Trip
from calibd.core.journal import AxisNow, JournaledDrive, SystemJournal
from calibd.core.outbox import Outbox
from calibd.core.presence import Point, Presence, Segment
from calibd.core.recovery import reconcile
from calibd.core.subsystem import ActionSpec, Fault, Handler, Subsystem, sources
from calibd.core.timefmt import iso_now

RESET_DESTINATIONS = frozenset({"UNKNOWN", "PARKED", "STOPPED"})
#: actions that never take a parked system into the detector (every other motion does)
NOT_ENTRY = frozenset(
    {"status", "stop", "reset", "home", "select", "retract", "laser_on", "laser_off", "laser_scan"}
)
#: trips after which the encoder cannot be trusted: `reset` leads to UNKNOWN (home again)
REHOME_AFTER = frozenset({"slip", "position_lost"})
#: fresh readings a reset waits for after resetting the drive alarms (wall seconds)
RESET_FRESH_S = 3.0
#: the restart-recovery fault: only a slow retract (homing) or an expert override leaves it
MISMATCH = "position_mismatch"


def enters(action: str, deployed: bool) -> bool:
    """Whether `action` takes a system that is not inside into the detector: every motion but
    select/retract/home, and `home` too when the system is off its home switch (homing then
    opens its gate valve: the source may be anywhere below it)."""
    return action not in NOT_ENTRY or (action == "home" and deployed)


class OverrideArgs(Args):
    #: "drive": the drives' readings are right (they must still be homed); "unknown": the
    #: position is unknown (UNKNOWN: home before use)
    accept: Literal["drive", "unknown"]


class MountArgs(Args):
    source: str
    unit: str | None = None


class UnmountArgs(Args):
    unit: str | None = None


def action_table(
    states: list[str], transitions: list[dict[str, Any]], motions: dict[str, type[Args]]
) -> dict[str, ActionSpec]:
    """The ACTIONS of a deployment system: `status` and `stop` in every state, `reset` where
    the table defines it, each motion (with its argument model) in the states its trigger
    leaves from (`retract` also where `recover` leaves from: the slow retract out of a
    position mismatch), and the maintenance actions `override`, `mount`, `unmount`."""
    every = frozenset(states)
    table = {
        "status": ActionSpec(NoArgs, every, motion=False),
        "stop": ActionSpec(NoArgs, every, motion=False),
        "reset": ActionSpec(NoArgs, sources(transitions, "reset", states), motion=False),
        "override": ActionSpec(OverrideArgs, frozenset({"FAULT"}), motion=False, expert=True),
        "mount": ActionSpec(MountArgs, every, motion=False, expert=True),
        "unmount": ActionSpec(UnmountArgs, every, motion=False, expert=True),
    }
    for action, args in motions.items():
        allowed = sources(transitions, action, states)
        if action == "retract":
            allowed |= sources(transitions, "recover", states)
        table[action] = ActionSpec(args, allowed)
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

    def drive_axes(self) -> Mapping[str, Axis]:
        """Every drive axis by name (journaled; checked by restart recovery)."""
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
        #: the store's record of this system (None: nothing persisted, e.g. unit tests)
        self.journal: SystemJournal | None = None
        self.recovery_tolerance_counts = 64.0
        self._recovered = False

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

    # ---- restart recovery and its journal -------------------------------------------------------

    def attach_journal(self, journal: SystemJournal, tolerance_counts: float) -> None:
        """Journal every drive command of this system (write-ahead) and recover from
        `journal.persisted` at the first poll."""
        self.journal = journal
        self.recovery_tolerance_counts = tolerance_counts
        for name, axis in self.hw.drive_axes().items():
            axis.drive = JournaledDrive(axis.drive, name, journal)

    def axes_now(self) -> dict[str, AxisNow]:
        return {n: AxisNow.of(a.status, a.counts_per_rev) for n, a in self.hw.drive_axes().items()}

    def persist(self) -> None:
        """Snapshot the state, position and drive ranges into the journal."""
        if self.journal is None:
            return
        fields = self.status_fields()
        doc = {
            "state": self.state,
            "homed": self.hw.homed,
            "deployed": fields.get("deployed"),
            "position": fields.get("position"),
            "target": self.target,
            "source": fields.get("source"),
        }
        self.journal.record(doc, self.axes_now())

    async def on_state_entered(self, event: Any) -> None:
        await super().on_state_entered(event)
        self.persist()

    def _recover(self) -> None:
        """Reconcile the persisted snapshot with the drives (see `calibd/core/recovery.py`)."""
        self._recovered = True
        journal = self.journal
        if journal is None:
            return
        persisted, journal.persisted = journal.persisted, None
        outcome = reconcile(
            persisted,
            self.axes_now(),
            self.recovery_tolerance_counts,
            deployed=bool(self.status_fields().get("deployed")),
            first_start=journal.first_start,
        )
        self.log.warning(
            "recovery", outcome=outcome.kind, state=outcome.state, message=outcome.message
        )
        self.event(
            "recovery",
            outcome=outcome.kind,
            state=outcome.state,
            message=outcome.message,
            **outcome.details,
        )
        if outcome.kind == "restore" and persisted is not None:
            self.hw.homed = True
            self.target = persisted.get("target")
            if self.state != "FAULT":
                self._force_state(outcome.state)
        elif outcome.kind == "mismatch":
            self.hw.homed = False
            self.latched = Fault(
                MISMATCH, outcome.message, ErrorCode.INTERLOCK, allows=frozenset({"retract"})
            )
            self.event("fault", code=MISMATCH, message=outcome.message, axis="")
            self._force_state("FAULT")
        self.persist()
        self.publish_status()

    def _force_state(self, state: str) -> None:
        """Take `state` without its callbacks (restart recovery: nothing is to be done)."""
        src = self.state
        if src == state:
            return
        self.machine.set_state(state, model=self)
        self.since = iso_now()
        self.event("transition", src=src, dst=state, trigger="recover", command=None)

    def handler(self, action: str) -> Handler:
        if action == "retract" and self.state == "FAULT":
            return self.act_recover
        return super().handler(action)

    async def act_recover(self, cmd: Command, args: Any) -> None:
        """`retract` out of a position mismatch: home slowly onto the switches, under the
        tension watch of a system whose position is unknown."""
        self.latched = None
        self._tripping = False
        self.target = None
        await self.run_trigger("recover", {"PARKED"})

    async def act_override(self, cmd: Command, args: OverrideArgs) -> None:
        if args.accept == "drive":
            self.hw.homed = True
        else:
            self.hw.homed = False
        self.latched = None
        self._tripping = False
        self.event("override", accept=args.accept, operator=cmd.operator, command=cmd.id)
        await self.run_trigger("reset", RESET_DESTINATIONS)

    # ---- maintenance: the source inventory ------------------------------------------------------

    def units(self) -> tuple[str, ...]:
        """The units that carry a source (empty: the system itself carries one)."""
        return ()

    def slot_parked(self, unit: str | None) -> bool:
        """Whether the slot (the system, or one of its units) is parked with nothing running."""
        return (
            self.command is None
            and self.state not in self.MOTION_STATES
            and not self.status_fields().get("deployed")
        )

    def check_common(self, action: str, args: Any) -> None:
        if action == "override":
            if self.latched is None or self.latched.code != MISMATCH:
                raise CommandError(
                    ErrorCode.INVALID_STATE, f"override applies only to a {MISMATCH} fault"
                )
            if args.accept == "drive" and self.hw.reference_lost():
                raise CommandError(
                    ErrorCode.INVALID_STATE,
                    "a drive has lost its reference (not homed): its reading cannot be"
                    " accepted; accept 'unknown' or retract",
                )
        if action in {"mount", "unmount"}:
            units = self.units()
            if units and args.unit not in units:
                raise CommandError(
                    ErrorCode.OUT_OF_RANGE, f"unit {args.unit!r} is not one of {', '.join(units)}"
                )
            if not units and args.unit is not None:
                raise CommandError(ErrorCode.BAD_REQUEST, f"{self.name} has no units")
            if not self.slot_parked(args.unit):
                where = self.name if args.unit is None else f"{self.name} unit {args.unit}"
                raise CommandError(
                    ErrorCode.INVALID_STATE,
                    f"{action} only while {where} is parked with no command running"
                    f" (now {self.state})",
                )
            if self.inventory is None:
                raise CommandError(ErrorCode.INTERNAL, "no source inventory")

    def apply_maintenance(self, cmd: Command, args: Any) -> None:
        if cmd.action in {"mount", "unmount"}:
            apply = getattr(self.inventory, "apply")  # noqa: B009 - SourceLookup is read-only
            apply(
                cmd.action,
                source=getattr(args, "source", None),
                system=self.name,
                unit=args.unit,
                operator=cmd.operator,
                command_id=cmd.id,
            )

    async def act_mount(self, cmd: Command, args: MountArgs) -> None:
        self.publish_status()

    async def act_unmount(self, cmd: Command, args: UnmountArgs) -> None:
        self.publish_status()

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
            if self.busy() or self.status_due(1.0):
                self.publish_status()
            period = 1.0 / self.poll_fast_hz if self.poll_fast() else self.poll_idle_s
            # an accepted motion command cuts an idle wait short: its first poll is now
            self._poll_now.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, period - (loop.time() - started))):
                    await self._poll_now.wait()
