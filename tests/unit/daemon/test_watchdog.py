"""Control-loop liveness and what systemd hears (calibd/watchdog.py), and the clean stop
(calibd/shutdown.py): a manual clock and stub loops, then the whole plant on fakes in virtual
time (tests/unit/daemon/plant) with a silent device, a hung device and a stop while moving."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any, cast

import pytest
from pydantic import BaseModel
from structlog.testing import capture_logs

from calibd.cfg_cls import ClsCfg
from calibd.cfg_gt import GtCfg
from calibd.cfg_rov import RovCfg
from calibd.config import AcuCfg, HouseCfg
from calibd.core.outbox import Outgoing
from calibd.shutdown import stop_plant
from calibd.watchdog import (
    STALE_AFTER_S,
    Liveness,
    Loop,
    Watchdog,
    control_loops,
    daemon_status,
)
from drivers.errors import CommError
from drivers.fake import ManualClock
from drivers.stepper import DriveStatus
from tests.unit.daemon.plant.config import Fault
from tests.unit.daemon.plant.rig import Rig
from tests.vtime import VirtualTimeLoop

TICK_S = 5.0  # WatchdogSec=10


class Notes:
    """A fake sd_notify: every datagram, as its tuple of fields."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, ...]] = []

    def __call__(self, *fields: str) -> bool:
        self.sent.append(fields)
        return True

    def fields(self) -> list[str]:
        return [f for datagram in self.sent for f in datagram]

    def pings(self) -> int:
        return self.fields().count("WATCHDOG=1")

    def statuses(self) -> list[str]:
        return [f.removeprefix("STATUS=") for f in self.fields() if f.startswith("STATUS=")]


class Counter:
    """A stub loop: `step()` is one of its rounds."""

    def __init__(self) -> None:
        self.n = 0

    def step(self) -> None:
        self.n += 1

    def loop(self, name: str, gap_s: float = STALE_AFTER_S) -> Loop:
        return Loop(name, lambda: self.n, gap_s)


# ---- Liveness on a manual clock ------------------------------------------------------------


def test_a_loop_that_stops_counting_is_stale_once_its_gap_is_exceeded() -> None:
    clock, a, b = ManualClock(), Counter(), Counter()
    live = Liveness([a.loop("a", 10.0), b.loop("b", 10.0)], clock)
    for _ in range(10):  # both run, a round a second
        clock.advance(1.0)
        a.step()
        b.step()
        assert live.check() == []
    for _ in range(10):  # b stops: 10 s of silence is still within its gap
        clock.advance(1.0)
        a.step()
        assert live.check() == []
    clock.advance(1.0)
    a.step()
    (stale,) = live.check()
    assert stale.name == "b"
    assert stale.silent_s == pytest.approx(11.0)
    b.step()  # it moves again: alive at once
    clock.advance(1.0)
    assert live.check() == []


def test_silence_is_counted_from_the_check_that_saw_the_last_round() -> None:
    """Sampled every 5 s, a loop's last round may lie up to 5 s before the check that saw it:
    silence is never overestimated (no restart before the gap has really passed)."""
    clock, a = ManualClock(), Counter()
    live = Liveness([a.loop("a", 12.0)], clock)
    clock.advance(4.9)
    a.step()  # its last round, just before a check
    clock.advance(0.1)
    assert live.check() == []
    clock.advance(10.0)
    assert live.check() == []  # 10.1 s since that round
    clock.advance(2.5)
    assert [s.name for s in live.check()] == ["a"]


def test_control_loops_are_the_boards_poll_counts_and_its_own_rounds() -> None:
    board = SimpleNamespace(polls={"acu": 0, "house": 0}, rounds=0)
    clock = ManualClock()
    live = Liveness(control_loops(["acu", "house"], board), clock)
    assert [loop.name for loop in live.loops] == [
        "acu poll loop",
        "house poll loop",
        "interlock board",
    ]
    clock.advance(STALE_AFTER_S + 1)
    board.polls["acu"] += 1
    board.rounds += 1
    assert [s.name for s in live.check()] == ["house poll loop"]


def test_the_stale_limit_exceeds_every_configurable_idle_poll_period_twice() -> None:
    """A legitimately slow round (the slowest idle period the config accepts, plus a round of
    I/O timeouts) must never look stuck."""
    periods: list[tuple[type[BaseModel], str]] = [
        (AcuCfg, "poll_idle_s"),
        (ClsCfg, "poll_idle_s"),
        (GtCfg, "poll_idle_s"),
        (RovCfg, "poll_idle_s"),
        (HouseCfg, "poll_s"),
    ]
    bounds = [
        meta.le
        for model, field in periods
        for meta in model.model_fields[field].metadata
        if getattr(meta, "le", None) is not None
    ]
    assert len(bounds) == 5
    assert STALE_AFTER_S >= 2 * max(bounds)


