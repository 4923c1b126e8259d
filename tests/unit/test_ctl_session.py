"""A command seen through (run.py) and the program commands (program.py), on a fake link that
answers like the daemon: replies, exit codes, messages, progress, the daemon watch."""

from __future__ import annotations

import asyncio
import io
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from calibd.ctl.errors import FAILED, OK, UNAVAILABLE, CtlError
from calibd.ctl.link import Inbound
from calibd.ctl.program import program_arg, run_program
from calibd.ctl.run import Options, Request, execute

pytestmark = pytest.mark.timeout(10)

ROOT = "t/calib"
ONLINE = {"state": "online", "version": "0.1.0", "session": 2, "started_at": "T0"}
Respond = Callable[[str, Request], list[Inbound]]


def _match(pattern: str, topic: str) -> bool:
    pat, top = pattern.split("/"), topic.split("/")
    for i, p in enumerate(pat):
        if p == "#":
            return True
        if i >= len(top) or (p != "+" and p != top[i]):
            return False
    return len(pat) == len(top)


class FakeLink:
    """Retained documents per topic; `respond` says what the daemon sends back to a command."""

    def __init__(self, retained: dict[str, Any] | None = None) -> None:
        self.root = ROOT
        self.inbox = f"{ROOT}/ctl/x"
        self.retained = {f"{ROOT}/daemon/state": ONLINE, **(retained or {})}
        self.filters: list[str] = []
        self.queue: deque[Inbound] = deque()
        self.sent: list[Request] = []
        self.respond: Respond = lambda cmd_id, req: []

    async def subscribe(self, *filters: str) -> None:
        self.filters += filters

    async def sync(self, timeout_s: float = 5.0) -> list[Inbound]:
        """The retained documents of the filters (`queue` is what comes live afterwards)."""
        return [
            Inbound(t, d, True)
            for t, d in self.retained.items()
            if any(_match(f, t) for f in self.filters)
        ]

    async def next(self, timeout_s: float) -> Inbound | None:
        if self.queue:
            return self.queue.popleft()
        await asyncio.sleep(min(max(timeout_s, 0.0), 0.005))
        return None

    async def send(
        self, system: str | None, action: str, args: dict[str, Any], *, expert: bool = False
    ) -> str:
        req = Request(system, action, args, expert)
        self.sent.append(req)
        cmd_id = f"c-{len(self.sent)}"
        self.queue.extend(self.respond(cmd_id, req))
        return cmd_id

    def is_reply(self, msg: Inbound) -> bool:
        return msg.topic == self.inbox and isinstance(msg.doc, dict)

    def reply(self, cmd_id: str, req: Request, result: str, **extra: Any) -> Inbound:
        doc = {
            "id": cmd_id,
            "system": req.system,
            "action": req.action,
            "result": result,
            "final": result != "accepted",
            "error": None,
            **extra,
        }
        return Inbound(self.inbox, doc, False, cmd_id.encode())

    def status(self, system: str, state: str, **extra: Any) -> Inbound:
        return Inbound(f"{ROOT}/{system}/status", {"system": system, "state": state, **extra}, True)


def _opts(**kw: Any) -> Options:
    return Options(out=io.StringIO(), err=io.StringIO(), **kw)


def _text(stream: Any) -> str:
    assert isinstance(stream, io.StringIO)
    return stream.getvalue()


async def test_completed_command_exit_0_with_progress() -> None:
    link = FakeLink({f"{ROOT}/acu/status": {"system": "acu", "state": "PARKED"}})
    link.respond = lambda i, r: [
        link.reply(i, r, "accepted"),
        link.status("acu", "DEPLOYING", position={"z_m": 20.0, "unit": "A"}),
        link.status("acu", "DEPLOYING", position={"z_m": 10.0, "unit": "A"}),
        link.status("acu", "AT_POSITION", position={"z_m": 5.0, "unit": "A"}),
        link.reply(i, r, "completed"),
    ]
    opts = _opts(progress=True)
    req = Request("acu", "deploy", {"unit": "A", "z_m": 5.0})
    assert await execute(link, req, opts) == OK
    assert link.sent == [req]
    assert _text(opts.out) == "acu deploy: completed\n"
    # one line per state change, none for the retained PARKED seen before sending
    assert _text(opts.err).splitlines() == [
        "acu: DEPLOYING z=20.000m unit=A",
        "acu: AT_POSITION z=5.000m unit=A",
    ]


