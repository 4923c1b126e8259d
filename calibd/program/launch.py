"""Starting a run and finding it again after a restart: reading the program file (and its
digest), planning it with the live inventory and systems, refusing it with every problem, the
new run's record; and, for an interrupted run, re-planning the same (unchanged) file."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from calibd.config import Settings
from calibd.core.errors import CommandError, ErrorCode
from calibd.core.subsystem import Subsystem
from calibd.core.timefmt import iso_now
from calibd.program.live import live_problems
from calibd.program.model import Program, ProgramError, load_program, resolve
from calibd.program.plan import Plan
from calibd.program.planner import make_plan
from calibd.program.runs import RunRecord
from calibd.store.inventory import Inventory


def read_program(ref: str, programs_dir: Path) -> tuple[Program, str]:
    """The program `ref` names and the sha256 of its file (blocking: run it in a thread)."""
    path = resolve(ref, programs_dir)
    program = load_program(path)
    return program, hashlib.sha256(Path(path).read_bytes()).hexdigest()


async def prepare(
    ref: str, settings: Settings, inventory: Inventory, systems: Mapping[str, Subsystem]
) -> tuple[Program, str, Plan]:
    """The program, its digest and its plan; CommandError with every problem if it cannot run
    now (`bad_request`: the file or its plan; `invalid_state`: the systems as they are)."""
    try:
        program, digest = await asyncio.to_thread(read_program, ref, settings.program.dir)
    except ProgramError as exc:
        raise CommandError(
            ErrorCode.BAD_REQUEST, f"invalid program: {exc}", problems=exc.problems
        ) from None
    plan = make_plan(program, settings, inventory.records(), systems)
    problems = [*plan.problems, *live_problems(plan, systems)]
    if problems:
        code = ErrorCode.BAD_REQUEST if plan.problems else ErrorCode.INVALID_STATE
        message = f"program {program.name}: {len(problems)} problem(s): " + "; ".join(problems)
        raise CommandError(code, message, problems=problems)
    return program, digest, plan


def new_record(
    program: Program, ref: str, digest: str, operator: str | None, programs_dir: Path
) -> RunRecord:
    """The record of a run starting now (RUNNING, at its first move)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    now = iso_now()
    return RunRecord(
        run=f"{program.name}-{stamp}-{secrets.token_hex(2)}",
        program=program.name,
        path=str(resolve(ref, programs_dir)),
        digest=digest,
        operator=operator,
        state="RUNNING",
        move=0,
        done_points=0,
        reason=None,
        started=now,
        updated=now,
    )


async def replan(
    record: RunRecord, settings: Settings, inventory: Inventory, systems: Mapping[str, Subsystem]
) -> Plan:
    """The plan of an interrupted run; ProgramError if its file is gone, bad or changed."""
    program, digest = await asyncio.to_thread(read_program, record.path, settings.program.dir)
    if digest != record.digest:
        raise ProgramError([f"{record.path} changed since the run started"])
    return make_plan(program, settings, inventory.records(), systems)
