"""Pure codecs against every golden frame of docs/hardware.md."""

from __future__ import annotations

import pytest

from drivers.errors import ProtocolError
from drivers.io_module import decode_inputs
from drivers.load_cell import (
    LoadReading,
    LoadStatus,
    checksum,
    decode_identity,
    decode_reading,
    encode_request,
)
from drivers.stepper import Command, DriveStatus, decode_status, encode_move

# --- stepper (section 1) ------------------------------------------------------------------


def test_decode_status_golden_device_2() -> None:
    status = decode_status([193, 0, 1, 57920, 1, 57914, 0, 390, 0], counts_per_rev=1.0)
    assert status == DriveStatus(
        moving=True,
        in_position=False,
        alarm=False,
        home_switch=False,
        limit_pos=False,
        limit_neg=False,
        homed=True,
        enabled=True,
        alarm_code=0,
        commanded_rev=123456.0,
        encoder_rev=123450.0,
        velocity_rev_s=390.0,
        inputs=0,
    )


def test_decode_status_golden_turntable_negative_positions() -> None:
    status = decode_status(
        [201, 0, 65535, 65531, 65535, 65529, 65535, 65146, 1], counts_per_rev=4096 * 50.0
    )
    assert (status.moving, status.home_switch, status.homed, status.enabled) == (True,) * 4
    assert not (status.alarm)
    assert not (status.in_position)
    assert not (status.limit_pos)
    assert not (status.limit_neg)
    assert status.commanded_rev * 4096 * 50 == pytest.approx(-5)
    assert status.encoder_rev * 4096 * 50 == pytest.approx(-7)
    assert status.velocity_rev_s * 4096 * 50 == pytest.approx(-390)
    assert status.input(1)
    assert not any(status.input(n) for n in range(2, 17))


def test_decode_status_every_bit() -> None:
    names = [
        "moving",
        "in_position",
        "alarm",
        "home_switch",
        "limit_pos",
        "limit_neg",
        "homed",
        "enabled",
    ]
    for bit, name in enumerate(names):
        status = decode_status([1 << bit, 0, 0, 0, 0, 0, 0, 0, 0], 1.0)
        assert [getattr(status, n) for n in names] == [n == name for n in names]


def test_decode_status_alarm_code_and_inputs() -> None:
    status = decode_status([4, 4, 0, 0, 0, 0, 0, 0, 0x8005], 1.0)
    assert status.alarm
    assert status.alarm_code == 4
    assert [n for n in range(1, 17) if status.input(n)] == [1, 3, 16]
    with pytest.raises(ValueError, match="DI"):
        status.input(17)


@pytest.mark.parametrize("regs", [[0] * 8, [0] * 10, [0, 0, 0, 0, 0, 0, 0, 0, 70000]])
def test_decode_status_rejects_bad_blocks(regs: list[int]) -> None:
    with pytest.raises(ProtocolError):
        decode_status(regs, 1.0)


def test_encode_move_golden() -> None:
    assert encode_move(500000, 390, 650) == [7, 41248, 0, 390, 0, 650, 1]
    assert int(Command.START) == 1
    assert int(Command.HALT) == 3


def test_encode_move_negative_target_is_twos_complement() -> None:
    assert encode_move(-5, 1, 1) == [65535, 65531, 0, 1, 0, 1, 1]


@pytest.mark.parametrize(("target", "speed", "accel"), [(2**31, 1, 1), (0, 0, 1), (0, 1, 2**32)])
def test_encode_move_rejects_out_of_range(target: int, speed: int, accel: int) -> None:
    with pytest.raises(ValueError, match="counts"):
        encode_move(target, speed, accel)


# --- load cell (section 2) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "command", "request_bytes"),
    [(1, "W", b"@01W\r"), (3, "W", b"@03W\r"), (2, "I", b"@02I\r"), (4, "X", b"@04X\r")],
)
def test_encode_request_golden(address: int, command: str, request_bytes: bytes) -> None:
    assert encode_request(address, command) == request_bytes


