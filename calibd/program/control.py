"""The `program.*` commands as the sequencer takes them: which is allowed in which state, their
arguments, what `program.resume` needs first, and the replies and audit events the sequencer
sends for them itself (they never reach a subsystem)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from calibd.core.commands import Command, reply
from calibd.core.errors import CommandError, ErrorCode
from calibd.core.outbox import Outbox, Outgoing
from calibd.core.subsystem import Subsystem
from calibd.program.plan import Plan
from calibd.program.runs import RunRecord
from calibd.store.inventory import Inventory

#: program commands allowed in each state (the rest are `invalid_state`)
ALLOWED: dict[str, frozenset[str]] = {
    "program.run": frozenset({"IDLE", "COMPLETED", "ABORTED", "FAILED"}),
    "program.pause": frozenset({"RUNNING"}),
    "program.resume": frozenset({"PAUSED", "SUSPENDED"}),
    "program.abort": frozenset({"RUNNING", "PAUSED", "SUSPENDED"}),
}


def check_request(cmd: Command, state: str, start_queued: bool) -> None:
    """Raise CommandError to reject `cmd` in the program's `state` (`start_queued`: a run
    request is already waiting to be read)."""
    if cmd.action == "program.run":
        ref = cmd.args.get("program")
        if set(cmd.args) != {"program"} or not isinstance(ref, str) or not ref:
            raise CommandError(ErrorCode.BAD_REQUEST, "program.run takes {'program': NAME or PATH}")
    elif cmd.args:
        raise CommandError(ErrorCode.BAD_REQUEST, f"{cmd.action} takes no args")
    if state not in ALLOWED[cmd.action] or (cmd.action == "program.run" and start_queued):
        code = ErrorCode.BUSY if cmd.action == "program.run" else ErrorCode.INVALID_STATE
        raise CommandError(code, f"{cmd.action} is not allowed: the program is {state}")


def check_resume(
    plan: Plan | None,
    record: RunRecord | None,
    systems: Mapping[str, Subsystem],
    inventory: Inventory,
) -> None:
    """Raise CommandError unless the interrupted move can be repeated now: its system is out
    of FAULT and, for a mount step, the source is mounted."""
    if plan is None or record is None or record.move >= len(plan.moves):
        raise CommandError(ErrorCode.INVALID_STATE, "nothing to resume")
    move = plan.moves[record.move]
    sub = systems.get(move.system)
    if sub is not None and sub.state == "FAULT":
        raise CommandError(
            ErrorCode.INVALID_STATE, f"{move.system} is in FAULT: reset it, then resume"
        )
    if move.action == "mount":
        mounted = inventory.mounted(move.system, move.args.get("unit"))
        if mounted is None or mounted.kind != move.source:
            where = move.system + (f" unit {move.args['unit']}" if move.args.get("unit") else "")
            raise CommandError(
                ErrorCode.INTERLOCK,
                f"no {move.source} source is mounted on {where} yet ({move.message})",
            )


def final(
    outbox: Outbox, cmd: Command, result: str, error: CommandError | None = None, **extra: Any
) -> None:
    """The final reply to a program command and its audit event."""
    payload = reply(cmd.id, None, cmd.action, result, error=error, **extra)  # type: ignore[arg-type]
    outbox.put(Outgoing("reply", None, payload, cmd.route))
    audit: dict[str, Any] = {"event": "command", "system": None, "id": cmd.id}
    audit["action"] = cmd.action
    audit.update(result=result, operator=cmd.operator, ts=payload["ts"])
    if error is not None:
        audit["error"] = error.as_dict()
    outbox.put(Outgoing("event", None, audit))


def finish(outbox: Outbox, cmds: list[Command], result: str, message: str = "") -> None:
    """Answer every command of `cmds` with `result` (not completed: `message`), then clear it."""
    for cmd in cmds:
        error = CommandError(ErrorCode.INVALID_STATE, message) if result != "completed" else None
        final(outbox, cmd, result, error=error)
    cmds.clear()