@pytest.mark.parametrize(
    ("result", "code", "message", "line"),
    [
        ("rejected", "out_of_range", "z_m 99.0 outside", "acu move rejected: out_of_range: z_m"),
        ("failed", "interlock", "slack: slack cable on A", "acu move failed: interlock: slack:"),
        ("aborted", "invalid_state", "interrupted; now STOPPED", "acu move aborted: invalid_st"),
    ],
)
async def test_not_completed_exit_1_with_the_reply_code(
    result: str, code: str, message: str, line: str
) -> None:
    link = FakeLink()
    error = {"code": code, "message": message}
    link.respond = lambda i, r: (
        [link.reply(i, r, "rejected", error=error)]
        if result == "rejected"
        else [link.reply(i, r, "accepted"), link.reply(i, r, result, error=error)]
    )
    opts = _opts()
    assert await execute(link, Request("acu", "move", {"z_m": 99.0}), opts) == FAILED
    assert _text(opts.err).startswith(f"calibctl: {line}")
    assert _text(opts.out) == ""


@pytest.mark.parametrize(
    ("daemon", "why"),
    [(None, "no daemon state on t/calib/daemon/state"), ({"state": "lost"}, "it is lost")],
)
async def test_daemon_not_online_exit_3_nothing_sent(daemon: Any, why: str) -> None:
    link = FakeLink()
    link.retained.pop(f"{ROOT}/daemon/state")
    if daemon is not None:
        link.retained[f"{ROOT}/daemon/state"] = daemon
    with pytest.raises(CtlError, match=why) as info:
        await execute(link, Request("acu", "home"), _opts())
    assert info.value.exit_code == UNAVAILABLE
    assert link.sent == []


async def test_daemon_lost_while_waiting_exit_3() -> None:
    link = FakeLink()
    link.respond = lambda i, r: [
        link.reply(i, r, "accepted"),
        Inbound(f"{ROOT}/daemon/state", {"state": "lost", "session": 2}, True),
    ]
    with pytest.raises(CtlError, match="went lost while acu home was under way") as info:
        await execute(link, Request("acu", "home"), _opts())
    assert info.value.exit_code == UNAVAILABLE


async def test_daemon_restarted_while_waiting_exit_3_reconnect_is_fine() -> None:
    state = f"{ROOT}/daemon/state"
    link = FakeLink()
    link.respond = lambda i, r: [
        link.reply(i, r, "accepted"),
        Inbound(state, ONLINE, True),  # the same session: a reconnect of the same daemon
        link.reply(i, r, "completed"),
    ]
    assert await execute(link, Request("acu", "home"), _opts()) == OK
    link.respond = lambda i, r: [
        link.reply(i, r, "accepted"),
        Inbound(state, {**ONLINE, "session": 3}, True),
        link.reply(i, r, "completed"),
    ]
    with pytest.raises(CtlError, match="went through a restart while acu home") as info:
        await execute(link, Request("acu", "home"), _opts())
    assert info.value.exit_code == UNAVAILABLE


async def test_no_reply_and_no_final_reply_exit_3() -> None:
    link = FakeLink()
    with pytest.raises(CtlError, match="no reply to acu home") as info:
        await execute(link, Request("acu", "home"), _opts(timeout_s=0.05))
    assert info.value.exit_code == UNAVAILABLE
    link.respond = lambda i, r: [link.reply(i, r, "accepted")]
    with pytest.raises(CtlError, match=r"no final reply to acu home .* may still be running"):
        await execute(link, Request("acu", "home"), _opts(timeout_s=0.05))


async def test_no_wait_returns_after_accepted() -> None:
    link = FakeLink()
    link.respond = lambda i, r: [link.reply(i, r, "accepted")]
    opts = _opts(wait=False, timeout_s=0.05)
    assert await execute(link, Request("acu", "home"), opts) == OK
    assert _text(opts.out) == "acu home: accepted (c-1)\n"


async def test_json_prints_every_reply() -> None:
    link = FakeLink()
    link.respond = lambda i, r: [link.reply(i, r, "accepted"), link.reply(i, r, "completed")]
    opts = _opts(json=True)
    assert await execute(link, Request("acu", "mount", {"source": "S"}, expert=True), opts) == OK
    assert [line.count('"result"') for line in _text(opts.out).splitlines()] == [1, 1]
    assert link.sent[0].expert is True


