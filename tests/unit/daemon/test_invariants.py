"""Proven invariants (issue 4): a hypothesis state machine drives every system, the house, the
dispatcher and the interlock board on fakes (`plant/`) in virtual time (`tests.vtime`)
through random operator commands, global e-stops and resets, injected and cleared faults,
and waits. After every step, judged from the fakes' true state (`plant.monitor.Monitor`):

1. never more of acu/cls1/cls2/rov in the detector at once (a spool or winch off its parked
   switch) than `[interlocks] max_in_chimney` (1: they share the chimney);
2. no drive moves (no thrust) once one poll period has passed after a global `estop`, or
   after a reading of the house e-stop input shows it open (plus one board period), until a
   global `reset` is accepted with the circuit read closed; a device that did not answer
   gets the same time from when it answers again;
3. the turntable never turns while an ACU spool is off its parked switch;
4. every command gets exactly one immediate reply, every accepted one exactly one final reply
   (checked at the end after running time forward until all have settled);
5. no drum reaches its limit switches (over-wind, end of cable, end of travel);
6. no more sources out at once than `[interlocks] max_sources_in_detector` (GT included).

A failure prints the shrunk program of steps (`state.command_acu(...)`, `state.inject(...)`).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from drivers.fake import ManualClock
from drivers.stepper import AlarmCode
from tests.unit.daemon.plant.config import Fault, configs, fault_catalog
from tests.unit.daemon.plant.fakes import PlantDrive
from tests.unit.daemon.plant.rig import Rig
from tests.vtime import VirtualTimeLoop

MIN_STEPS = 10_000
# fewer, longer runs (less set-up per step). Hypothesis ends some examples early, and how early
# varies with the machine (10,696 steps alone, 9,757 in one full run with 62 examples); 68 leave
# a margin (72 gave 12,553 steps alone; 68 about 11,800)
EXAMPLES, STEPS_PER_EXAMPLE = 68, 200
SETTLE_MAX_S = 600.0  # virtual time allowed at the end for the last commands to finish


@dataclass(frozen=True)
class Cmd:
    """An operator command (`system` None: the global topic)."""

    system: str | None
    action: str
    args: dict[str, Any]


def _r(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi).map(lambda v: round(v, 3))


def _inside_or_not(
    inside: st.SearchStrategy[Any], anywhere: st.SearchStrategy[Any]
) -> st.SearchStrategy[Any]:
    """Mostly valid targets, sometimes anything (refused `out_of_range`, nothing moves)."""
    return st.one_of(inside, inside, inside, anywhere)


def _cls_point(sign: float) -> st.SearchStrategy[dict[str, float]]:
    inside = st.tuples(_r(1.0, 9.0), _r(-11.0, 11.0)).map(lambda p: (sign * p[0], p[1]))
    anywhere = st.tuples(_r(-18.0, 18.0), _r(-18.0, 18.0))
    return _inside_or_not(inside, anywhere).map(lambda p: {"x_m": p[0], "z_m": p[1]})


def _rov_point() -> st.SearchStrategy[dict[str, float]]:
    inside = st.tuples(_r(-9.0, 9.0), _r(-9.0, 9.0), _r(-12.0, 14.0))
    anywhere = st.tuples(_r(-18.0, 18.0), _r(-18.0, 18.0), _r(-18.0, 24.0))
    return _inside_or_not(inside, anywhere).map(lambda p: {"x_m": p[0], "y_m": p[1], "z_m": p[2]})


UNITS = [u.name for u in configs().daemon.acu.units]
_Z = _inside_or_not(_r(-17.4, 17.4), _r(-20.0, 20.0))
_THETA = _inside_or_not(_r(3.0, 177.0), _r(0.0, 180.0)).map(lambda t: {"theta_deg": t})
ARGS: dict[tuple[str, str], st.SearchStrategy[dict[str, Any]]] = {
    ("acu", "select"): st.sampled_from([*UNITS, "Z"]).map(lambda u: {"unit": u}),
    ("acu", "deploy"): st.fixed_dictionaries({"unit": st.sampled_from(UNITS), "z_m": _Z}),
    ("acu", "move"): st.fixed_dictionaries({"z_m": _Z}),
    ("cls1", "deploy"): _cls_point(1.0),
    ("cls1", "move"): _cls_point(1.0),
    ("cls2", "deploy"): _cls_point(-1.0),
    ("cls2", "move"): _cls_point(-1.0),
    ("gt", "deploy"): _THETA,
    ("gt", "move"): _THETA,
    ("rov", "deploy"): _rov_point(),
    ("rov", "move"): _rov_point(),
}
_MOTIONS = ["deploy"] * 4 + ["retract"] * 3 + ["move"] * 2 + ["home"] * 2
_COMMON = ["reset", "reset", "stop", "status"]
ACTIONS: dict[str | None, list[str]] = {
    "acu": [*_MOTIONS, "select", *_COMMON],
    **dict.fromkeys(("cls1", "cls2", "gt", "rov"), _MOTIONS + _COMMON),
    "house": ["status", "home", "stop", "reset"],
    None: ["reset", "estop"],
}


@st.composite
def commands(draw: st.DrawFn, systems: list[str | None]) -> Cmd:
    system = draw(st.sampled_from(systems))
    action = draw(st.sampled_from(ACTIONS[system]))
    args = draw(ARGS.get((system or "", action), st.just({})))
    return Cmd(system, action, args)


# how long to let everything run after a step: often nothing, mostly short, sometimes long
WAITS = st.one_of(st.just(0.001), _r(0.001, 0.1), _r(0.1, 0.8))


class PlantMachine(RuleBasedStateMachine):
    steps = 0  # every step of every example, for the budget assertion
    faults = Bundle("faults")

    def __init__(self) -> None:
        super().__init__()
        self.loop = VirtualTimeLoop()
        self.rig = Rig(self.loop.time)
        self.rig.task = self.loop.create_task(self.rig.run())
        self.loop.run_for(0.25)  # the house reads its IO module, every system polls once

    @initialize()
    def home_everything(self) -> None:
        for system in ("house", "acu", "cls1", "cls2", "gt", "rov"):
            self.rig.send(system, "home", {})
        self._run(1.5)

    def _run(self, wait_s: float) -> None:
        self.loop.run_for(max(wait_s, 0.001))
        type(self).steps += 1

    def _send(self, cmd: Cmd, wait_s: float) -> None:
        self.rig.send(cmd.system, cmd.action, cmd.args)
        self._run(wait_s)

    # one rule per group of systems: swarm testing then leaves some groups out of an example
    @rule(cmd=commands(["acu"]), wait_s=WAITS)
    def command_acu(self, cmd: Cmd, wait_s: float) -> None:
        self._send(cmd, wait_s)

    @rule(cmd=commands(["cls1", "cls2"]), wait_s=WAITS)
    def command_cls(self, cmd: Cmd, wait_s: float) -> None:
        self._send(cmd, wait_s)

    @rule(cmd=commands(["gt"]), wait_s=WAITS)
    def command_gt(self, cmd: Cmd, wait_s: float) -> None:
        self._send(cmd, wait_s)

    @rule(cmd=commands(["rov"]), wait_s=WAITS)
    def command_rov(self, cmd: Cmd, wait_s: float) -> None:
        self._send(cmd, wait_s)

    @rule(cmd=commands(["house", "house", "house", None]), wait_s=WAITS)
    def command_house_or_global(self, cmd: Cmd, wait_s: float) -> None:
        self._send(cmd, wait_s)

    @rule(target=faults, fault=st.sampled_from(fault_catalog()), wait_s=WAITS)
    def inject(self, fault: Fault, wait_s: float) -> Fault:
        self.rig.inject(fault)
        self._run(wait_s)
        return fault

    @rule(fault=consumes(faults), wait_s=WAITS)
    def clear(self, fault: Fault, wait_s: float) -> None:
        self.rig.clear(fault)
        self._run(wait_s)

    clear_again = clear  # faults are cleared twice as often as injected: most are short-lived

    @rule(wait_s=_r(0.05, 1.5))
    def wait(self, wait_s: float) -> None:
        self._run(wait_s)

    @invariant()
    def safe(self) -> None:
        violations = self.rig.observe()
        assert not violations, "\n".join(violations)

    def teardown(self) -> None:
        try:
            if sys.exc_info()[0] is None:  # the run itself passed: settle, then judge
                self._settle()
        finally:
            self._close()

    def _settle(self) -> None:
        t_end = self.loop.time() + SETTLE_MAX_S
        while self.rig.pending() and self.loop.time() < t_end:
            self.loop.run_for(1.0)
        violations = self.rig.observe()
        pending = self.rig.pending()
        assert not pending, f"[4 replies] no final reply after {SETTLE_MAX_S:.0f} s: {pending}"
        assert not violations, "\n".join(violations)

    def _close(self) -> None:
        task = self.rig.task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                self.loop.run_until_complete(task)
        elif task is not None and not task.cancelled():
            task.exception()  # a crash: `observe` has reported it
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()


# ~1 min when the invariants hold; a failure is then shrunk for up to 5 min (hypothesis's cap)
@pytest.mark.timeout(480)
def test_invariants_hold_under_random_operation() -> None:
    PlantMachine.steps = 0
    run_state_machine_as_test(
        PlantMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS_PER_EXAMPLE,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )
    print(f"{PlantMachine.steps} steps")
    assert PlantMachine.steps >= MIN_STEPS, f"only {PlantMachine.steps} steps ran"


# ---- counterexamples the machine found (replayed step by step, each checked like a run) ----


@contextlib.contextmanager
def _replay() -> Iterator[PlantMachine]:
    state = PlantMachine()
    try:
        state.home_everything()
        state.safe()
        yield state
    finally:
        state.teardown()


def test_found_a_drive_unreachable_at_the_estop_is_stopped_when_it_answers() -> None:
    """ACU deploying, drive A stops answering, e-stop: A's halt fails; A answers again while
    still running its move and must then be stopped (the system is latched in FAULT)."""
    with _replay() as state:
        state.command_acu(Cmd("acu", "deploy", {"unit": "A", "z_m": 0.0}), 0.001)
        state.safe()
        state.wait(1.0)
        state.safe()
        lost = state.inject(Fault("acu/A", "lost"), 0.001)
        state.safe()
        state.command_house_or_global(Cmd(None, "estop", {}), 0.001)
        state.safe()
        state.clear(lost, 0.001)
        state.safe()
        state.wait(1.0)
        state.safe()


def test_found_the_estop_input_latches_until_the_global_reset() -> None:
    """The house e-stop circuit opens (seen by the house) and closes again: a per-system
    `reset` must not let that system move before the global `reset`."""
    with _replay() as state:
        button = state.inject(Fault("house/io", "estop"), 0.5)
        state.safe()
        state.clear(button, 0.5)
        state.safe()
        state.command_gt(Cmd("gt", "reset", {}), 1.5)
        state.safe()
        state.command_gt(Cmd("gt", "deploy", {"theta_deg": 90.0}), 1.0)
        state.safe()


# ---- the judge itself: the monitor flags what the daemon must prevent ------------------------


def _rig() -> tuple[Rig, ManualClock, VirtualTimeLoop]:
    clock = ManualClock(100.0)
    return Rig(clock), clock, VirtualTimeLoop()  # the loop only runs the fakes' coroutines


def _move(loop: VirtualTimeLoop, drive: PlantDrive, rev: float, clock: ManualClock) -> None:
    loop.run(drive.move_to(rev, 10.0, 100.0))
    clock.advance(abs(rev - drive.position_rev) / 10.0 + 0.01)
    drive.advance(0.0)


def test_monitor_flags_systems_out_together_and_the_turntable() -> None:
    rig, clock, loop = _rig()
    try:
        _move(loop, rig.drives["acu/A"], 2.0, clock)
        assert rig.monitor.out("acu") and rig.observe() == []  # one source out is allowed
        _move(loop, rig.drives["acu/turntable"], 0.25, clock)
        _move(loop, rig.drives["rov/winch"], 1.0, clock)
        found = "\n".join(rig.observe())
        for label in ("[3 turntable]", "[1 chimney]", "[6 sources]"):
            assert label in found
        assert "['acu', 'rov']" in found
    finally:
        loop.close()


def test_monitor_flags_motion_after_the_estop_but_not_of_an_unreachable_drive() -> None:
    rig, clock, loop = _rig()
    try:
        a, b = rig.drives["acu/A"], rig.drives["acu/B"]  # one system: one source
        loop.run(b.move_to(1.0, 1.0, 10.0))
        b.lost = True  # moving, and the daemon cannot reach it to stop it
        rig.monitor.latch(0.1)
        loop.run(a.move_to(1.0, 1.0, 10.0))
        clock.advance(0.05)
        rig.monitor.catch_up()
        assert rig.monitor.violations == []  # within the grace period
        clock.advance(0.1)
        rig.monitor.catch_up()
        assert [v.split(": ", 1)[1][:21] for v in rig.monitor.violations] == [
            "[2 e-stop] acu/A move"
        ]
        b.lost = False  # answers again: the daemon gets one grace period to halt it
        clock.advance(0.05)
        rig.monitor.catch_up()
        assert len(rig.monitor.violations) == 1
        clock.advance(0.1)
        rig.monitor.catch_up()
        assert "[2 e-stop] acu/B moves" in rig.monitor.violations[-1]
    finally:
        loop.close()


def test_limit_switch_stops_the_drive_and_is_flagged() -> None:
    rig, clock, loop = _rig()
    try:
        drive = rig.drives["cls1/side"]
        assert drive.limit_revs is not None
        _move(loop, drive, drive.limit_revs[1] + 5.0, clock)
        assert drive.drum_rev == drive.limit_revs[1] and drive.alarm_code == AlarmCode.LIMIT_SWITCH
        assert any("[5 hard limit] cls1/side" in v for v in rig.observe())
    finally:
        loop.close()


def test_stall_slip_and_homing_on_the_true_drum() -> None:
    rig, clock, loop = _rig()
    try:
        drive = rig.drives["gt/bottom"]
        drive.stalled = True
        _move(loop, drive, 2.0, clock)
        assert (drive.position_rev, drive.drum_rev, drive.enc_rev) == (2.0, 0.0, 0.0)
        drive.stalled, drive.slipping = False, True
        _move(loop, drive, 3.0, clock)
        assert (drive.position_rev, drive.drum_rev, drive.enc_rev) == (3.0, 1.0, 0.0)
        drive.slipping = False
        loop.run(drive.home(10.0))
        clock.advance(1.0)
        drive.advance(0.0)
        assert drive.homed and drive.on_switch() and drive.drum_rev == 0.0
        assert (drive.position_rev, drive.enc_rev) == (0.0, 0.0)
    finally:
        loop.close()


def test_replies_other_than_one_immediate_and_one_final_are_flagged() -> None:
    rig, _, loop = _rig()
    try:
        for cmd_id, results in {
            "a": ["accepted", "completed", "failed"],
            "b": ["completed"],
        }.items():
            rig.replies[cmd_id], rig.sent[cmd_id] = [], f"acu.{cmd_id}"
            for result in results:
                rig._on_reply({"id": cmd_id, "result": result})
        rig.replies["c"], rig.sent["c"] = ["accepted"], "gt.home"
        found = rig.observe()
        assert [v.split(": ", 1)[1] for v in found] == [
            "[4 replies] a acu.a: second final reply failed (before: ['accepted', 'completed'])",
            "[4 replies] b acu.b: first reply is completed (before: [])",
        ]
        assert rig.pending() == ["c gt.home"]
    finally:
        loop.close()


def test_found_a_retract_of_a_parked_cls_does_not_move_it_while_the_other_one_deploys() -> None:
    """cls1's deploy stopped before it left its switches, cls2 deploying: cls1's retract must not
    re-reference its side spool (off its flag with the valve open: in the detector)."""
    with _replay() as state:
        state.command_cls(Cmd("cls1", "deploy", {"x_m": 1.0, "z_m": 0.0}), 0.001)
        state.safe()
        state.command_cls(Cmd("cls1", "stop", {}), 0.001)
        state.safe()
        state.command_cls(Cmd("cls1", "move", {"x_m": 1.0, "z_m": 0.0}), 0.001)
        state.safe()
        state.command_cls(Cmd("cls2", "deploy", {"x_m": -1.0, "z_m": 0.0}), 0.5)
        state.safe()
        state.command_cls(Cmd("cls1", "retract", {}), 0.001)
        state.safe()
