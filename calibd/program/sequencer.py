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

This module owns the states and the run's course; the commands' checks and replies are in
`control.py`, starting and re-planning a run in `launch.py`, carrying out a move (its command,
its DAQ, the abortable wait, the abort's retract) in `executor.py`, the status in `status.py`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import structlog

from calibd.config import Settings
from calibd.core.commands import Command
from calibd.core.dispatcher import Dispatcher
from calibd.core.errors import CommandError
from calibd.core.outbox import Outbox, Outgoing
from calibd.core.subsystem import Subsystem
from calibd.core.timefmt import iso_now
from calibd.program.control import check_request, check_resume, final, finish
from calibd.program.daq import Daq
from calibd.program.executor import Abort, Executor, Suspend, where
from calibd.program.launch import new_record, prepare, replan
from calibd.program.model import ProgramError
from calibd.program.plan import Plan
from calibd.program.runs import TERMINAL, RunLog, RunRecord
from calibd.program.status import STATUS_TOPIC, status_doc
from calibd.store.inventory import Inventory

log = structlog.get_logger("calibd.program", subsystem="program")
_HEARTBEAT_S = 5.0


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
        self.executor = Executor(dispatcher, systems, outbox, daq, self._aborted, self._started)
        self.publish()

    # ---- commands (never await) ----------------------------------------------------------------

    def submit(self, cmd: Command) -> None:
        """Validate a `program.*` command; raise CommandError to reject. A run request is queued
        and answered once its file is read and checked; the others are answered here."""
        check_request(cmd, self.state, self._starts.full())
        if cmd.action == "program.run":
            self._starts.put_nowait(cmd)
            return
        if cmd.action == "program.pause":
            self._pause.append(cmd)
        elif cmd.action == "program.abort":
            self._abort.append(cmd)
            self._aborted.set()
        else:
            check_resume(self.plan, self.record, self.systems, self.inventory)
            self._resumed.set()
        self.dispatcher.accept(None, cmd)
        if cmd.action == "program.resume":
            final(self.outbox, cmd, "completed")

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
        at = f"step/move {record.move + 1}"
        try:
            self.plan = await replan(record, self.settings, self.inventory, self.systems)
            at = where(self.plan.moves[min(record.move, len(self.plan.moves) - 1)])
        except (ProgramError, IndexError) as exc:
            self._enter("FAILED", f"interrupted by a daemon restart at {at}; cannot resume: {exc}")
            return
        self._enter(
            "SUSPENDED",
            f"interrupted by a daemon restart at {at}: program.resume repeats that point,"
            " program.abort retracts",
        )

    async def _start(self, cmd: Command) -> None:
        ref = str(cmd.args["program"])
        try:
            program, digest, plan = await prepare(ref, self.settings, self.inventory, self.systems)
        except CommandError as exc:
            self.dispatcher.reject(cmd, exc)
            return
        self.record = new_record(program, ref, digest, cmd.operator, self.settings.program.dir)
        self.plan = plan
        self._pause.clear()
        self._abort.clear()
        self._aborted.clear()
        self.dispatcher.accept(None, cmd)
        self._enter("RUNNING", None)
        await self.runs.durable()
        log.info("program_started", run=self.record.run, moves=len(plan.moves))
        final(self.outbox, cmd, "completed", run=self.record.run)

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
                    finish(self.outbox, self._pause, "completed")
                    continue
                if move.action == "mount":
                    if not resumed:
                        self._enter("PAUSED", f"{move.message}: program.resume once it is mounted")
                        continue
                else:
                    try:
                        await self.executor.do(self._rec(), plan, record.move, move)
                    except Suspend as exc:
                        self._enter("SUSPENDED", str(exc))
                        continue
                done = record.done_points + (1 if move.point is not None else 0)
                self._advance(move=record.move + 1, done_points=done)
        except Abort:
            await self._abort_now()
            return
        finish(self.outbox, self._pause, "aborted", "the program completed first")
        self._enter("COMPLETED", None)

    def _rec(self) -> RunRecord:
        assert self.record is not None
        return self.record

    async def _hold(self) -> None:
        """Wait in PAUSED/SUSPENDED for resume (-> RUNNING) or abort (raises Abort)."""
        self._resumed.clear()
        await self.executor.until(self._resumed.wait())
        self._enter("RUNNING", None)

    def _started(self) -> None:
        """A move's command is about to go: the status counts its ETA down from now."""
        self._move_started_s = asyncio.get_running_loop().time()
        self.publish()

    async def _abort_now(self) -> None:
        """Stop what moves, retract the program's current system, ABORTED."""
        plan, record = self.plan, self._rec()
        assert plan is not None
        who = self._abort[0].operator if self._abort else None
        reason = await self.executor.abort(record, plan, who)
        self._enter("ABORTED", reason)
        finish(self.outbox, self._pause, "aborted", "the program was aborted")
        finish(self.outbox, self._abort, "completed")

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

    def status(self) -> dict[str, Any]:
        return status_doc(
            self.state,
            self.reason,
            self.plan,
            self.record,
            self.systems,
            self.time_scale,
            self._move_started_s,
        )

    def publish(self) -> None:
        self.outbox.retained(STATUS_TOPIC, self.status())