# ---- the Watchdog's messages ---------------------------------------------------------------


def _watchdog(
    counter: Counter, clock: ManualClock, interval_s: float | None = TICK_S
) -> tuple[Watchdog, Notes, list[str]]:
    notes, line = Notes(), ["reading the hardware, session 3, 6 systems"]
    wd = Watchdog(
        Liveness([counter.loop("acu poll loop")], clock),
        lambda: line[0],
        interval_s=interval_s,
        notify=notes,
    )
    return wd, notes, line


def test_start_up_is_extended_then_ready_then_pings() -> None:
    clock, poll = ManualClock(), Counter()
    wd, notes, line = _watchdog(poll, clock)
    wd.tick(ready=False)
    assert notes.sent == [
        ("EXTEND_TIMEOUT_USEC=15000000", "STATUS=reading the hardware, session 3, 6 systems")
    ]
    clock.advance(TICK_S)
    poll.step()
    wd.tick(ready=False)
    assert notes.sent[-1] == ("EXTEND_TIMEOUT_USEC=15000000",)  # STATUS only when it changes
    line[0] = "online, session 3, 6 systems"
    wd.tick(ready=True)
    assert notes.fields()[-2:] == ["READY=1", "STATUS=online, session 3, 6 systems"]
    for _ in range(3):
        clock.advance(TICK_S)
        poll.step()
        wd.tick(ready=True)
    assert notes.sent[-3:] == [("WATCHDOG=1",)] * 3
    assert "EXTEND_TIMEOUT_USEC" not in str(notes.sent[3:])


def test_no_pings_without_a_systemd_watchdog_but_ready_and_status() -> None:
    clock, poll = ManualClock(), Counter()
    wd, notes, line = _watchdog(poll, clock, interval_s=None)
    assert wd.tick_s > 0
    wd.tick(ready=True)
    poll.step()
    line[0] = "online, session 3, 6 systems; FAULT: cls1 (comm_loss)"
    wd.tick(ready=True)
    assert notes.fields() == [
        "READY=1",
        "STATUS=reading the hardware, session 3, 6 systems",
        "STATUS=online, session 3, 6 systems; FAULT: cls1 (comm_loss)",
    ]


def test_a_stuck_loop_stops_the_pings_names_itself_once_and_pings_resume_if_it_recovers() -> None:
    clock, poll = ManualClock(), Counter()
    wd, notes, _ = _watchdog(poll, clock)
    wd.tick(ready=True)
    with capture_logs() as logs:
        for _ in range(8):  # 40 s without a round
            clock.advance(TICK_S)
            wd.tick(ready=True)
    # pings while the silence is within 15 s, none after
    assert notes.pings() == 3
    stuck = [s for s in notes.statuses() if s.startswith("STUCK")]
    assert stuck[0] == "STUCK: acu poll loop (no progress for 20 s); no watchdog pings"
    stale_logs = [e for e in logs if e["event"] == "loop_stale"]
    assert len(stale_logs) == 1
    assert stale_logs[0]["loop"] == "acu poll loop"
    assert stale_logs[0]["log_level"] == "error"
    before = notes.pings()
    with capture_logs() as logs:
        poll.step()
        clock.advance(TICK_S)
        wd.tick(ready=True)
    assert notes.pings() == before + 1
    assert notes.statuses()[-1] == "reading the hardware, session 3, 6 systems"
    assert [e["event"] for e in logs] == ["loop_recovered"]


def test_ready_is_withheld_while_a_loop_is_stuck() -> None:
    clock, poll = ManualClock(), Counter()
    wd, notes, _ = _watchdog(poll, clock)
    clock.advance(STALE_AFTER_S + 1)
    wd.tick(ready=True)
    assert "READY=1" not in notes.fields()
    assert not any(f.startswith("EXTEND_TIMEOUT_USEC") for f in notes.fields())
    poll.step()
    clock.advance(1.0)
    wd.tick(ready=True)
    assert "READY=1" in notes.fields()


