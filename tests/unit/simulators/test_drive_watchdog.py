"""The drive's communication watchdog (docs/hardware.md §1): a run that hears no request for
`COMM_TIMEOUT` quick-stops as HALT, sets STATUS bit 8 until the next run and reports the stop
(a `stopped` event even for a silent drive); a drive fed in time, a standing drive and a drive
with the watchdog off run on."""

from __future__ import annotations

from simulators.clock import ManualClock
from simulators.faults import SPOOL_FAULTS, FaultBoard
from simulators.modbus_front import int32_words
from simulators.stepper import Drive
from simulators.stepper_map import (
    ALARM,
    COMM_TIMEOUT,
    COMM_TIMEOUT_REG,
    COMMAND_REG,
    HOME,
    HOMED,
    IN_POSITION,
    MOVING,
    START,
    WATCHDOG,
)

from .test_stepper import move, regs, spool_drive

ONE_S = 100  # COMM_TIMEOUT in 10 ms steps


def homed_drive(clock: ManualClock) -> tuple[Drive, list[str]]:
    """A drive homed on its switch at t = 0, its commands recorded."""
    drive, _ = spool_drive(clock, 0.0)
    drive.command(HOME, clock.now_s())
    commands: list[str] = []
    drive.on_command = commands.append
    return drive, commands


def watched_move(drive: Drive, clock: ManualClock, target: int) -> None:
    """The daemon's move request (registers 0-7, 600 counts/s and /s²), as a request heard."""
    drive.heard(clock.now_s())
    words = [*int32_words(target), 0, 600, 0, 600, START, ONE_S]
    drive.write_holding(0, words, clock.now_s())


def test_a_run_fed_in_time_reaches_its_target() -> None:
    clock = ManualClock()
    drive, commands = homed_drive(clock)
    watched_move(drive, clock, 6000)  # 11 s at 600 counts/s
    for _ in range(30):  # a poll every 0.5 s
        clock.advance(0.5)
        drive.heard(clock.now_s())
    r = regs(drive, clock)
    assert r["enc"] == 6000 and r["status"] & IN_POSITION
    assert not r["status"] & COMM_TIMEOUT
    assert WATCHDOG not in commands


def test_a_silent_gap_in_a_run_quick_stops_it_at_the_timeout() -> None:
    clock = ManualClock()
    drive, commands = homed_drive(clock)
    watched_move(drive, clock, 6000)
    clock.advance(0.5)
    drive.heard(clock.now_s())  # the last request: the deadline is t = 1.5 s
    clock.advance(3.0)
    r = regs(drive, clock)
    # stopped where the motor was at 1.5 s: 300 counts of ramp (1 s) + 0.5 s at 600 counts/s
    assert (r["cmd"], r["enc"], r["vel"]) == (600, 600, 0)
    assert r["status"] & COMM_TIMEOUT and r["status"] & HOMED
    assert not r["status"] & (MOVING | ALARM | IN_POSITION)  # no alarm: it just stands
    assert commands.count(WATCHDOG) == 1
    clock.advance(10.0)
    assert regs(drive, clock)["cmd"] == 600 and commands.count(WATCHDOG) == 1

    watched_move(drive, clock, 0)  # once it hears again, a new START runs and clears the bit
    r = regs(drive, clock)
    assert r["status"] & MOVING and not r["status"] & COMM_TIMEOUT


def test_a_standing_drive_and_a_drive_without_watchdog_run_on() -> None:
    clock = ManualClock()
    drive, commands = homed_drive(clock)
    watched_move(drive, clock, 300)  # 1.5 s
    for _ in range(4):
        clock.advance(0.5)
        drive.heard(clock.now_s())
    clock.advance(100.0)  # silent, but standing
    r = regs(drive, clock)
    assert r["cmd"] == 300 and r["status"] & IN_POSITION and not r["status"] & COMM_TIMEOUT

    drive.write_holding(COMM_TIMEOUT_REG, [0], clock.now_s())  # watchdog off
    move(drive, clock, 6000)
    clock.advance(30.0)  # nothing heard all the way
    r = regs(drive, clock)
    assert r["enc"] == 6000 and not r["status"] & COMM_TIMEOUT
    assert WATCHDOG not in commands


def test_a_home_run_is_watched_too() -> None:
    clock = ManualClock()
    drive, _ = spool_drive(clock, 0.05)  # off the parked switch
    drive.heard(clock.now_s())
    drive.write_holding(2, [0, 300, 0, 3000], clock.now_s())
    drive.write_holding(COMMAND_REG, [HOME, ONE_S], clock.now_s())
    clock.advance(5.0)
    r = regs(drive, clock)
    assert r["status"] & COMM_TIMEOUT and not r["status"] & (MOVING | HOMED)


def test_the_watchdog_stop_is_the_stopped_event_of_a_silent_drive() -> None:
    board = FaultBoard({"acu": {"A": SPOOL_FAULTS}})
    board.inject("acu", "comm_loss", "A", wall_s=10.0)
    assert board.on_command("acu", "A", "HALT", 10.1) == []  # a silent drive hears no halt
    (event,) = board.on_command("acu", "A", WATCHDOG, 11.0)
    assert (event["fault"], event["command"], event["reaction_ms"]) == (
        "comm_loss",
        WATCHDOG,
        1000.0,
    )
    assert board.on_command("acu", "A", WATCHDOG, 12.0) == []  # once per injection
