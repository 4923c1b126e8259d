"""Carrying out one move of a running program: its command through the operator's path
(`Dispatcher.execute`; a `deploy` whose system is already out becomes a `move`, and back), the
DAQ (or a laser point's intensity scan) at the point it reaches while watching the system, the
wait that gives way to `program.abort` (`Abort`) or suspends the program (`Suspend`), and the
abort's stop + retract of the system."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import structlog

from calibd.core.commands import Command, ReplyRoute
from calibd.core.dispatcher import Dispatcher
from calibd.core.errors import CommandError, ErrorCode
from calibd.core.outbox import Outbox, Outgoing
from calibd.core.subsystem import Subsystem
from calibd.core.timefmt import iso_now
from calibd.program.daq import Daq, DaqError
from calibd.program.plan import Move, Plan
from calibd.program.runs import RunRecord
from calibd.program.scan import scan_command, take_scan

log = structlog.get_logger("calibd.program", subsystem="program")
T = TypeVar("T")
_WATCH_S = 0.05


class Suspend(Exception):
    """The current move cannot go on: suspend the program with this reason."""


class Abort(Exception):
    """The operator aborted the program."""


def where(move: Move) -> str:
    """The move as reasons name it: `step 2 point 3`, `step 2 (acu retract)`."""
    if move.point is None:
        return f"step {move.step + 1} ({move.system} {move.action})"
    return f"step {move.step + 1} point {move.point + 1}"


class Executor:
    """Runs moves for the sequencer; `aborted` is its abort flag, `started` is called as each
    move's command is about to be sent."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        systems: Mapping[str, Subsystem],
        outbox: Outbox,
        daq: Daq,
        aborted: asyncio.Event,
        started: Callable[[], None],
    ) -> None:
        self.dispatcher = dispatcher
        self.systems = systems
        self.outbox = outbox
        self.daq = daq
        self.aborted = aborted
        self.started = started

    async def do(self, record: RunRecord, plan: Plan, index: int, move: Move) -> None:
        """Move `index` of `plan`, then its DAQ; Suspend or Abort when it cannot finish."""
        sub = self.systems[move.system]
        action, args = move.action, dict(move.args)
        deployed = bool(sub.status_fields().get("deployed"))
        if action == "deploy" and deployed:
            action = "move"  # resuming a point whose deploy was interrupted
            args.pop("unit", None)
        elif action == "move" and not deployed:
            action = "deploy"
            args.update(self._deploy_extra(plan, move))
        cmd = Command(
            f"{record.run}.{index + 1}.{action}.{secrets.token_hex(2)}",
            move.system,
            action,
            args,
            record.operator,
            ReplyRoute(),
            program=record.run,
        )
        self.started()
        at = where(move)
        try:
            future = self.dispatcher.execute(cmd)
        except CommandError as exc:
            raise Suspend(
                f"{at}: {move.system} {action} refused: {exc.code}: {exc.message}"
            ) from None
        result, error = await self.until(future)
        if result != "completed":
            why = f"{error.code}: {error.message}" if error is not None else result
            raise Suspend(f"{at}: {move.system} {action} {result}: {why}")
        if move.point is None or move.daq_s <= 0:
            return
        await self._take_daq(record, index, move, sub)

    def _deploy_extra(self, plan: Plan, move: Move) -> dict[str, Any]:
        first = next((m for m in plan.moves if m.step == move.step and m.action == "deploy"), None)
        return {"unit": first.args["unit"]} if first is not None and "unit" in first.args else {}

    async def _take_daq(self, record: RunRecord, index: int, move: Move, sub: Subsystem) -> None:
        fields = sub.status_fields()
        request = {
            "id": f"{record.run}.{index + 1}.daq",
            "run": record.run,
            "program": record.program,
            "step": move.step + 1,
            "point": (move.point or 0) + 1,
            "system": move.system,
            "source": fields.get("source"),
            "kind": move.source,
            "position": fields.get("position"),
            "daq_s": move.daq_s,
        }
        at = where(move)
        try:
            if move.scan is not None:  # a laser point: the intensity scan is its DAQ
                cmd = scan_command(record.run, record.operator, index, move.system, move.scan)
                window = await take_scan(
                    self.dispatcher, self.daq, self.until, cmd, request, move.daq_s
                )
            else:
                window = await self.until(self.daq.take(request, move.daq_s), watch=sub)
        except (DaqError, Suspend) as exc:
            self._daq_event(move, request, ok=False, message=str(exc))
            raise Suspend(f"{at}: {exc}") from None
        self._daq_event(
            move, request, ok=True, start=window.start, end=window.end, mode=window.mode
        )

    def _daq_event(self, move: Move, request: dict[str, Any], **fields: Any) -> None:
        doc = {"event": "daq", "system": move.system, "run": request["run"], "ts": iso_now()}
        doc.update({k: request[k] for k in ("id", "step", "point", "source", "position")})
        self.outbox.put(Outgoing("event", move.system, {**doc, **fields}))

    async def until(self, awaitable: Awaitable[T], watch: Subsystem | None = None) -> T:
        """Await `awaitable`; raise Abort on program.abort, Suspend when `watch` trips or is
        commanded by someone else meanwhile."""
        main = asyncio.ensure_future(awaitable)
        try:
            while True:
                if self.aborted.is_set():
                    raise Abort
                if watch is not None and watch.state == "FAULT":
                    latched = watch.latched.code if watch.latched is not None else "FAULT"
                    raise Suspend(f"{watch.name} tripped ({latched}) during the DAQ")
                if watch is not None and watch.command is not None:
                    raise Suspend(
                        f"{watch.name} was commanded ({watch.command.action}) during the DAQ"
                    )
                done, _ = await asyncio.wait({main}, timeout=_WATCH_S)
                if done:
                    return main.result()
        finally:
            if not main.done():
                main.cancel()
                try:
                    await main
                except asyncio.CancelledError:
                    current = asyncio.current_task()
                    if current is not None and current.cancelling():
                        raise
                except Exception as exc:
                    log.warning("program_wait_failed", error=repr(exc))

    async def abort(self, record: RunRecord, plan: Plan, who: str | None) -> str:
        """Stop what moves and retract the program's current system; the reason for ABORTED."""
        name = plan.moves[min(record.move, len(plan.moves) - 1)].system
        sub = self.systems[name]
        reason = f"aborted by {who or 'operator'}"
        try:
            if sub.command is not None:
                await self._command_and_wait(record, sub, "stop")
            if sub.status_fields().get("deployed") and sub.state != "FAULT":
                await self._command_and_wait(record, sub, "retract")
            elif sub.status_fields().get("deployed"):
                reason += f"; {name} is in FAULT with its source out: reset and retract it"
        except CommandError as exc:
            reason += f"; {name} could not be retracted: {exc.code}: {exc.message}"
        return reason

    async def _command_and_wait(self, record: RunRecord, sub: Subsystem, action: str) -> None:
        cmd = Command(
            f"{record.run}.abort.{action}.{secrets.token_hex(2)}",
            sub.name,
            action,
            {},
            record.operator,
            ReplyRoute(),
            program=record.run,
        )
        result, error = await self.dispatcher.execute(cmd)
        if action == "retract" and result != "completed":
            raise error or CommandError(ErrorCode.HARDWARE, f"retract {result}")