def test_run_with_stub_loops_pings_until_one_blocks() -> None:
    """The task as the daemon runs it (virtual time): two loops, one blocks after 30 s."""
    loop = VirtualTimeLoop()
    fast, slow = Counter(), Counter()
    notes = Notes()
    blocked = asyncio.Event()

    async def poller(counter: Counter, period_s: float, block_after_s: float | None) -> None:
        t0 = loop.time()
        while True:
            if block_after_s is not None and loop.time() - t0 >= block_after_s:
                blocked.set()
                await asyncio.Event().wait()  # stuck on something that never happens
            counter.step()
            await asyncio.sleep(period_s)

    async def main() -> float:
        ready = asyncio.Event()
        wd = Watchdog(
            Liveness([fast.loop("fast"), slow.loop("slow")], loop.time),
            lambda: "online",
            interval_s=TICK_S,
            notify=notes,
        )
        async with asyncio.TaskGroup() as tg:
            tasks = [
                tg.create_task(poller(fast, 0.02, None)),
                tg.create_task(poller(slow, 5.0, 30.0)),  # the config's slowest idle poll
                tg.create_task(wd.run(ready)),
            ]
            await asyncio.sleep(1.0)
            ready.set()
            await blocked.wait()
            blocked_at = loop.time()
            pings_then = notes.pings()
            await asyncio.sleep(60.0)
            for t in tasks:
                t.cancel()
        assert pings_then >= 5  # every 5 s while both ran
        return blocked_at

    try:
        loop.run(main())
    finally:
        loop.close()
    assert notes.fields()[:2] == ["EXTEND_TIMEOUT_USEC=15000000", "STATUS=online"]
    assert notes.fields()[2] == "READY=1"  # at once when ready, not at the next tick
    assert notes.statuses()[-1].startswith("STUCK: slow (no progress for ")
    # the last datagram with a ping precedes the STUCK status: no ping after it
    last_ping = max(i for i, d in enumerate(notes.sent) if "WATCHDOG=1" in d)
    first_stuck = min(i for i, d in enumerate(notes.sent) if any("STUCK" in f for f in d))
    assert last_ping < first_stuck
    assert len(notes.sent) - first_stuck >= 5  # it kept looking, without pinging


# ---- the status line -------------------------------------------------------------------------


def _edge(ready: bool, connected: bool, connects: int) -> Any:
    edge = SimpleNamespace(ready=asyncio.Event(), connected=asyncio.Event(), connects=connects)
    if ready:
        edge.ready.set()
    if connected:
        edge.connected.set()
    return edge


def test_status_lines() -> None:
    fault = SimpleNamespace(latched=SimpleNamespace(code="comm_loss"))
    ok = SimpleNamespace(latched=None)
    systems = cast(Any, {"acu": ok, "cls1": fault, "house": ok})
    broker = "10.3.1.5:8883"
    assert daemon_status(_edge(False, False, 0), systems, 4, broker) == (
        "reading the hardware, session 4, 3 systems; FAULT: cls1 (comm_loss)"
    )
    assert daemon_status(_edge(True, False, 0), {"acu": ok}, 4, broker) == (
        "waiting for the MQTT broker 10.3.1.5:8883, session 4, 1 systems"
    )
    assert daemon_status(_edge(True, True, 1), {"acu": ok}, 4, broker) == (
        "online, session 4, 1 systems"
    )
    assert daemon_status(_edge(True, False, 2), {"acu": ok}, 4, broker) == (
        "MQTT broker 10.3.1.5:8883 lost, reconnecting, session 4, 1 systems"
    )


# ---- the whole plant on fakes, in virtual time ---------------------------------------------


@contextlib.contextmanager
def _plant() -> Iterator[tuple[VirtualTimeLoop, Rig]]:
    loop = VirtualTimeLoop()
    rig = Rig(loop.time)
    rig.task = loop.create_task(rig.run())
    loop.run_for(0.5)  # every system has polled
    try:
        yield loop, rig
    finally:
        rig.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(rig.task)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def _watch(loop: VirtualTimeLoop, rig: Rig, for_s: float) -> list[list[str]]:
    """Check the plant's control loops every tick for `for_s`; the stale names per check."""
    live = Liveness(control_loops(rig.subsystems, rig.board), loop.time)
    seen: list[list[str]] = []
    for _ in range(int(for_s / TICK_S)):
        loop.run_for(TICK_S)
        seen.append([s.name for s in live.check()])
    return seen


def _silent_bus(loop: VirtualTimeLoop, devices: list[Any], per_call_s: float) -> None:
    """Every call to these devices waits out its deadlines (`per_call_s`), one call at a time
    as on one bus, then fails: a gateway that has gone silent."""
    bus = asyncio.Lock()

    def silent(name: str) -> Any:
        async def call(*args: Any, **kwargs: Any) -> Any:
            async with bus:
                await asyncio.sleep(per_call_s)
            raise CommError(f"{name}: no answer", device=name)

        return call

    for dev in devices:
        for method in ("read_status", "read", "halt", "stop", "move_to", "home", "reset_alarm"):
            if hasattr(dev, method):
                setattr(dev, method, silent(dev.name))


