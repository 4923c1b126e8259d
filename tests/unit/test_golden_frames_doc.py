"""The golden frames of docs/hardware.md as a document: the sections that have them, every frame
well formed by its own protocol's rules, and the one table the parser does not feed
(tests/unit/drivers/test_rov_vehicle.py keeps §6 literally) equal to the document's frames.

The tests of both sides take their frames from `golden_doc` (see its docstring)."""

from __future__ import annotations

import functools
import operator

import pytest

from tests.unit.drivers import test_rov_vehicle as rov_driver_tests

from .golden_doc import (
    GOLDEN_SECTIONS,
    AsciiFrame,
    ModbusFrame,
    ascii_frames,
    modbus_frames,
    sections,
)

ASCII = sorted(n for n, kind in GOLDEN_SECTIONS.items() if kind == "ascii")
MODBUS = sorted(n for n, kind in GOLDEN_SECTIONS.items() if kind == "modbus")
#: each ASCII device's start character (hardware.md: load cell, USS, laser, thermometer)
START = {2: b"@", 4: b"$", 8: b"#", 9: b"%"}


def test_every_protocol_section_has_golden_frames() -> None:
    assert set(sections()) == set(GOLDEN_SECTIONS)
    assert set(START) == set(ASCII)


@pytest.mark.parametrize("section", ASCII)
def test_ascii_frames_are_well_formed(section: int) -> None:
    for frame in ascii_frames(section):
        _check_ascii(frame, START[section])


def _check_ascii(frame: AsciiFrame, start: bytes) -> None:
    request, response = frame.request, frame.response
    assert request.startswith(start), frame
    assert request.endswith(b"\r"), frame
    assert request.count(b"\r") == 1, frame
    assert response.startswith(start), frame
    assert response.endswith(b"\r\n"), frame
    assert response[1:3] == request[1:3], f"answered from another address: {frame}"
    payload, check = response[1:-2].rsplit(b"*", 1)
    assert check == b"%02X" % functools.reduce(operator.xor, payload, 0), f"checksum: {frame}"


@pytest.mark.parametrize("section", MODBUS)
def test_modbus_frames_are_well_formed(section: int) -> None:
    frames = modbus_frames(section)
    for frame in frames:
        _check_modbus(frame)
    tids = [f.transaction for f in frames]
    assert len(tids) == len(set(tids)), f"§{section}: a transaction id twice: {tids}"


def _check_modbus(frame: ModbusFrame) -> None:
    request, response = frame.request, frame.response
    for adu in (request, response):
        assert adu[2:4] == b"\x00\x00", f"protocol id: {frame}"
        assert int.from_bytes(adu[4:6], "big") == len(adu) - 6, f"MBAP length: {frame}"
    assert response[:2] == request[:2], f"transaction id: {frame}"
    assert response[6:8] == request[6:8], f"unit id / function code: {frame}"
    fc = frame.function_code
    count = int.from_bytes(request[10:12], "big")
    if fc in (5, 6):
        assert response == request, f"FC{fc} echoes its request: {frame}"
    elif fc in (3, 4):
        assert len(request) == 12, frame
        assert response[8] == 2 * count == len(response) - 9, frame
    elif fc in (1, 2):
        assert len(request) == 12, frame
        assert response[8] == (count + 7) // 8 == len(response) - 9, frame
    elif fc == 16:
        assert request[12] == 2 * count == len(request) - 13, frame
        assert response == response[:4] + b"\x00\x06" + request[6:12], frame
    else:
        pytest.fail(f"a function code the document does not use: {frame}")


def test_sections_1_and_3_are_one_session() -> None:
    """The driver's golden session (test_modbus_golden.py) runs §1 and §3 on one connection:
    their transaction ids count up from 1 without a gap."""
    tids = sorted(f.transaction for f in modbus_frames(1) + modbus_frames(3))
    assert tids == list(range(1, len(tids) + 1))


def test_the_rov_driver_table_is_the_document_s() -> None:
    documented = [(f.request, f.response) for f in modbus_frames(6)]
    assert list(rov_driver_tests.GOLDEN.items()) == documented