@pytest.mark.parametrize(("address", "command"), [(0, "W"), (33, "W"), (1, "w"), (1, "WW")])
def test_encode_request_rejects(address: int, command: str) -> None:
    with pytest.raises(ValueError, match=r"address|command"):
        encode_request(address, command)


@pytest.mark.parametrize(
    ("line", "address", "reading"),
    [
        (b"@01 ST +0001.7340 N*6C\r\n", 1, LoadReading(1.734, LoadStatus.STABLE)),
        (b"@01 US +0002.0515 N*6F\r\n", 1, LoadReading(2.0515, LoadStatus.UNSTABLE)),
        (b"@03 OL +0200.0000 N*69\r\n", 3, LoadReading(200.0, LoadStatus.OVERLOAD)),
        (b"@01 ER +0000.0000 N*7D\r\n", 1, LoadReading(0.0, LoadStatus.ERROR)),
    ],
)
def test_decode_reading_golden(line: bytes, address: int, reading: LoadReading) -> None:
    assert decode_reading(line, address) == reading


def test_decode_identity_golden() -> None:
    assert decode_identity(b"@02 ID LC-200N 200.0*5D\r\n", 2) == "LC-200N 200.0"


def test_unknown_command_answer_golden_is_protocol_error() -> None:
    with pytest.raises(ProtocolError, match=r"\?\?"):
        decode_reading(b"@04 ?? *04\r\n", 4)


def test_checksum_golden() -> None:
    assert checksum(b"01 ST +0001.7340 N") == 0x6C
    assert checksum(b"04 ?? ") == 0x04


def test_negative_force() -> None:
    payload = b"01 ST -0000.5000 N"
    line = b"@" + payload + b"*%02X\r\n" % checksum(payload)
    assert decode_reading(line, 1) == LoadReading(-0.5, LoadStatus.STABLE)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"@01 ST +0001.7340 N*6D\r\n", "checksum"),
        (b"@02 ST +0001.7340 N*6F\r\n", "address"),
        (b"@01 ST +0001.7340 N*6c\r\n", "malformed"),
        (b"@01 ST +0001.7340 N*6C", "malformed"),
        (b"01 ST +0001.7340 N*6C\r\n", "malformed"),
        (b"@01 ST +1.7340 N*" + b"%02X" % checksum(b"01 ST +1.7340 N") + b"\r\n", "malformed"),
        (b"@02 ID LC-200N 200.0*5D\r\n", "address"),
        (b"", "malformed"),
    ],
)
def test_decode_reading_rejects(line: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message) as info:
        decode_reading(line, 1, device="cable A")
    assert info.value.device == "cable A"


def test_id_answer_is_not_a_reading() -> None:
    with pytest.raises(ProtocolError, match="force"):
        decode_reading(b"@02 ID LC-200N 200.0*5D\r\n", 2)


# --- IO module (section 3) ----------------------------------------------------------------


def _bits_from_bytes(data: bytes, count: int) -> list[bool]:
    return [bool(data[i // 8] >> (i % 8) & 1) for i in range(count)]


def test_decode_inputs_golden() -> None:
    bits = _bits_from_bytes(bytes([0x02, 0x00, 0x03]), 18)
    snapshot = decode_inputs(bits, [0x002A, 0x0055, 0x0859])
    assert snapshot.valve_opened == (False,) * 8
    assert snapshot.valve_closed == (True,) + (False,) * 7
    assert snapshot.estop_ok
    assert snapshot.n2_flow_ok
    assert snapshot.o2_ppm == 4.2
    assert snapshot.radon_mbq_m3 == 8.5
    assert snapshot.temperature_c == 21.37


def test_decode_inputs_negative_temperature_and_valve_k() -> None:
    bits = [False] * 18
    bits[2 * 5] = True  # VALVE_5_OPENED
    snapshot = decode_inputs(bits, [0, 0, 0xFF38])
    assert snapshot.temperature_c == -2.0
    assert snapshot.valve_opened[5]
    assert not snapshot.estop_ok


def test_decode_inputs_rejects_bad_lengths() -> None:
    with pytest.raises(ProtocolError):
        decode_inputs([False] * 17, [0, 0, 0])
    with pytest.raises(ProtocolError):
        decode_inputs([False] * 18, [0, 0])
