"""Routes each inbound command to its subsystem (or the global handler) and replies at once.

`handle` never awaits: parsing, validation and the `accepted`/`rejected` reply happen in the
MQTT receive loop's turn, the work itself in the subsystem's supervised task, so a `stop` is
always heard.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Protocol

import structlog

from calibd.core.actions import Final
from calibd.core.commands import Command, Inbound, ReplyRoute, parse, peek_id, reply
from calibd.core.errors import CommandError, ErrorCode, Trip
from calibd.core.outbox import Outbox, Outgoing
from calibd.core.subsystem import Subsystem

log = structlog.get_logger("calibd.dispatcher", subsystem="daemon")
PROGRAM_ACTIONS = ("program.run", "program.pause", "program.resume", "program.abort")
GLOBAL_ACTIONS = ("estop", "reset", *PROGRAM_ACTIONS)
_SEEN_IDS = 10_000


class Safety(Protocol):
    """The interlock board's global latch (the per-command gate is in `Subsystem.submit`)."""

    def estop(self, message: str) -> list[str]:
        """Latch the global e-stop and trip every deployment system now; their names."""
        ...

    def release_estop(self) -> None:
        """Release the e-stop latch (the global reset)."""
        ...


class Programs(Protocol):
    """The program sequencer: `submit` validates a `program.*` command (raising CommandError to
    reject it) and takes it on; it replies to it itself (`accept`, `reject`, its final)."""

    def submit(self, cmd: Command) -> None: ...


class Dispatcher:
    def __init__(
        self,
        subsystems: dict[str, Subsystem],
        outbox: Outbox,
        safety: Safety | None = None,
        *,
        seen: Iterable[str] = (),
        on_new_id: Callable[[str, str | None], None] | None = None,
    ) -> None:
        self.subsystems = subsystems
        self.outbox = outbox
        self.safety = safety
        #: ids already used (seeded from the store, so duplicates are refused across restarts)
        self._seen: OrderedDict[str, None] = OrderedDict.fromkeys(seen)
        self._on_new_id = on_new_id
        self.programs: Programs | None = None

    def handle(self, inbound: Inbound) -> None:
        system = inbound.system
        cmd_id = peek_id(inbound.payload)
        action: str | None = None
        operator: str | None = None
        try:
            if inbound.route_error is not None:
                raise CommandError(ErrorCode.BAD_REQUEST, inbound.route_error)
            cmd = parse(inbound)
            action, operator = cmd.action, cmd.operator
            self._dedupe(cmd.id, system)
            if system is None and cmd.action not in PROGRAM_ACTIONS:
                self._global(cmd)
                return
            if system is None:
                if self.programs is None:
                    raise CommandError(ErrorCode.INTERNAL, "no program sequencer")
                self.programs.submit(cmd)
                return
            else:
                sub = self.subsystems.get(system)
                if sub is None:
                    raise CommandError(ErrorCode.BAD_REQUEST, f"unknown system {system!r}")
                sub.submit(cmd)  # maintenance actions: only from the expert topic (checked there)
        except CommandError as exc:
            self._reply(inbound.route, cmd_id, system, action, exc, operator)
            return
        self.accept(system, cmd)

    def execute(self, cmd: Command) -> asyncio.Future[Final]:
        """A command of the daemon's own (the program sequencer's) to a system, on the same path
        as an operator's: id checked, validated, replied to and audited. Raise CommandError when
        rejected; the future gets its final (result, error)."""
        assert cmd.system is not None
        try:
            self._dedupe(cmd.id, cmd.system)
            future = self.subsystems[cmd.system].submit_and_wait(cmd)
        except CommandError as exc:
            self.reject(cmd, exc)
            raise
        self.accept(cmd.system, cmd)
        return future

    def reject(self, cmd: Command, exc: CommandError) -> None:
        """Reply `rejected` to a parsed command (and audit it)."""
        self._reply(cmd.route, cmd.id, cmd.system, cmd.action, exc, cmd.operator, cmd.program)

    def accept(self, system: str | None, cmd: Command) -> None:
        """Reply `accepted` (and audit it)."""
        accepted = reply(cmd.id, system, cmd.action, "accepted")
        self._send(system, cmd, accepted)
        audit = {
            "event": "command",
            "system": system,
            "id": cmd.id,
            "action": cmd.action,
            "args": cmd.args,
            "operator": cmd.operator,
            "result": "accepted",
            "ts": accepted["ts"],
        }
        if cmd.expert:
            audit["expert"] = True
        if cmd.program is not None:
            audit["program"] = cmd.program
        self.outbox.put(Outgoing("event", system, audit))

    def _dedupe(self, cmd_id: str, system: str | None) -> None:
        if cmd_id in self._seen:
            raise CommandError(ErrorCode.DUPLICATE, f"command id {cmd_id!r} was already used")
        self._seen[cmd_id] = None
        if self._on_new_id is not None:
            self._on_new_id(cmd_id, system)
        if len(self._seen) > _SEEN_IDS:
            self._seen.popitem(last=False)

    def _reply(
        self,
        route: ReplyRoute | None,
        cmd_id: str | None,
        system: str | None,
        action: str | None,
        exc: CommandError,
        operator: str | None = None,
        program: str | None = None,
    ) -> None:
        if exc.code == ErrorCode.BAD_JSON:
            cmd_id = None
        log.info(
            "command_rejected", id=cmd_id, system=system, code=str(exc.code), message=exc.message
        )
        extra = {} if exc.problems is None else {"problems": exc.problems}
        payload = reply(cmd_id, system, action, "rejected", error=exc, **extra)
        self.outbox.put(Outgoing("reply", system, payload, route))
        audit = {
            "event": "command",
            "system": system,
            "id": cmd_id,
            "action": action,
            "result": "rejected",
            "error": exc.as_dict(),
            "operator": operator,
            "ts": payload["ts"],
        }
        if program is not None:
            audit["program"] = program
        self.outbox.put(Outgoing("event", system, audit))

    def _send(self, system: str | None, cmd: Command, payload: dict[str, object]) -> None:
        self.outbox.put(Outgoing("reply", system, payload, cmd.route))

    # ---- global commands -------------------------------------------------------------------

    def _global(self, cmd: Command) -> None:
        if cmd.action not in GLOBAL_ACTIONS:
            raise CommandError(
                ErrorCode.UNKNOWN_ACTION,
                f"global action {cmd.action!r} unknown (has: {', '.join(GLOBAL_ACTIONS)})",
            )
        if cmd.args:
            raise CommandError(ErrorCode.BAD_REQUEST, f"{cmd.action} takes no args")
        self._send(None, cmd, reply(cmd.id, None, cmd.action, "accepted"))
        results: dict[str, str] = {}
        if cmd.action == "estop":
            message = f"e-stop by {cmd.operator or 'operator'} ({cmd.id})"
            if self.safety is not None:
                tripped = self.safety.estop(message)
            else:
                tripped = list(self.subsystems)
                for sub in self.subsystems.values():
                    sub.trip(Trip("estop", message, error=ErrorCode.INTERLOCK))
            results = dict.fromkeys(tripped, "tripped")
        else:
            if self.safety is not None:
                self.safety.release_estop()
            for name, sub in self.subsystems.items():
                if sub.state != "FAULT":
                    continue
                sub_cmd = Command(f"{cmd.id}/{name}", name, "reset", {}, cmd.operator, cmd.route)
                try:
                    sub.submit(sub_cmd)
                    results[name] = "reset"
                except CommandError as exc:
                    results[name] = f"{exc.code}: {exc.message}"
        self._send(None, cmd, reply(cmd.id, None, cmd.action, "completed", results=results))
