"""Sending one command and seeing it through: the daemon must be online first, then the
immediate reply (`accepted`/`rejected`), then (unless --no-wait) the final one, with the
system's state changes as progress on stderr; exit codes from the outcome (errors.py)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol, TextIO, TypeVar

from calibd.ctl.errors import FAILED, OK, UNAVAILABLE, CtlError
from calibd.ctl.link import Inbound, system_of
from calibd.ctl.render import daemon_state, fmt_position, label, reply_error, results_text

#: how long the daemon has to answer `accepted`/`rejected`
ACK_TIMEOUT_S = 10.0
#: how long a command may take to its final reply unless --timeout says otherwise
DEFAULT_TIMEOUT_S = 3600.0
#: the longest single wait for a message (the loop re-checks its deadline after each)
POLL_S = 1.0

T = TypeVar("T")


class Link(Protocol):
    """What a command needs of the link (CtlLink; a fake in the unit tests)."""

    root: str

    async def subscribe(self, *filters: str) -> None: ...

    async def sync(self, timeout_s: float = ...) -> list[Inbound]: ...

    async def next(self, timeout_s: float) -> Inbound | None: ...

    async def send(
        self, system: str | None, action: str, args: dict[str, Any], *, expert: bool = False
    ) -> str: ...

    def is_reply(self, msg: Inbound) -> bool: ...


@dataclass(frozen=True)
class Request:
    system: str | None  # None: a global command on {root}/cmd
    action: str
    args: dict[str, Any] = field(default_factory=dict)
    expert: bool = False

    @property
    def label(self) -> str:
        return label(self.system, self.action)


@dataclass
class Options:
    wait: bool = True
    timeout_s: float | None = None
    json: bool = False
    progress: bool = False  # print the system's state changes on stderr
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def warn(self, text: str) -> None:
        print(text, file=self.err, flush=True)


def offline(root: str, daemon: Any) -> str:
    """Why the daemon cannot take a command: nothing retained, or not `online`."""
    if not isinstance(daemon, dict):
        return (
            f"no daemon state on {root}/daemon/state: is calibd running, and is the topic root"
            " right (--root, [mqtt] topic_root)?"
        )
    return f"the daemon is not online: it is {daemon_state(daemon)}"


class Session:
    """One conversation with the daemon: its state, the statuses seen, the replies to us."""

    def __init__(self, link: Link, opts: Options) -> None:
        self.link = link
        self.opts = opts
        self.daemon: Any = None
        self.states: dict[str, str] = {}
        self.program: Any = None
        self.replies: dict[str, list[dict[str, Any]]] = {}
        self.running: str | None = None  # the label of the command under way (daemon watch)
        self.on_program: Callable[[dict[str, Any]], None] | None = None

    async def read(self, *filters: str) -> None:
        """Subscribe to the daemon state (+ `filters`) and take in what is retained there."""
        await self.link.subscribe(f"{self.link.root}/daemon/state", *filters)
        for msg in await self.link.sync():
            self.absorb(msg, quiet=True)

    async def start(self, *filters: str) -> None:
        """`read`, then insist that the daemon is online."""
        await self.read(*filters)
        self.require_online()

    def require_online(self) -> None:
        if not (isinstance(self.daemon, dict) and self.daemon.get("state") == "online"):
            raise CtlError(offline(self.link.root, self.daemon), UNAVAILABLE)

    def absorb(self, msg: Inbound, *, quiet: bool = False) -> None:
        root = self.link.root
        if self.link.is_reply(msg):
            self.replies.setdefault(str(msg.doc.get("id")), []).append(msg.doc)
        elif msg.topic == f"{root}/daemon/state" and isinstance(msg.doc, dict):
            before, self.daemon = self.daemon, msg.doc
            if self.running is None:
                return
            went = msg.doc.get("state")
            if went == "online" and isinstance(before, dict):
                if msg.doc.get("session") == before.get("session"):
                    return  # the same daemon, reconnected
                went = "through a restart"
            raise CtlError(
                f"the daemon went {went} while {self.running} was under way; its outcome is"
                " unknown (see calibctl status)",
                UNAVAILABLE,
            )
        elif msg.topic == f"{root}/program/status" and isinstance(msg.doc, dict):
            self.program = msg.doc
            if self.on_program is not None and not quiet:
                self.on_program(msg.doc)
        elif (name := system_of(root, msg.topic)) is not None and isinstance(msg.doc, dict):
            state = str(msg.doc.get("state"))
            if self.states.get(name) != state and not quiet and self.opts.progress:
                where = fmt_position(msg.doc.get("position"))
                self.opts.warn(f"{name}: {state}" + (f" {where}" if where != "-" else ""))
            self.states[name] = state

    async def wait_for(self, pred: Callable[[], T | None], timeout_s: float | None) -> T | None:
        """Absorb messages until `pred()` gives something; None at `timeout_s` (None: no
        overall limit, the daemon watch and the broker connection end it)."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout_s is None else loop.time() + timeout_s
        while (got := pred()) is None:
            step = POLL_S if deadline is None else min(POLL_S, deadline - loop.time())
            if step <= 0:
                return None
            msg = await self.link.next(step)
            if msg is not None:
                self.absorb(msg)
        return got

    def reply(self, cmd_id: str, *, final: bool) -> dict[str, Any] | None:
        got = self.replies.get(cmd_id, [])
        return next((r for r in got if r.get("final") or not final), None)

    async def send(self, req: Request) -> str:
        cmd_id = await self.link.send(req.system, req.action, req.args, expert=req.expert)
        self.running = req.label
        return cmd_id

    async def complete(
        self, req: Request, cmd_id: str, *, announce: bool = True
    ) -> tuple[int, dict[str, Any] | None]:
        """Wait for the replies to `cmd_id`; (exit code, the final reply if it came). Say
        `completed` on stdout if `announce`; errors always go to stderr."""
        timeout_s = self.opts.timeout_s or DEFAULT_TIMEOUT_S
        first = await self.wait_for(
            lambda: self.reply(cmd_id, final=False), min(ACK_TIMEOUT_S, timeout_s)
        )
        if first is None:
            raise CtlError(
                f"no reply to {req.label} ({cmd_id}) within {min(ACK_TIMEOUT_S, timeout_s):g} s",
                UNAVAILABLE,
            )
        self.show(first)
        if first.get("result") == "rejected":
            return self.failed(req, first), None
        if not first.get("final") and not self.opts.wait:
            if not self.opts.json:
                self.opts.say(f"{req.label}: accepted ({cmd_id})")
            return OK, None
        final = first if first.get("final") else None
        if final is None:
            final = await self.wait_for(lambda: self.reply(cmd_id, final=True), timeout_s)
            if final is None:
                raise CtlError(
                    f"no final reply to {req.label} ({cmd_id}) within {timeout_s:g} s; it may"
                    " still be running (see calibctl status)",
                    UNAVAILABLE,
                )
            self.show(final)
        if final.get("result") != "completed":
            return self.failed(req, final), final
        if announce and not self.opts.json:
            extra = f": {results_text(final['results'])}" if "results" in final else ""
            self.opts.say(f"{req.label}: completed{extra}")
        return OK, final

    def show(self, reply: dict[str, Any]) -> None:
        if self.opts.json:
            self.opts.say(json.dumps(reply))

    def failed(self, req: Request, reply: dict[str, Any]) -> int:
        for line in reply_error(req.label, reply):
            self.opts.warn(line)
        return FAILED


