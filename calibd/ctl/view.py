"""What the operator sees of the plant: the daemon state, every system's status, the interlock
board and the program, built from the retained topics and kept current by `update`; the frame
(`status`, `watch` on a terminal) and one-line changes (`watch` into a pipe or a file)."""

from __future__ import annotations

import json
import time
from typing import Any

from calibd.ctl.errors import OK, UNAVAILABLE, USAGE, CtlError
from calibd.ctl.link import Inbound, system_of
from calibd.ctl.render import (
    active_interlocks,
    daemon_line,
    fmt_position,
    interlock_lines,
    interlocks_summary,
    ordered,
    program_line,
    status_table,
)
from calibd.ctl.run import Link, Options, offline

DAEMON, INTERLOCKS, PROGRAM = "daemon", "interlocks", "program"


def topics(root: str) -> tuple[str, ...]:
    """What the view reads (`+/status` includes `program/status`)."""
    return (f"{root}/daemon/state", f"{root}/+/status", f"{root}/interlocks")


class View:
    def __init__(self, root: str, system: str | None = None) -> None:
        self.root = root
        self.only = system  # show just this system
        self.daemon: Any = None
        self.systems: dict[str, dict[str, Any]] = {}
        self.interlocks: Any = None
        self.program: Any = None
        self._printed: dict[str, tuple[Any, ...]] = {}

    def update(self, msg: Inbound) -> str | None:
        """Take in a message; the item it concerns (a system, `daemon`, `interlocks`,
        `program`), None if it is none of them."""
        if not isinstance(msg.doc, dict):
            return None
        if msg.topic == f"{self.root}/daemon/state":
            self.daemon = msg.doc
            return DAEMON
        if msg.topic == f"{self.root}/interlocks":
            self.interlocks = msg.doc
            return INTERLOCKS
        if msg.topic == f"{self.root}/program/status":
            self.program = msg.doc
            return PROGRAM
        name = system_of(self.root, msg.topic)
        if name is None:
            return None
        self.systems[name] = msg.doc
        return name if self.only in (None, name) else None

    def shown(self) -> dict[str, dict[str, Any]]:
        """The systems to show, in their usual order."""
        return {n: self.systems[n] for n in ordered(self.systems) if self.only in (None, n)}

    def online(self) -> bool:
        return isinstance(self.daemon, dict) and self.daemon.get("state") == "online"

    def frame(self, *, board: bool = True) -> list[str]:
        lines = [daemon_line(self.daemon), interlocks_summary(self.interlocks), ""]
        shown = self.shown()
        lines += status_table(shown) if shown else ["(no system status retained)"]
        if board and active_interlocks(self.interlocks):
            lines += ["", *interlock_lines(self.interlocks)]
        if self.program is not None:
            lines += ["", program_line(self.program)]
        return lines

    def snapshot(self) -> dict[str, Any]:
        return {
            "daemon": self.daemon,
            "systems": self.shown(),
            "interlocks": list(active_interlocks(self.interlocks)),
            "program": self.program,
        }

    def _key(self, item: str) -> tuple[Any, ...]:
        if item == DAEMON:
            return (self.daemon.get("state"), self.daemon.get("session"))
        if item == INTERLOCKS:
            return tuple(
                sorted(
                    (str(e.get("id")), str(e.get("system")), str(e.get("severity")))
                    for e in active_interlocks(self.interlocks)
                )
            )
        if item == PROGRAM:
            return tuple(
                self.program.get(k) for k in ("program", "run", "state", "step", "point", "reason")
            )
        doc = self.systems[item]
        fault = doc.get("fault") or {}
        command = doc.get("command") or {}
        return (
            doc.get("state"),
            doc.get("busy"),
            doc.get("homed"),
            doc.get("deployed"),
            doc.get("source"),
            fault.get("code"),
            command.get("action"),
            json.dumps(doc.get("target"), sort_keys=True),
        )

    def change(self, item: str) -> str | None:
        """One line for `item` if it changed in what the operator cares about since its last
        line (a system's state, busy, fault, source, target: not every position update)."""
        key = self._key(item)
        if self._printed.get(item) == key:
            return None
        self._printed[item] = key
        return f"{time.strftime('%H:%M:%S')} {self._text(item)}"

    def _text(self, item: str) -> str:
        if item == DAEMON:
            return daemon_line(self.daemon)
        if item == INTERLOCKS:
            active = active_interlocks(self.interlocks)
            names = ", ".join(
                f"{e.get('id')} ({e.get('system')}, {e.get('severity')})" for e in active
            )
            return interlocks_summary(self.interlocks) + (f": {names}" if names else "")
        if item == PROGRAM:
            return program_line(self.program)
        doc = self.systems[item]
        fault = (doc.get("fault") or {}).get("code")
        command = (doc.get("command") or {}).get("action")
        parts = [
            f"{item} {doc.get('state')}",
            f"at {fmt_position(doc.get('position'))}",
            f"target {fmt_position(doc.get('target'))}" if doc.get("target") else "",
            f"source {doc.get('source')}" if doc.get("source") else "",
            "deployed" if doc.get("deployed") and item != "house" else "",
            f"busy ({command})" if doc.get("busy") else "",
            f"FAULT {fault}" if fault else "",
        ]
        return " ".join(p for p in parts if p)


async def status(link: Link, system: str | None, opts: Options) -> int:
    """`status [SYSTEM] [--json]`: the retained statuses; exit 3 (after printing them) if the
    daemon is not online, 2 if SYSTEM has no status."""
    view = View(link.root, system)
    await link.subscribe(*topics(link.root))
    for msg in await link.sync():
        view.update(msg)
    if system is not None and system not in view.systems:
        known = ", ".join(ordered(view.systems)) or "none"
        raise CtlError(f"no status for {system!r} under {link.root} (systems: {known})", USAGE)
    if opts.json:
        opts.say(json.dumps(view.snapshot(), indent=2))
    else:
        for line in view.frame(board=False):
            opts.say(line)
    if not view.online():
        raise CtlError(
            f"{offline(link.root, view.daemon)} (any status shown is the last one published)",
            UNAVAILABLE,
        )
    return OK
