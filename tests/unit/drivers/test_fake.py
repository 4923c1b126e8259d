"""The in-memory fakes behave like the devices they stand in for."""

from __future__ import annotations

import pytest

from drivers.base import Drive, ForceSensor, IoDevice
from drivers.errors import CommError
from drivers.fake import ManualClock
from drivers.fake_drive import FakeDrive
from drivers.fake_io import FakeIo
from drivers.fake_sensors import FakeForceSensor
from drivers.load_cell import LoadStatus


def test_fakes_satisfy_the_protocols() -> None:
    drive: Drive = FakeDrive()
    sensor: ForceSensor = FakeForceSensor()
    io: IoDevice = FakeIo()
    assert (drive.name, sensor.name, io.name) == ("drive", "load cell", "io")


async def test_drive_moves_at_speed_on_the_clock() -> None:
    clock = ManualClock()
    drive = FakeDrive("spool A", clock=clock)
    await drive.move_to(10.0, speed_rev_s=2.0, accel_rev_s2=1.0)
    clock.advance(2.0)
    status = await drive.read_status()
    assert status.moving
    assert not status.in_position
    assert status.commanded_rev == pytest.approx(4.0)
    assert status.velocity_rev_s == 2.0
    clock.advance(10.0)
    status = await drive.read_status()
    assert not status.moving
    assert status.in_position
    assert status.encoder_rev == 10.0
    assert drive.commands == [("move_to", (10.0, 2.0, 1.0))]


async def test_drive_explicit_advance_and_retarget() -> None:
    drive = FakeDrive(clock=ManualClock())
    await drive.move_to(-1.0, 1.0, 1.0)
    drive.advance(0.5)
    assert (await drive.read_status()).velocity_rev_s == -1.0
    await drive.move_to(1.0, 1.0, 1.0)
    drive.advance(1.0)
    assert (await drive.read_status()).commanded_rev == pytest.approx(0.5)


async def test_stop_and_halt_stand_still() -> None:
    drive = FakeDrive(clock=ManualClock())
    await drive.move_to(5.0, 1.0, 1.0)
    drive.advance(1.0)
    await drive.stop()
    drive.advance(1.0)
    status = await drive.read_status()
    assert not status.moving
    assert status.commanded_rev == 1.0
    assert status.in_position
    await drive.move_to(5.0, 1.0, 1.0)
    await drive.halt()
    assert [name for name, _ in drive.commands] == ["move_to", "stop", "move_to", "halt"]


async def test_home_runs_negative_to_the_switch_and_zeroes() -> None:
    drive = FakeDrive(position_rev=3.0, home_at_rev=1.0, clock=ManualClock())
    assert not (await drive.read_status()).home_switch
    await drive.home(speed_rev_s=1.0)
    drive.advance(1.0)
    status = await drive.read_status()
    assert status.moving
    assert status.velocity_rev_s == -1.0
    assert not status.homed
    drive.advance(1.5)
    status = await drive.read_status()
    assert status.homed
    assert status.home_switch
    assert not status.moving
    assert status.commanded_rev == 0.0


async def test_limit_switch_refuses_and_stops_moves() -> None:
    drive = FakeDrive(clock=ManualClock())
    drive.limit_pos = True
    await drive.move_to(1.0, 1.0, 1.0)
    status = await drive.read_status()
    assert status.alarm
    assert status.alarm_code == 4
    assert not status.moving
    await drive.reset_alarm()
    await drive.move_to(-1.0, 1.0, 1.0)  # away from the active switch: fine
    drive.advance(0.5)
    drive.limit_neg = True
    drive.advance(0.1)
    status = await drive.read_status()
    assert status.alarm_code == 4
    assert not status.moving
    assert status.limit_neg


async def test_alarm_blocks_start_until_reset() -> None:
    drive = FakeDrive(clock=ManualClock())
    await drive.move_to(1.0, 1.0, 1.0)
    drive.trip(2)
    assert not (await drive.read_status()).moving
    await drive.move_to(2.0, 1.0, 1.0)
    assert not (await drive.read_status()).moving
    drive.alarm_latched = True
    await drive.reset_alarm()
    assert (await drive.read_status()).alarm_code == 2
    drive.alarm_latched = False
    await drive.reset_alarm()
    await drive.move_to(2.0, 1.0, 1.0)
    assert (await drive.read_status()).moving


async def test_drive_fault_switches() -> None:
    drive = FakeDrive(clock=ManualClock())
    drive.fail_next = 1
    with pytest.raises(CommError):
        await drive.halt()
    await drive.halt()
    drive.lost = True
    with pytest.raises(CommError) as info:
        await drive.read_status()
    assert info.value.device == "drive"
    assert drive.commands == [("halt", ())]


async def test_force_sensor() -> None:
    sensor = FakeForceSensor("cable A", tension_n=1.7)
    assert (await sensor.read()).tension_n == 1.7
    sensor.status = LoadStatus.OVERLOAD
    sensor.tension_fn = lambda: 3.0
    reading = await sensor.read()
    assert (reading.tension_n, reading.status) == (3.0, LoadStatus.OVERLOAD)
    sensor.lost = True
    with pytest.raises(CommError):
        await sensor.read()
    assert sensor.reads == 2


async def test_io_valve_travel_and_switches() -> None:
    clock = ManualClock()
    io = FakeIo(valve_travel_s=3.0, clock=clock)
    snapshot = await io.read()
    assert snapshot.valve_closed == (True,) * 8
    assert snapshot.valve_opened == (False,) * 8
    await io.set_valve(0, True)
    clock.advance(1.0)
    snapshot = await io.read()
    assert not snapshot.valve_opened[0]
    assert not snapshot.valve_closed[0]
    clock.advance(2.0)
    snapshot = await io.read()
    assert snapshot.valve_opened[0]
    assert not snapshot.valve_closed[0]
    assert io.valve_calls == [(0, True)]


async def test_io_instant_valves_stuck_valves_and_faults() -> None:
    io = FakeIo(clock=ManualClock())
    await io.set_valve(1, True)
    assert io.valve_open(1) is True
    io.stuck_valves.add(2)
    await io.set_valve(2, True)
    assert io.valve_open(2) is False
    io.estop_ok = False
    io.o2_ppm = 20.0
    snapshot = await io.read()
    assert not snapshot.estop_ok
    assert snapshot.o2_ppm == 20.0
    with pytest.raises(ValueError, match="channel"):
        await io.set_valve(8, True)
    io.fail_next = 1
    with pytest.raises(CommError):
        await io.set_valve(1, False)
    assert io.valve_calls == [(1, True), (2, True)]
