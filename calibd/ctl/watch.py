"""`calibctl watch`: the live view. On a terminal the frame (daemon, interlocks, systems table,
the interlock board, program progress) is redrawn in place with plain ANSI sequences, at most
10 times a second; into a pipe or a file, one line per change. Ends on Ctrl-C, or after the
first frame (`--once`) or N frames/lines (`--count N`)."""

from __future__ import annotations

import asyncio
import shutil
import time

from calibd.ctl.errors import OK
from calibd.ctl.run import POLL_S, Link, Options
from calibd.ctl.view import DAEMON, INTERLOCKS, PROGRAM, View, topics

#: the shortest time between two redraws on a terminal
REDRAW_S = 0.1
HOME, CLEAR_LINE, CLEAR_BELOW, CLEAR_SCREEN = "\x1b[H", "\x1b[K", "\x1b[J", "\x1b[2J"


async def watch(link: Link, opts: Options, *, tty: bool, once: bool, count: int | None) -> int:
    view = View(link.root)
    await link.subscribe(*topics(link.root))
    for msg in await link.sync():
        view.update(msg)
    if once:
        for line in view.frame():
            opts.say(line)
        return OK
    if tty:
        return await _redraw(link, view, opts, count)
    return await _lines(link, view, opts, count)


async def _lines(link: Link, view: View, opts: Options, count: int | None) -> int:
    printed = 0

    def emit(item: str) -> bool:
        nonlocal printed
        line = view.change(item)
        if line is not None:
            opts.say(line)
            printed += 1
        return count is not None and printed >= count

    present = [DAEMON] if view.daemon is not None else []
    present += [INTERLOCKS] if view.interlocks is not None else []
    present += list(view.shown())
    present += [PROGRAM] if view.program is not None else []
    for item in present:
        if emit(item):
            return OK
    while True:
        msg = await link.next(POLL_S)
        changed = view.update(msg) if msg is not None else None
        if changed is not None and emit(changed):
            return OK


def _draw(view: View, opts: Options, root: str, first: bool) -> None:
    size = shutil.get_terminal_size()
    header = f"calibctl watch  {root}  {time.strftime('%H:%M:%S')}  (Ctrl-C to quit)"
    lines = [header, "", *view.frame()][: max(size.lines - 1, 1)]
    text = "".join(f"{line[: size.columns]}{CLEAR_LINE}\n" for line in lines)
    opts.out.write((CLEAR_SCREEN if first else "") + HOME + text + CLEAR_BELOW)
    opts.out.flush()


async def _redraw(link: Link, view: View, opts: Options, count: int | None) -> int:
    loop = asyncio.get_running_loop()
    frames, dirty, last = 0, True, -REDRAW_S
    while True:
        now = loop.time()
        if dirty and now - last >= REDRAW_S:
            _draw(view, opts, link.root, first=frames == 0)
            frames, dirty, last = frames + 1, False, now
            if count is not None and frames >= count:
                return OK
        wait_s = max(last + REDRAW_S - now, 0.0) if dirty else POLL_S
        msg = await link.next(wait_s)
        if msg is not None and view.update(msg) is not None:
            dirty = True