def test_a_silent_gateway_and_a_lost_io_module_are_not_stuck_loops() -> None:
    """comm_loss latches, the loops keep polling (slowly), the watchdog keeps pinging: no
    restart loop on a broken cable."""
    with _plant() as (loop, rig):
        acu_devices: list[Any] = [d for n, d in rig.drives.items() if n.startswith("acu/")]
        acu_devices += [c for n, c in rig.cells.items() if n.startswith("acu/")]
        assert len(acu_devices) >= 8
        _silent_bus(loop, acu_devices, per_call_s=0.6)  # 0.2 s x 3 attempts per request
        rig.inject(Fault("house/io", "lost"))
        polls_before = dict(rig.board.polls)
        stale = _watch(loop, rig, 120.0)
        assert rig.subsystems["acu"].latched is not None
        assert rig.subsystems["acu"].latched.code == "comm_loss"
        assert rig.subsystems["house"].latched is not None
        assert all(rig.board.polls[n] > polls_before[n] for n in rig.subsystems)
        assert stale == [[]] * len(stale)


def test_a_device_call_that_never_returns_is_a_stuck_loop() -> None:
    with _plant() as (loop, rig):

        async def hang(*args: Any, **kwargs: Any) -> Any:
            await asyncio.Event().wait()

        rig.drives["acu/A"].read_status = hang  # type: ignore[method-assign]
        stale = _watch(loop, rig, 40.0)
        first = next(i for i, names in enumerate(stale) if names)
        assert stale[first] == ["acu poll loop"]
        assert all(names == ["acu poll loop"] for names in stale[first:])
        # the other loops run on (only the stuck one is named)
        assert (first + 1) * TICK_S >= STALE_AFTER_S


# ---- the clean stop on the plant -------------------------------------------------------------


def test_stop_while_moving_halts_and_sees_every_drive_standing_then_announces_it() -> None:
    loop = VirtualTimeLoop()
    rig = Rig(loop.time)
    events: list[dict[str, Any]] = []
    rig.outbox.taps.append(
        lambda item: events.append(item.payload) if item.kind == "event" else None
    )
    tasks: list[asyncio.Task[Any]] = []
    parked_z_m: list[float] = []

    async def main() -> dict[str, bool]:
        for name, sub in rig.subsystems.items():
            tasks.append(asyncio.create_task(sub.run(), name=f"subsystem:{name}"))
        tasks.append(asyncio.create_task(rig.board.run(), name="interlocks"))
        consumer = asyncio.create_task(rig._consume())
        await asyncio.sleep(0.5)
        rig.send("acu", "home", {})
        await asyncio.sleep(3.0)
        parked_z_m.append(rig.subsystems["acu"].status_fields()["position"]["z_m"])
        rig.send("acu", "deploy", {"unit": "A", "z_m": 8.0})  # ~3 s of travel here
        async with asyncio.timeout(30.0):
            while not rig.drives["acu/A"].moving:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.5)
        assert rig.drives["acu/A"].moving
        standing = await stop_plant(tasks, rig.subsystems, rig.outbox)
        await asyncio.sleep(0.1)
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer
        return standing

    try:
        standing = loop.run(main())
        assert all(t.done() for t in tasks)
        assert standing == dict.fromkeys(["acu", "cls1", "cls2", "gt", "rov"], True)
        for name, drive in rig.drives.items():
            assert not drive.moving, name
        assert ("halt", ()) in rig.drives["acu/A"].commands[-3:]
        (shutdown,) = [e for e in events if e["event"] == "shutdown"]
        assert shutdown["standing"] == ["acu", "cls1", "cls2", "gt", "rov"]
        assert shutdown["not_standing"] == []
        # stopped short of its target: the halt, not the end of the move, stopped it
        z_m = rig.subsystems["acu"].status_fields()["position"]["z_m"]
        assert 8.5 < z_m < parked_z_m[0] - 0.5
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def test_the_stop_reports_a_drive_it_cannot_see_standing() -> None:
    loop = VirtualTimeLoop()
    rig = Rig(loop.time)
    outbox_items: list[Outgoing] = []
    rig.outbox.taps.append(outbox_items.append)

    async def main() -> dict[str, bool]:
        tasks = [asyncio.create_task(sub.run()) for sub in rig.subsystems.values()]
        await asyncio.sleep(0.5)
        drive = rig.drives["acu/B"]
        real = drive.read_status

        async def runaway() -> DriveStatus:  # a drive that ignores every halt
            return DriveStatus(**{**(await real()).__dict__, "moving": True})

        drive.read_status = runaway  # type: ignore[method-assign]
        return await stop_plant(tasks, rig.subsystems, rig.outbox)

    try:
        standing = loop.run(main())
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    assert standing["acu"] is False
    (doc,) = [i.payload for i in outbox_items if i.payload.get("event") == "shutdown"]
    assert doc["not_standing"] == ["acu"]
