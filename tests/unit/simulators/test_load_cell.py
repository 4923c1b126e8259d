"""The ASCII load-cell protocol against the golden frames of docs/hardware.md §2."""

from __future__ import annotations

import pytest

from simulators.load_cell import LoadCell, LoadCellBus, Reading, checksum, parse_request


def bus(reading: Reading, silent: bool = False) -> LoadCellBus:
    return LoadCellBus(
        LoadCell(address, 200.0, lambda: reading, lambda: silent) for address in (1, 2, 3, 4)
    )


@pytest.mark.parametrize(
    ("reading", "line", "response"),
    [
        (Reading(1.734), b"@01W", b"@01 ST +0001.7340 N*6C\r\n"),
        (Reading(2.0515, unstable=True), b"@01W", b"@01 US +0002.0515 N*6F\r\n"),
        (Reading(250.0), b"@03W", b"@03 OL +0200.0000 N*69\r\n"),
        (Reading(1.0, sensor_error=True), b"@01W", b"@01 ER +0000.0000 N*7D\r\n"),
        (Reading(1.0), b"@02I", b"@02 ID LC-200N 200.0*5D\r\n"),
        (Reading(1.0), b"@04X", b"@04 ?? *04\r\n"),
    ],
)
def test_golden_frames(reading: Reading, line: bytes, response: bytes) -> None:
    assert bus(reading).handle(line) == response


def test_checksum_is_xor_between_at_and_star() -> None:
    assert checksum("01 ST +0001.7340 N") == "6C"


def test_unknown_address_and_garbage_get_no_answer() -> None:
    assert bus(Reading(1.0)).handle(b"@09W") is None
    assert bus(Reading(1.0)).handle(b"hello") is None
    assert bus(Reading(1.0), silent=True).handle(b"@01W") is None
    assert parse_request(b"@12W") == (12, "W")


def test_negative_force_format() -> None:
    assert bus(Reading(-0.0012)).handle(b"@01W") == b"@01 ST -0000.0012 N*" + (
        checksum("01 ST -0000.0012 N").encode() + b"\r\n"
    )
