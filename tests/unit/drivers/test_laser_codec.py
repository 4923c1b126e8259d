"""The laser controller's ASCII codec against the golden frames of docs/hardware.md §8, and the
driver over a real pty (the test plays the controller on the master)."""

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

from .conftest import IndicatorAnswer, PtyIndicator

MakeIndicator = Callable[[IndicatorAnswer], PtyIndicator]
DEV = "laser"

# docs/hardware.md §8, golden frames
POWER_ON = b"#01 ST E0 H0 R00010.0 A4000 T+022.00 F00*34\r\n"
EMITTING = b"#02 ST E1 H1 R00100.0 A3000 T+031.25 F00*35\r\n"
FAULTED = b"#01 ST E0 H0 R00010.0 A4000 T+022.00 F05*31\r\n"
OK = b"#01 OK *05\r\n"
NO_RANGE = b"#01 NO RNG*5B\r\n"
NO_FAULT = b"#01 NO FLT*5E\r\n"
IDENTITY = b"#01 ID UVL-266 10000.0*53\r\n"
UNKNOWN = b"#01 ?? *01\r\n"


def test_status_golden_frames() -> None:
    assert decode_status(POWER_ON, 1, device=DEV) == LaserStatus(
        enabled=False, shutter_open=False, rate_hz=10.0, od_milli=4000, head_temp_c=22.0, flags=0
    )
    emitting = decode_status(EMITTING, 2, device=DEV)
    assert emitting.emitting and emitting.rate_hz == 100.0 and emitting.head_temp_c == 31.25
    assert emitting.intensity == pytest.approx(1e-3)
    faulted = decode_status(FAULTED, 1, device=DEV)
    assert faulted.faults == ("overtemp", "driver") and not faulted.emitting


def test_answers_ok_refused_identify_unknown() -> None:
    decode_ok(OK, 1, device=DEV)
    with pytest.raises(LaserRefused) as rng:
        decode_ok(NO_RANGE, 1, device=DEV)
    assert rng.value.reason == "RNG"
    with pytest.raises(LaserRefused) as flt:
        decode_ok(NO_FAULT, 1, device=DEV)
    assert flt.value.reason == "FLT"
    assert decode_identity(IDENTITY, 1, device=DEV) == "UVL-266 10000.0"
    with pytest.raises(ProtocolError, match=r"\?\?"):
        decode_ok(UNKNOWN, 1, device=DEV)


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
