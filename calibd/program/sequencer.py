"""The program sequencer: runs a plan's moves one by one through the same command path as an
operator, takes the DAQ at every point, and publishes the retained `{root}/program/status`.

States: IDLE -> RUNNING -> (PAUSED | SUSPENDED) -> RUNNING ... -> COMPLETED | ABORTED | FAILED.
- `program.pause` takes effect at the next safe point: after the current point's DAQ (the source
  stays there). A `mount` step pauses by itself until an expert has mounted the source.
- a refused or failed command, a trip during the DAQ or a failed DAQ: SUSPENDED with the reason;
  `program.resume` (after the operator has reset the system) repeats the interrupted point.
- `program.abort`: stop the moving system, retract it, ABORTED.
- a daemon restarted during a run finds it in the store: SUSPENDED ("interrupted"), to be resumed
  or aborted by the operator; never continued on its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Awaitable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import structlog

from calibd.config import Settings
from calibd.core.commands import Command, ReplyRoute, reply
from calibd.core.dispatcher import Dispatcher
from calibd.core.errors import CommandError, ErrorCode
from calibd.core.outbox import Outbox, Outgoing
from calibd.core.subsystem import Subsystem
from calibd.core.timefmt import iso_now
from calibd.program.daq import Daq, DaqError
from calibd.program.live import live_problems
from calibd.program.model import Program, ProgramError, load_program, resolve
from calibd.program.plan import Move, Plan, make_plan
from calibd.program.runs import TERMINAL, RunLog, RunRecord
from calibd.program.scan import scan_command, take_scan
from calibd.store.inventory import Inventory

log = structlog.get_logger("calibd.program", subsystem="program")
T = TypeVar("T")
STATUS_TOPIC = "program/status"
#: program commands allowed in each state (the rest are `invalid_state`)
ALLOWED: dict[str, frozenset[str]] = {
    "program.run": frozenset({"IDLE", "COMPLETED", "ABORTED", "FAILED"}),
    "program.pause": frozenset({"RUNNING"}),
    "program.resume": frozenset({"PAUSED", "SUSPENDED"}),
    "program.abort": frozenset({"RUNNING", "PAUSED", "SUSPENDED"}),
}
_HEARTBEAT_S = 5.0
_WATCH_S = 0.05


class _Suspend(Exception):
    """The current move cannot go on: suspend the program with this reason."""


class _Abort(Exception):
    """The operator aborted the program."""


class Sequencer:
    def __init__(
        self,
        settings: Settings,
        dispatcher: Dispatcher,
        systems: Mapping[str, Subsystem],
        outbox: Outbox,
        runs: RunLog,
        inventory: Inventory,
        daq: Daq,
    ) -> None:
        self.settings = settings
        self.dispatcher = dispatcher
        self.systems = systems
        self.outbox = outbox
        self.runs = runs
        self.inventory = inventory
        self.daq = daq
        self.time_scale = settings.sim.time_scale
        self.state = "IDLE"
        self.reason: str | None = None
        self.record: RunRecord | None = None
        self.plan: Plan | None = None
        self._starts: asyncio.Queue[Command] = asyncio.Queue(maxsize=1)
        self._pause: list[Command] = []
        self._abort: list[Command] = []
        self._resumed = asyncio.Event()
        self._aborted = asyncio.Event()
        self._move_started_s = 0.0
        self.publish()

    # ---- commands (never await) ----------------------------------------------------------------

    def submit(self, cmd: Command) -> None:
        """Validate a `program.*` command; raise CommandError to reject. A run request is queued
        and answered once its file is read and checked; the others are answered here."""
        if cmd.action == "program.run":
            ref = cmd.args.get("program")
            if set(cmd.args) != {"program"} or not isinstance(ref, str) or not ref:
                raise CommandError(
                    ErrorCode.BAD_REQUEST, "program.run takes {'program': NAME or PATH}"
                )
        elif cmd.args:
            raise CommandError(ErrorCode.BAD_REQUEST, f"{cmd.action} takes no args")
        if self.state not in ALLOWED[cmd.action] or (
            cmd.action == "program.run" and self._starts.full()
        ):
            code = ErrorCode.BUSY if cmd.action == "program.run" else ErrorCode.INVALID_STATE
            raise CommandError(code, f"{cmd.action} is not allowed: the program is {self.state}")
        if cmd.action == "program.run":
            self._starts.put_nowait(cmd)
            return
        if cmd.action == "program.pause":
            self._pause.append(cmd)
        elif cmd.action == "program.abort":
            self._abort.append(cmd)
            self._aborted.set()
        else:
            self._check_resume()
            self._resumed.set()
        self.dispatcher.accept(None, cmd)
        if cmd.action == "program.resume":
            self._final(cmd, "completed")

    def _check_resume(self) -> None:
        plan, record = self.plan, self.record
        if plan is None or record is None or record.move >= len(plan.moves):
            raise CommandError(ErrorCode.INVALID_STATE, "nothing to resume")
        move = plan.moves[record.move]
        sub = self.systems.get(move.system)
        if sub is not None and sub.state == "FAULT":
            raise CommandError(
                ErrorCode.INVALID_STATE, f"{move.system} is in FAULT: reset it, then resume"
            )
        if move.action == "mount":
            mounted = self.inventory.mounted(move.system, move.args.get("unit"))
            if mounted is None or mounted.kind != move.source:
                where = move.system + (
                    f" unit {move.args['unit']}" if move.args.get("unit") else ""
                )
                raise CommandError(
                    ErrorCode.INTERLOCK,
                    f"no {move.source} source is mounted on {where} yet ({move.message})",
                )

    # ---- the task ------------------------------------------------------------------------------

    async def run(self, interrupted: RunRecord | None = None) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._heartbeat(), name="program:heartbeat")
            if interrupted is not None and interrupted.state not in TERMINAL:
                await self._restore(interrupted)
            while True:
                if self.state in ("PAUSED", "SUSPENDED", "RUNNING") and self.plan is not None:
                    await self._execute()
                cmd = await self._starts.get()
                await self._start(cmd)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(_HEARTBEAT_S)
            if self.state == "RUNNING":
                self.publish()

    async def _restore(self, record: RunRecord) -> None:
        self.record = record
        where = f"step/move {record.move + 1}"
        try:
            program, digest = await asyncio.to_thread(self._read, record.path)
            if digest != record.digest:
                raise ProgramError([f"{record.path} changed since the run started"])
            self.plan = make_plan(program, self.settings, self.inventory.records(), self.systems)
            where = self._where(self.plan.moves[min(record.move, len(self.plan.moves) - 1)])
        except (ProgramError, IndexError) as exc:
            self._enter(
                "FAILED", f"interrupted by a daemon restart at {where}; cannot resume: {exc}"
            )
            return
        self._enter(
            "SUSPENDED",
            f"interrupted by a daemon restart at {where}: program.resume repeats that point,"
            " program.abort retracts",
        )

    def _read(self, ref: str) -> tuple[Program, str]:
        path = resolve(ref, self.settings.program.dir)
        program = load_program(path)
        return program, hashlib.sha256(Path(path).read_bytes()).hexdigest()

    async def _start(self, cmd: Command) -> None:
        ref = str(cmd.args["program"])
        try:
            try:
                program, digest = await asyncio.to_thread(self._read, ref)
            except ProgramError as exc:
                raise CommandError(
                    ErrorCode.BAD_REQUEST, f"invalid program: {exc}", problems=exc.problems
                ) from None
            plan = make_plan(program, self.settings, self.inventory.records(), self.systems)
            problems = [*plan.problems, *live_problems(plan, self.systems)]
            if problems:
                code = ErrorCode.BAD_REQUEST if plan.problems else ErrorCode.INVALID_STATE
                message = f"program {program.name}: {len(problems)} problem(s): " + "; ".join(
                    problems
                )
                raise CommandError(code, message, problems=problems)
        except CommandError as exc:
            self.dispatcher.reject(cmd, exc)
            return
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        now = iso_now()
        self.record = RunRecord(
            run=f"{program.name}-{stamp}-{secrets.token_hex(2)}",
            program=program.name,
            path=str(resolve(ref, self.settings.program.dir)),
            digest=digest,
            operator=cmd.operator,
            state="RUNNING",
            move=0,
            done_points=0,
            reason=None,
            started=now,
            updated=now,
        )
        self.plan = plan
        self._pause.clear()
        self._abort.clear()
        self._aborted.clear()
        self.dispatcher.accept(None, cmd)
        self._enter("RUNNING", None)
        await self.runs.durable()
        log.info("program_started", run=self.record.run, moves=len(plan.moves))
        self._final(cmd, "completed", run=self.record.run)

    # ---- running -------------------------------------------------------------------------------

    async def _execute(self) -> None:
        plan = self.plan
        assert plan is not None
        try:
            while (record := self._rec()).move < len(plan.moves):
                resumed = self.state in ("PAUSED", "SUSPENDED")
                if resumed:
                    await self._hold()  # resume was checked against this very move
                move = plan.moves[record.move]
                if self._pause:
                    self._enter("PAUSED", f"paused by {self._pause[0].operator or 'operator'}")
                    self._finish_commands(self._pause, "completed")
                    continue
                if move.action == "mount":
                    if not resumed:
                        self._enter("PAUSED", f"{move.message}: program.resume once it is mounted")
                        continue
                else:
                    try:
                        await self._do(record.move, move)
                    except _Suspend as exc:
                        self._enter("SUSPENDED", str(exc))
                        continue
                done = record.done_points + (1 if move.point is not None else 0)
                self._advance(move=record.move + 1, done_points=done)
        except _Abort:
            await self._abort_now()
            return
        self._finish_commands(self._pause, "aborted", "the program completed first")
        self._enter("COMPLETED", None)

    def _rec(self) -> RunRecord:
        assert self.record is not None
        return self.record

    async def _hold(self) -> None:
        """Wait in PAUSED/SUSPENDED for resume (-> RUNNING) or abort (raises _Abort)."""
        self._resumed.clear()
        await self._until(self._resumed.wait())
        self._enter("RUNNING", None)

    async def _do(self, index: int, move: Move) -> None:
        sub = self.systems[move.system]
        action, args = move.action, dict(move.args)
        deployed = bool(sub.status_fields().get("deployed"))
        if action == "deploy" and deployed:
            action = "move"  # resuming a point whose deploy was interrupted
            args.pop("unit", None)
        elif action == "move" and not deployed:
            action = "deploy"
            args.update(self._deploy_extra(move))
        record = self._rec()
        cmd = Command(
            f"{record.run}.{index + 1}.{action}.{secrets.token_hex(2)}",
            move.system,
            action,
            args,
            record.operator,
            ReplyRoute(),
            program=record.run,
        )
        self._move_started_s = asyncio.get_running_loop().time()
        self.publish()
        where = self._where(move)
        try:
            future = self.dispatcher.execute(cmd)
        except CommandError as exc:
            raise _Suspend(
                f"{where}: {move.system} {action} refused: {exc.code}: {exc.message}"
            ) from None
        result, error = await self._until(future)
        if result != "completed":
            why = f"{error.code}: {error.message}" if error is not None else result
            raise _Suspend(f"{where}: {move.system} {action} {result}: {why}")
        if move.point is None or move.daq_s <= 0:
            return
        await self._take_daq(index, move, sub)

    def _deploy_extra(self, move: Move) -> dict[str, Any]:
        plan = self.plan
        assert plan is not None
        first = next((m for m in plan.moves if m.step == move.step and m.action == "deploy"), None)
        return {"unit": first.args["unit"]} if first is not None and "unit" in first.args else {}

    async def _take_daq(self, index: int, move: Move, sub: Subsystem) -> None:
        record = self._rec()
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
        where = self._where(move)
        try:
            if move.scan is not None:  # a laser point: the intensity scan is its DAQ
                cmd = scan_command(record.run, record.operator, index, move.system, move.scan)
                window = await take_scan(
                    self.dispatcher, self.daq, self._until, cmd, request, move.daq_s
                )
            else:
                window = await self._until(self.daq.take(request, move.daq_s), watch=sub)
        except (DaqError, _Suspend) as exc:
            self._daq_event(move, request, ok=False, message=str(exc))
            raise _Suspend(f"{where}: {exc}") from None
        self._daq_event(
            move, request, ok=True, start=window.start, end=window.end, mode=window.mode
        )

    def _daq_event(self, move: Move, request: dict[str, Any], **fields: Any) -> None:
        doc = {"event": "daq", "system": move.system, "run": request["run"], "ts": iso_now()}
        doc.update({k: request[k] for k in ("id", "step", "point", "source", "position")})
        self.outbox.put(Outgoing("event", move.system, {**doc, **fields}))

    async def _until(self, awaitable: Awaitable[T], watch: Subsystem | None = None) -> T:
        """Await `awaitable`; raise _Abort on program.abort, _Suspend when `watch` trips or is
        commanded by someone else meanwhile."""
        main = asyncio.ensure_future(awaitable)
        try:
            while True:
                if self._aborted.is_set():
                    raise _Abort
                if watch is not None and watch.state == "FAULT":
                    latched = watch.latched.code if watch.latched is not None else "FAULT"
                    raise _Suspend(f"{watch.name} tripped ({latched}) during the DAQ")
                if watch is not None and watch.command is not None:
                    raise _Suspend(
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

    async def _abort_now(self) -> None:
        """Stop what moves, retract the program's current system, ABORTED."""
        plan, record = self.plan, self._rec()
        assert plan is not None
        name = plan.moves[min(record.move, len(plan.moves) - 1)].system
        sub = self.systems[name]
        who = self._abort[0].operator if self._abort else None
        reason = f"aborted by {who or 'operator'}"
        try:
            if sub.command is not None:
                await self._command_and_wait(sub, "stop")
            if sub.status_fields().get("deployed") and sub.state != "FAULT":
                await self._command_and_wait(sub, "retract")
            elif sub.status_fields().get("deployed"):
                reason += f"; {name} is in FAULT with its source out: reset and retract it"
        except CommandError as exc:
            reason += f"; {name} could not be retracted: {exc.code}: {exc.message}"
        self._enter("ABORTED", reason)
        self._finish_commands(self._pause, "aborted", "the program was aborted")
        self._finish_commands(self._abort, "completed")

    async def _command_and_wait(self, sub: Subsystem, action: str) -> None:
        record = self._rec()
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

    # ---- state and status ----------------------------------------------------------------------

    def _advance(self, **changes: Any) -> None:
        self.record = self._rec().advanced(**changes)
        self.runs.save(self.record)
        self.publish()

    def _enter(self, state: str, reason: str | None) -> None:
        self.state, self.reason = state, reason
        if self.record is not None:
            self.record = self.record.advanced(state=state, reason=reason)
            self.runs.save(self.record)
        log.info("program_state", state=state, reason=reason)
        self.outbox.put(
            Outgoing(
                "event",
                None,
                {
                    "event": "program",
                    "state": state,
                    "reason": reason,
                    "run": None if self.record is None else self.record.run,
                    "ts": iso_now(),
                },
            )
        )
        self.publish()

    def _finish_commands(self, cmds: list[Command], result: str, message: str = "") -> None:
        for cmd in cmds:
            error = (
                CommandError(ErrorCode.INVALID_STATE, message) if result != "completed" else None
            )
            self._final(cmd, result, error=error)
        cmds.clear()

    def _final(
        self, cmd: Command, result: str, error: CommandError | None = None, **extra: Any
    ) -> None:
        payload = reply(cmd.id, None, cmd.action, result, error=error, **extra)  # type: ignore[arg-type]
        self.outbox.put(Outgoing("reply", None, payload, cmd.route))
        audit: dict[str, Any] = {"event": "command", "system": None, "id": cmd.id}
        audit["action"] = cmd.action
        audit.update(result=result, operator=cmd.operator, ts=payload["ts"])
        if error is not None:
            audit["error"] = error.as_dict()
        self.outbox.put(Outgoing("event", None, audit))

    def _where(self, move: Move) -> str:
        if move.point is None:
            return f"step {move.step + 1} ({move.system} {move.action})"
        return f"step {move.step + 1} point {move.point + 1}"

    def status(self) -> dict[str, Any]:
        plan, record = self.plan, self.record
        doc: dict[str, Any] = {
            "program": None if record is None else record.program,
            "run": None if record is None else record.run,
            "state": self.state,
            "reason": self.reason,
            "step": None,
            "steps": None,
            "point": None,
            "points": None,
            "done_points": None,
            "progress": None,
            "eta_s": None,
            "system": None,
            "source": None,
            "started": None if record is None else record.started,
            "operator": None if record is None else record.operator,
            "ts": iso_now(),
        }
        if plan is None or record is None:
            return doc
        moves, index = plan.moves, record.move
        current = moves[min(index, len(moves) - 1)]
        total = plan.program.points
        eta_s = 0.0 if self.state == "COMPLETED" else plan.eta_s(index) / self.time_scale
        if self.state == "RUNNING" and self._move_started_s:
            elapsed_s = asyncio.get_running_loop().time() - self._move_started_s
            eta_s = max(plan.eta_s(index + 1) / self.time_scale, eta_s - elapsed_s)
        sub = self.systems.get(current.system)
        doc.update(
            step=current.step + 1,
            steps=len(plan.program.steps),
            point=None if current.point is None else current.point + 1,
            points=total,
            done_points=record.done_points,
            progress=round(record.done_points / total, 4) if total else 1.0,
            eta_s=round(eta_s, 1),
            system=current.system,
            source=None if sub is None else sub.status_fields().get("source"),
        )
        return doc

    def publish(self) -> None:
        self.outbox.retained(STATUS_TOPIC, self.status())