async def execute(link: Link, req: Request, opts: Options) -> int:
    """Send `req` and see it through; the exit code."""
    session = Session(link, opts)
    watch = [f"{link.root}/{req.system}/status"] if req.system is not None and opts.progress else []
    await session.start(*watch)
    cmd_id = await session.send(req)
    code, final = await session.complete(req, cmd_id)
    if code == OK and final is not None and req.system is None and req.action == "reset":
        code = await _system_resets(session, cmd_id, final.get("results"))
    return code


async def _system_resets(session: Session, cmd_id: str, results: Any) -> int:
    """The global reset's per-system resets (`{id}/{system}`): each one's final reply."""
    code = OK
    timeout_s = session.opts.timeout_s or DEFAULT_TIMEOUT_S
    for system, outcome in (results or {}).items():
        if outcome != "reset":
            session.opts.warn(f"calibctl: {system} reset refused: {outcome}")
            code = FAILED
            continue
        sub_id = f"{cmd_id}/{system}"
        final = await session.wait_for(partial(session.reply, sub_id, final=True), timeout_s)
        if final is None:
            raise CtlError(f"no final reply to {system} reset within {timeout_s:g} s", UNAVAILABLE)
        session.show(final)
        if final.get("result") == "completed":
            if not session.opts.json:
                session.opts.say(f"{system} reset: completed")
        else:
            code = session.failed(Request(system, "reset"), final)
    return code
