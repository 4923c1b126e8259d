"""The ASCII load-cell protocol against the golden frames of docs/hardware.md §2 (read from the
document by `golden_doc`)."""

from __future__ import annotations

import pytest

from simulators.load_cell import LoadCell, LoadCellBus, Reading, checksum, parse_request

from ..golden_doc import AsciiFrame, ascii_frames, cases, paired

GOLDEN = ascii_frames(2)
#: what the indicator measures for each golden frame of §2, in the document's order
MEANINGS = [
    Reading(1.734),
    Reading(2.0515, unstable=True),
    Reading(250.0),  # above the 200 N range: overload
    Reading(1.0, sensor_error=True),
    Reading(1.0),  # identify
    Reading(1.0),  # an unknown command
]


def bus(reading: Reading, silent: bool = False) -> LoadCellBus:
    return LoadCellBus(
        LoadCell(address, 200.0, lambda: reading, lambda: silent) for address in (1, 2, 3, 4)
    )


def test_every_golden_frame_has_its_meaning() -> None:
    paired(GOLDEN, MEANINGS, "§2")


@pytest.mark.parametrize(("frame", "reading"), cases(GOLDEN, MEANINGS))
def test_golden_frames(frame: AsciiFrame, reading: Reading) -> None:
    assert bus(reading).handle(frame.line) == frame.response


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