async def test_global_reset_waits_for_every_system_reset() -> None:
    link = FakeLink()
    results = {"acu": "reset", "gt": "reset", "rov": "interlock: cause still present: limit"}
    link.respond = lambda i, r: [
        link.reply(i, r, "accepted"),
        link.reply(i, r, "completed", results=results),
        link.reply(f"{i}/acu", Request("acu", "reset"), "completed"),
        link.reply(
            f"{i}/gt",
            Request("gt", "reset"),
            "failed",
            error={"code": "interlock", "message": "cause still present: drive alarm"},
        ),
    ]
    opts = _opts()
    assert await execute(link, Request(None, "reset"), opts) == FAILED
    out = _text(opts.out).splitlines()
    assert out[0].startswith("reset: completed: acu=reset gt=reset rov=interlock")
    assert out[1:] == ["acu reset: completed"]
    assert _text(opts.err).splitlines() == [
        "calibctl: gt reset failed: interlock: cause still present: drive alarm",
        "calibctl: rov reset refused: interlock: cause still present: limit",
    ]


def _program(run: str, state: str, **kw: Any) -> dict[str, Any]:
    doc = {"program": "weekly", "run": run, "state": state, "steps": 2, "points": 4}
    return {**doc, "done_points": 0, **kw}


async def test_program_run_wait_follows_its_run_to_completed() -> None:
    topic = f"{ROOT}/program/status"
    link = FakeLink({topic: _program("r-1", "COMPLETED", step=2, point=4, progress=1.0)})

    def respond(cmd_id: str, req: Request) -> list[Inbound]:
        docs = [
            _program("r-2", "RUNNING", step=1, point=1, progress=0.1, eta_s=30.0),
            _program("r-2", "RUNNING", step=1, point=1, progress=0.2, eta_s=25.0),
            _program("r-2", "PAUSED", step=1, point=2, progress=0.4, eta_s=20.0),
            _program("r-2", "RUNNING", step=2, point=3, progress=0.7, eta_s=9.0),
            _program("r-2", "COMPLETED", step=2, point=4, progress=1.0, done_points=4),
        ]
        return [
            link.reply(cmd_id, req, "accepted"),
            link.reply(cmd_id, req, "completed", run="r-2"),
            *(Inbound(topic, d, True) for d in docs),
        ]

    link.respond = respond
    opts = _opts()
    assert await run_program(link, "weekly", opts, follow=True, tty=False) == OK
    assert link.sent == [Request(None, "program.run", {"program": "weekly"})]
    out = _text(opts.out).splitlines()
    assert out[0] == "program weekly: started (run r-2)"
    assert out[1].startswith("program weekly (r-2)  COMPLETED  step 2/2  point 4  4/4 points")
    progress = _text(opts.err).splitlines()  # one line per state/step/point change, not r-1
    assert [line.split("  ")[1] for line in progress] == [
        "RUNNING",
        "PAUSED",
        "RUNNING",
        "COMPLETED",
    ]
    assert all("(r-2)" in line for line in progress)
    assert "ETA 30s" in progress[0]


async def test_program_run_wait_aborted_exit_1_with_reason() -> None:
    topic = f"{ROOT}/program/status"
    link = FakeLink()
    link.respond = lambda i, r: [
        link.reply(i, r, "accepted"),
        link.reply(i, r, "completed", run="r-3"),
        Inbound(topic, _program("r-3", "RUNNING", step=1, point=1, progress=0.1), True),
        Inbound(topic, _program("r-3", "ABORTED", step=1, point=1, reason="aborted by op"), True),
    ]
    opts = _opts()
    assert await run_program(link, "weekly", opts, follow=True, tty=True) == FAILED
    assert _text(opts.err).endswith(
        "\ncalibctl: program weekly (r-3)  ABORTED  step 1/2  point 1  0/4 points"
        "  reason: aborted by op\n"
    )
    assert "\r" in _text(opts.err)  # a terminal: the bar is redrawn in place


async def test_program_run_rejected_lists_every_problem() -> None:
    link = FakeLink()
    problems = ["steps[1]: no AmC source mounted", "steps[2].points[3]: z_m 30.0 out of range"]
    link.respond = lambda i, r: [
        link.reply(
            i,
            r,
            "rejected",
            error={"code": "bad_request", "message": "program weekly is invalid"},
            problems=problems,
        )
    ]
    opts = _opts()
    assert await run_program(link, "weekly", opts, follow=True, tty=False) == FAILED
    assert _text(opts.err).splitlines() == [
        "calibctl: program.run rejected: bad_request: program weekly is invalid",
        *(f"  - {p}" for p in problems),
    ]


def test_program_arg_sends_local_files_as_absolute_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mine.toml").write_text("name = 'mine'\n")
    monkeypatch.chdir(tmp_path)
    assert program_arg("mine.toml") == str(tmp_path / "mine.toml")
    assert program_arg("weekly") == "weekly"
    assert program_arg("missing/x.toml") == "missing/x.toml"
