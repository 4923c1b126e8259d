"""The laser controller's ASCII codec against the golden frames of docs/hardware.md §8 (read from
the document by `golden_doc`), and the driver over a real pty (the test plays the controller on
the master)."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from drivers.endpoint import SerialEndpoint
from drivers.errors import CommError, ProtocolError
from drivers.laser import (
    LaserController,
    LaserRefused,
    LaserStatus,
    checksum,
    decode_identity,
    decode_ok,
    decode_status,
    encode_attenuator,
    encode_rate,
    encode_request,
    od_milli,
    transmission,
)
from drivers.serial_line import SerialLine

from ..golden_doc import AsciiFrame, ascii_frames, cases, paired
from .conftest import IndicatorAnswer, PtyIndicator

MakeIndicator = Callable[[IndicatorAnswer], PtyIndicator]
DEV = "laser"

# docs/hardware.md §8, golden frames, in the document's order
LASER = ascii_frames(8)
POWER_ON, EMITTING, FAULTED = (f.response for f in LASER[:3])
OK, NO_RANGE, NO_FAULT, IDENTITY, UNKNOWN = (f.response for f in LASER[3:8])
#: what each of them means: (address, command, answer); the answer is a status, ``"OK"``, a
#: refusal ``("NO", reason)``, an identity ``("ID", model)``, or ``"??"`` (a ProtocolError)
Answer = LaserStatus | str | tuple[str, str]
MEANINGS: list[tuple[int, str, Answer]] = [
    (1, "Q", LaserStatus(False, False, rate_hz=10.0, od_milli=4000, head_temp_c=22.0, flags=0)),
    (2, "Q", LaserStatus(True, True, rate_hz=100.0, od_milli=3000, head_temp_c=31.25, flags=0)),
    (1, "Q", LaserStatus(False, False, rate_hz=10.0, od_milli=4000, head_temp_c=22.0, flags=5)),
    (1, encode_rate(100.0), "OK"),
    (1, "A4001", ("NO", "RNG")),
    (1, "E1", ("NO", "FLT")),
    (1, "I", ("ID", "UVL-266 10000.0")),
    (1, "Z", "??"),
]


def test_every_golden_frame_has_its_meaning() -> None:
    paired(LASER, MEANINGS, "§8")


@pytest.mark.parametrize(("frame", "meaning"), cases(LASER, MEANINGS))
def test_golden_frames(frame: AsciiFrame, meaning: tuple[int, str, Answer]) -> None:
    address, command, answer = meaning
    assert encode_request(address, command) == frame.request
    if isinstance(answer, LaserStatus):
        assert decode_status(frame.response, address, device=DEV) == answer
    elif answer == "OK":
        decode_ok(frame.response, address, device=DEV)
    elif answer == "??":
        with pytest.raises(ProtocolError, match=r"\?\?"):
            decode_ok(frame.response, address, device=DEV)
    elif answer[0] == "NO":
        with pytest.raises(LaserRefused) as refused:
            decode_ok(frame.response, address, device=DEV)
        assert refused.value.reason == answer[1]
    else:
        assert decode_identity(frame.response, address, device=DEV) == answer[1]


def test_status_golden_frames() -> None:
    assert decode_status(POWER_ON, 1, device=DEV) == LaserStatus(
        enabled=False, shutter_open=False, rate_hz=10.0, od_milli=4000, head_temp_c=22.0, flags=0
    )
    emitting = decode_status(EMITTING, 2, device=DEV)
    assert emitting.emitting and emitting.rate_hz == 100.0 and emitting.head_temp_c == 31.25
    assert emitting.intensity == pytest.approx(1e-3)
    faulted = decode_status(FAULTED, 1, device=DEV)
    assert faulted.faults == ("overtemp", "driver") and not faulted.emitting


def test_requests() -> None:
    assert encode_request(1, "Q") == b"#01Q\r"
    assert encode_request(1, encode_rate(100.0)) == b"#01R00100.0\r"
    assert encode_request(1, "A4001") == b"#01A4001\r"
    assert encode_rate(10_000.0) == "R10000.0" and encode_rate(0.1) == "R00000.1"
    for bad in (0.0, 10_000.1, math.nan):
        with pytest.raises(ValueError, match="outside"):
            encode_rate(bad)
    with pytest.raises(ValueError, match="address"):
        encode_request(33, "Q")


def test_checksum_is_xor_between_hash_and_star() -> None:
    assert checksum(b"01 OK ") == 0x05
    assert checksum(EMITTING[1 : EMITTING.index(b"*")]) == 0x35


@pytest.mark.parametrize(
    ("intensity", "field"),
    [(1.0, "A0000"), (0.1, "A1000"), (0.02, "A1699"), (1e-3, "A3000"), (1e-4, "A4000")],
)
def test_intensity_is_optical_density_in_thousandths(intensity: float, field: str) -> None:
    assert encode_attenuator(intensity) == field
    assert transmission(int(field[1:])) == pytest.approx(intensity, rel=0.0012)


def test_intensity_outside_four_orders_is_refused() -> None:
    for bad in (0.5e-4, 1.01, 0.0, -1.0, math.inf):
        with pytest.raises(ValueError, match="outside"):
            od_milli(bad)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"#01 ST E1 H1 R00100.0 A3000 T+031.25 F00*00\r\n", "bad checksum"),
        (b"#02 OK *06\r\n", "address 02"),
        (b"#01 ST E1 H1\r\n", "malformed"),
        (b"#01 ST E2 H1*28\r\n", "expected a status"),
        (OK, "expected a status"),
    ],
)
def test_bad_status_answers(line: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        decode_status(line, 1, device=DEV)


GOLDEN = {
    b"#01Q\r": POWER_ON,
    b"#01R00100.0\r": OK,
    b"#01A3000\r": OK,
    b"#01H1\r": OK,
    b"#01E1\r": NO_FAULT,
    b"#01X\r": OK,
    b"#01I\r": IDENTITY,
}


async def test_driver_over_a_pty(pty_indicator: MakeIndicator) -> None:
    peer = pty_indicator(GOLDEN.get)
    line = SerialLine(SerialEndpoint(peer.path), name="acu-laser", timeout_s=0.05, retries=0)
    laser = LaserController(line, 1, name="acu-laser-D")
    try:
        assert (await laser.read_status()).od_milli == 4000
        await laser.set_rate(100.0)
        await laser.set_intensity(1e-3)
        await laser.open_shutter()
        with pytest.raises(LaserRefused) as refused:
            await laser.enable_emission()  # refused: a fault is latched
        assert refused.value.reason == "FLT" and refused.value.device == "acu-laser-D"
        await laser.all_off()
        assert await laser.identify() == "UVL-266 10000.0"
        with pytest.raises(CommError):
            await laser.clear_faults()  # no answer to C from this peer
    finally:
        await line.close()
    assert peer.requests == [
        b"#01Q\r",
        b"#01R00100.0\r",
        b"#01A3000\r",
        b"#01H1\r",
        b"#01E1\r",
        b"#01X\r",
        b"#01I\r",
        b"#01C\r",
    ]
