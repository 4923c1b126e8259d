"""A laser point of a program: the intensity scan is the point's DAQ.

The sequencer sends `laser_scan` (the point's intensities and dwells) on the operator's command
path and takes the DAQ window alongside it (dwell: the scan's total time; handshake: one
request whose `laser` field carries the scan, `daq_s` its total); the point is done when both
are. A refused or failed scan, or a DAQ failure, fails the point (the sequencer suspends);
an abort cancels the wait here and the sequencer's `stop` ends the scan.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from calibd.core.commands import Command, ReplyRoute
from calibd.core.dispatcher import Dispatcher
from calibd.core.errors import CommandError
from calibd.program.daq import Daq, DaqError, DaqWindow

Until = Callable[[Awaitable[Any]], Awaitable[Any]]


class ScanError(DaqError):
    """The point's scan was refused or did not complete."""


def scan_command(
    run: str, operator: str | None, index: int, system: str, args: dict[str, Any]
) -> Command:
    """The program's `laser_scan` for move `index` (0-based) of `run`."""
    cmd_id = f"{run}.{index + 1}.laser_scan.{secrets.token_hex(2)}"
    return Command(cmd_id, system, "laser_scan", dict(args), operator, ReplyRoute(), program=run)


async def take_scan(
    dispatcher: Dispatcher,
    daq: Daq,
    until: Until,
    cmd: Command,
    request: dict[str, Any],
    total_s: float,
) -> DaqWindow:
    """Run the scan and the DAQ window together; `until` is the sequencer's abortable wait."""
    try:
        scan = dispatcher.execute(cmd)
    except CommandError as exc:
        raise ScanError(f"laser_scan refused: {exc.code}: {exc.message}") from None
    window = asyncio.ensure_future(daq.take({**request, "laser": dict(cmd.args)}, total_s))
    try:
        result, error = await until(scan)
        if result != "completed":
            why = f"{error.code}: {error.message}" if error is not None else result
            raise ScanError(f"laser_scan {result}: {why}")
        taken: DaqWindow = await until(window)
        return taken
    finally:
        if not window.done():
            window.cancel()
            with contextlib.suppress(asyncio.CancelledError, DaqError):
                await window
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise asyncio.CancelledError
