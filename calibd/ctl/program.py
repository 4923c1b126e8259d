"""`calibctl program run|pause|resume|abort|status`: the global `program.*` commands and the
retained `{root}/program/status`; `run --wait` follows the run to its end with a progress bar."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from calibd.ctl.errors import FAILED, OK, UNAVAILABLE, CtlError
from calibd.ctl.render import PROGRAM_ENDS, program_line
from calibd.ctl.run import Link, Options, Request, Session


def program_arg(name: str) -> str:
    """A name is sent as is; a path to an existing local file is made absolute (the daemon
    reads it, from its own working directory)."""
    path = Path(name)
    if ("/" in name or name.endswith(".toml")) and path.is_file():
        return str(path.resolve())
    return name


class Progress:
    """The run's progress on stderr: redrawn in place on a terminal, else one line per change
    of state, step or point."""

    def __init__(self, opts: Options, *, tty: bool) -> None:
        self.opts = opts
        self.tty = tty
        self.last: tuple[Any, ...] | None = None
        self.drawn = False

    def update(self, doc: dict[str, Any]) -> None:
        if self.tty:  # one line, cut to the terminal's width so that \r redraws it
            width = shutil.get_terminal_size().columns - 1
            self.opts.err.write(f"\r{program_line(doc)[:width]}\x1b[K")
            self.opts.err.flush()
            self.drawn = True
            return
        key = tuple(doc.get(k) for k in ("run", "state", "step", "point", "reason"))
        if key != self.last:
            self.last = key
            self.opts.warn(program_line(doc))

    def close(self) -> None:
        if self.drawn:
            self.opts.err.write("\n")
            self.opts.err.flush()
            self.drawn = False


async def run_program(link: Link, name: str, opts: Options, *, follow: bool, tty: bool) -> int:
    """`program run NAME [--wait]`: exit 0 once started (with --wait: once COMPLETED)."""
    session = Session(link, opts)
    await session.start(f"{link.root}/program/status")
    before = session.program.get("run") if isinstance(session.program, dict) else None
    req = Request(None, "program.run", {"program": program_arg(name)})
    cmd_id = await session.send(req)
    code, final = await session.complete(req, cmd_id, announce=False)
    if code != OK or final is None:
        return code
    run = final.get("run")
    if not opts.json:
        opts.say(f"program {name}: started" + (f" (run {run})" if run else ""))
    if not follow:
        return OK

    def ours(doc: Any) -> bool:
        if not isinstance(doc, dict):
            return False
        return doc.get("run") == run if run is not None else doc.get("run") != before

    progress = Progress(opts, tty=tty)

    def seen(doc: dict[str, Any]) -> None:
        if ours(doc):
            progress.update(doc)

    session.on_program = seen
    if ours(session.program):
        progress.update(session.program)
    try:
        end = await session.wait_for(
            lambda: (
                session.program
                if ours(session.program) and session.program.get("state") in PROGRAM_ENDS
                else None
            ),
            opts.timeout_s,
        )
    finally:
        progress.close()
    if end is None:
        raise CtlError(
            f"program {name} not finished within {opts.timeout_s:g} s (it keeps running)",
            UNAVAILABLE,
        )
    if opts.json:
        opts.say(json.dumps(end))
    if end.get("state") == "COMPLETED":
        if not opts.json:
            opts.say(program_line(end))
        return OK
    opts.warn(f"calibctl: {program_line(end, with_bar=False)}")
    return FAILED


async def program_action(link: Link, action: str, opts: Options) -> int:
    """`program pause|resume|abort`: the final reply comes once PAUSED/RUNNING/ABORTED."""
    session = Session(link, opts)
    watch = [f"{link.root}/program/status"] if opts.progress else []
    if opts.progress:
        session.on_program = lambda doc: opts.warn(program_line(doc))
    await session.start(*watch)
    req = Request(None, f"program.{action}")
    cmd_id = await session.send(req)
    code, _ = await session.complete(req, cmd_id)
    return code


async def program_status(link: Link, opts: Options) -> int:
    """`program status [--json]`: the retained program status; exit 3 if the daemon is not
    online (the status is then the last it published)."""
    session = Session(link, opts)
    await session.read(f"{link.root}/program/status")
    opts.say(json.dumps(session.program) if opts.json else program_line(session.program))
    session.require_online()
    return OK
