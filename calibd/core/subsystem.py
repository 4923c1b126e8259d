"""Base of every subsystem: one FSM, its command tasks, its poll loop, its faults.

A subsystem is the `transitions` model. Commands are validated synchronously in `submit`
(nothing moves before it returns) and then run as supervised tasks in the subsystem's own
TaskGroup, each awaiting one FSM trigger. Long actions live in `on_enter_*` callbacks, so a
`stop` or a `fault` trigger cancels them (transitions cancels the task that awaits the running
trigger); the `on_enter_STOPPED` / `on_enter_FAULT` callbacks then stop the drives. The action
table's vocabulary is `calibd/core/actions.py`; what a subsystem publishes (events, warnings,
telemetry, status) is `calibd/core/publishing.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, ClassVar, Protocol

import structlog

from calibd.core.actions import ActionSpec, Fault, Final, Gate, Handler
from calibd.core.commands import Command, reply, validate_args
from calibd.core.errors import CommandError, ErrorCode, Trip
from calibd.core.outbox import Outbox, Outgoing
from calibd.core.publishing import StatusPublisher
from calibd.core.timefmt import iso_now


class SourceLookup(Protocol):
    """The source inventory as subsystems see it (`calibd/store/inventory.py`)."""

    def mounted(self, system: str, unit: str | None = None) -> Any:
        """The record of the source mounted there (`.id`), or None."""
        ...


class Subsystem(StatusPublisher):
    """Shared machinery; subclasses define STATES, TRANSITIONS, ACTIONS and the hardware."""

    ACTIONS: ClassVar[dict[str, ActionSpec]] = {}
    #: set by transitions.Machine on the model (and `calibd.core.fsm.attach`)
    state: str
    trigger: Callable[..., Awaitable[bool]]
    machine: Any

    def __init__(self, name: str, outbox: Outbox, *, time_scale: float = 1.0) -> None:
        self.name = name
        self.outbox = outbox
        self.time_scale = time_scale
        self.log = structlog.get_logger(f"calibd.{name}", subsystem=name)
        self.latched: Fault | None = None
        self.command: Command | None = None
        self.since = iso_now()
        self.seq = 0
        self._tg: asyncio.TaskGroup | None = None
        self._last_status_s = 0.0
        #: active non-latching interlocks of this system (e.g. warnings), id -> entry
        self.warnings: dict[str, dict[str, Any]] = {}
        #: cross-system inhibits (the interlock board), consulted before a command is accepted
        self.gate: Gate | None = None
        #: called after every poll of fresh data (the board evaluates its rules at once)
        self.on_fresh: Callable[[str], None] | None = None
        #: which source is mounted where (None: no inventory, e.g. unit tests)
        self.inventory: SourceLookup | None = None
        #: set once the first poll has been tried (read or failed): the system knows where it is
        self.first_poll = asyncio.Event()
        #: futures of commands whose final result someone awaits (the program sequencer)
        self._waiters: dict[str, asyncio.Future[Final]] = {}

    # ---- commands -------------------------------------------------------------------------

    def submit(self, cmd: Command) -> None:
        """Validate `cmd` and start it; raise CommandError to reject. Never awaits."""
        spec = self.ACTIONS.get(cmd.action)
        if spec is None:
            raise CommandError(
                ErrorCode.UNKNOWN_ACTION,
                f"{self.name} has no action {cmd.action!r}"
                f" (has: {', '.join(sorted(self.ACTIONS))})",
            )
        if spec.expert and not cmd.expert:
            raise CommandError(
                ErrorCode.UNAUTHORIZED,
                f"{cmd.action} is a maintenance action: experts send it on {self.name}/expert/cmd",
            )
        if cmd.expert and not spec.expert:
            expert = sorted(a for a, s in self.ACTIONS.items() if s.expert)
            raise CommandError(
                ErrorCode.UNKNOWN_ACTION,
                f"{cmd.action} is not a maintenance action (expert actions of {self.name}:"
                f" {', '.join(expert) or 'none'}); send it on {self.name}/cmd",
            )
        args = validate_args(spec.args, cmd.args)
        self.check_args(cmd.action, args)
        if spec.motion and self.latched is not None and cmd.action not in self.latched.allows:
            raise CommandError(
                ErrorCode.INTERLOCK,
                f"{self.latched.code}: {self.name} is latched in FAULT ({self.latched.message});"
                " reset first",
            )
        if self.gate is not None:
            self.gate.check(self.name, cmd.action, args)
        if spec.motion and self.command is not None:
            raise CommandError(
                ErrorCode.BUSY,
                f"{self.name} is executing {self.command.action} ({self.command.id})",
            )
        if self.state not in spec.states:
            raise CommandError(
                ErrorCode.INVALID_STATE, f"{cmd.action} is not allowed in state {self.state}"
            )
        self.check_common(cmd.action, args)
        self.check(cmd.action, args)
        if self._tg is None:
            raise CommandError(ErrorCode.INTERNAL, f"{self.name} is not running")
        self.apply_maintenance(cmd, args)
        if spec.motion:
            self.command = cmd
            self.motion_started()
        self._tg.create_task(self._execute(cmd, args, spec), name=f"{self.name}:{cmd.id}")

    def submit_and_wait(self, cmd: Command) -> asyncio.Future[Final]:
        """`submit` (raising CommandError to reject); the future gets (result, error) with the
        final reply."""
        future: asyncio.Future[Final] = asyncio.get_running_loop().create_future()
        self._waiters[cmd.id] = future
        try:
            self.submit(cmd)
        except BaseException:
            del self._waiters[cmd.id]
            raise
        return future

    def motion_started(self) -> None:
        """Hook: a motion command was just accepted (deployment systems poll at once)."""

    def check_args(self, action: str, args: Any) -> None:
        """Argument values against limits (`out_of_range`), whatever the state."""

    def check(self, action: str, args: Any) -> None:
        """State-dependent preconditions, after the state check; raise CommandError."""

    def check_common(self, action: str, args: Any) -> None:
        """Preconditions shared by every system of a kind (before the system's `check`)."""

    def apply_maintenance(self, cmd: Command, args: Any) -> None:
        """Hook: a maintenance (inventory) action is validated and applied here, atomically,
        as the last step of acceptance (so a refusal is a `rejected` reply)."""

    def handler(self, action: str) -> Handler:
        """The coroutine that carries out `action` (`act_<action>`)."""
        handler: Handler = getattr(self, f"act_{action}")
        return handler

    def source_id(self, unit: str | None = None) -> str | None:
        """The id of the source mounted on this system (or unit), from the inventory."""
        record = None if self.inventory is None else self.inventory.mounted(self.name, unit)
        return None if record is None else str(record.id)

    async def _execute(self, cmd: Command, args: Any, spec: ActionSpec) -> None:
        handler = self.handler(cmd.action)
        error: CommandError | None = None
        result = "completed"
        try:
            await handler(cmd, args)
        except CommandError as exc:
            error, result = exc, "failed"
        except Exception as exc:
            self.log.exception("command_crashed", command=cmd.id)
            error, result = CommandError(ErrorCode.INTERNAL, repr(exc)), "failed"
        finally:
            if self.command is cmd:
                self.command = None
        if result == "failed" and error is not None and error.code == ErrorCode.INVALID_STATE:
            result = "aborted"
        self._final(cmd, result, error)
        self.publish_status()

    def _final(self, cmd: Command, result: str, error: CommandError | None) -> None:
        payload = reply(cmd.id, self.name, cmd.action, result, error=error)  # type: ignore[arg-type]
        self.outbox.put(Outgoing("reply", self.name, payload, cmd.route))
        self.event("command", id=cmd.id, action=cmd.action, result=result, operator=cmd.operator)
        future = self._waiters.pop(cmd.id, None)
        if future is not None and not future.done():
            future.set_result((result, error))

    async def run_trigger(self, trigger: str, done_states: Iterable[str], **kwargs: Any) -> None:
        """Fire an FSM trigger for a command; translate how it ended into the final reply."""
        await self.trigger(trigger, **kwargs)
        self.raise_outcome(done_states)

    def raise_outcome(self, done_states: Iterable[str]) -> None:
        if self.state in set(done_states):
            return
        if self.state == "FAULT" and self.latched is not None:
            raise CommandError(self.latched.error, f"{self.latched.code}: {self.latched.message}")
        # stopped or superseded by another command: `aborted`
        raise CommandError(ErrorCode.INVALID_STATE, f"interrupted; now {self.state}")

    # ---- faults -----------------------------------------------------------------------------

    def trip(self, exc: Trip) -> None:
        """Latch a fault from the poll loop: a supervised task fires the `fault` trigger."""
        if self.state == "FAULT" or self._tg is None:
            return
        self._tg.create_task(self._trip(exc), name=f"{self.name}:trip:{exc.code}")

    async def _trip(self, exc: Trip) -> None:
        if self.state == "FAULT":
            return
        self.latched = Fault(exc.code, exc.message, exc.error, exc.axis)
        self.log.error("fault", code=exc.code, message=exc.message, axis=exc.axis)
        self.event("fault", code=exc.code, message=exc.message, axis=exc.axis)
        await self.trigger("fault")

    # ---- running ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Run the poll loop and command tasks until cancelled."""
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                self.publish_status()
                tg.create_task(self.poll_loop(), name=f"{self.name}:poll")
        finally:
            self._tg = None
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    await self.safe_stop()

    async def poll_loop(self) -> None:
        raise NotImplementedError

    async def safe_stop(self) -> None:
        """Stop every drive (used on shutdown); must not raise."""

    def scaled_s(self, sim_s: float) -> float:
        """Wall-clock duration of `sim_s` seconds of (possibly sped-up) physics."""
        return sim_s / self.time_scale
