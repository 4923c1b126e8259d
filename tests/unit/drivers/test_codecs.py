"""Pure codecs against the golden frames of docs/hardware.md §1-3 (taken from the document by
`golden_doc`; the Modbus ADUs themselves are checked on the wire in test_modbus_golden.py)."""

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

from ..golden_doc import AsciiFrame, ascii_frames, cases, paired, transaction

# --- stepper (section 1) ------------------------------------------------------------------


def test_decode_status_golden_device_2() -> None:
    registers = transaction(1, 1).response_registers()
    status = decode_status(registers, counts_per_rev=1.0)
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


def test_decode_status_comm_timeout_bit() -> None:
    """STATUS bit 8: the drive's watchdog stopped its last run (higher bits are not defined)."""
    regs = [0xF1C0, 0, 0, 0, 0, 0, 0, 0, 0]  # COMM_TIMEOUT | HOMED | ENABLED, bits 12..15 noise
    status = decode_status(regs, counts_per_rev=1.0)
    assert status.comm_timeout and status.homed and status.enabled
    assert not (status.moving or status.alarm)
    assert not decode_status([0xC0, *regs[1:]], counts_per_rev=1.0).comm_timeout


def test_decode_status_golden_turntable_negative_positions() -> None:
    status = decode_status(transaction(1, 7).response_registers(), counts_per_rev=4096 * 50.0)
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
    assert encode_move(500000, 390, 650, 100) == transaction(1, 2).written_registers()
    assert int(Command.START) == 1
    assert int(Command.HALT) == 3


def test_encode_move_negative_target_is_twos_complement() -> None:
    assert encode_move(-5, 1, 1) == [65535, 65531, 0, 1, 0, 1, 1, 0]


@pytest.mark.parametrize(("target", "speed", "accel"), [(2**31, 1, 1), (0, 0, 1), (0, 1, 2**32)])
def test_encode_move_rejects_out_of_range(target: int, speed: int, accel: int) -> None:
    with pytest.raises(ValueError, match="counts"):
        encode_move(target, speed, accel)


# --- load cell (section 2) ----------------------------------------------------------------


#: what each golden frame of §2 means, in the document's order: (address, command, answer);
#: the answer is a reading, an identity, or None for ``??`` (a ProtocolError)
LOAD_CELL = ascii_frames(2)
LOAD_CELL_MEANINGS: list[tuple[int, str, LoadReading | str | None]] = [
    (1, "W", LoadReading(1.734, LoadStatus.STABLE)),
    (1, "W", LoadReading(2.0515, LoadStatus.UNSTABLE)),
    (3, "W", LoadReading(200.0, LoadStatus.OVERLOAD)),
    (1, "W", LoadReading(0.0, LoadStatus.ERROR)),
    (2, "I", "LC-200N 200.0"),
    (4, "X", None),
]


def test_every_load_cell_frame_has_its_meaning() -> None:
    paired(LOAD_CELL, LOAD_CELL_MEANINGS, "§2")


@pytest.mark.parametrize(("frame", "meaning"), cases(LOAD_CELL, LOAD_CELL_MEANINGS))
def test_load_cell_golden_frames(
    frame: AsciiFrame, meaning: tuple[int, str, LoadReading | str | None]
) -> None:
    address, command, answer = meaning
    assert encode_request(address, command) == frame.request
    if isinstance(answer, LoadReading):
        assert decode_reading(frame.response, address) == answer
    elif isinstance(answer, str):
        assert decode_identity(frame.response, address) == answer
    else:
        with pytest.raises(ProtocolError, match=r"\?\?"):
            decode_reading(frame.response, address)


@pytest.mark.parametrize(("address", "command"), [(0, "W"), (33, "W"), (1, "w"), (1, "WW")])
def test_encode_request_rejects(address: int, command: str) -> None:
    with pytest.raises(ValueError, match=r"address|command"):
        encode_request(address, command)


def test_checksum_golden() -> None:
    for frame in LOAD_CELL:
        payload, check = frame.response[1:-2].split(b"*")
        assert checksum(payload) == int(check, 16)


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
    bits = _bits_from_bytes(transaction(3, 5).response[9:], 18)
    snapshot = decode_inputs(bits, transaction(3, 6).response_registers())
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
