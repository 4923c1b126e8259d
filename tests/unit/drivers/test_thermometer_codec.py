"""The temperature transmitter against the golden frames of docs/hardware.md §9 (driver side),
and the simulator's answers to the same requests (the two sides agree on the wire)."""

from __future__ import annotations

import ast
import functools
import operator
import random
import re
from pathlib import Path

import pytest

from drivers.errors import CommError, ProtocolError
from drivers.thermometer import (
    FakeThermometer,
    TemperatureReading,
    TemperatureSensor,
    Thermometer,
    checksum,
    decode_identity,
    decode_reading,
    encode_request,
)
from simulators.thermometer import SimThermometer, ThermometerLine, reading_frame

#: (address, request, answer, reading) -- the table in docs/hardware.md §9
GOLDEN = [
    (1, b"%01T\r", b"%01,OK,+021.3456*37\r\n", TemperatureReading(21.3456, True)),
    (1, b"%01T\r", b"%01,OK,-001.2500*30\r\n", TemperatureReading(-1.25, True)),
    (2, b"%02T\r", b"%02,OK,+020.5000*34\r\n", TemperatureReading(20.5, True)),
    (1, b"%01T\r", b"%01,ER,+000.0000*23\r\n", TemperatureReading(0.0, False)),
]
IDENTITY = (1, b"%01I\r", b"%01,ID,PT100-4W*77\r\n", "PT100-4W")
UNKNOWN = (3, b"%03X\r", b"%03,??,*03\r\n")


class _Line:
    name = "fake line"

    def __init__(self, answer: bytes | None) -> None:
        self.answer = answer
        self.sent: list[bytes] = []

    async def transact(self, request: bytes, *, terminator: bytes = b"\n") -> bytes:
        self.sent.append(request)
        assert terminator == b"\n"
        if self.answer is None:
            raise CommError("no answer", device=self.name)
        return self.answer


def _xor(payload: bytes) -> int:
    return functools.reduce(operator.xor, payload, 0)


@pytest.mark.parametrize(("address", "request_", "answer", "reading"), GOLDEN)
async def test_golden_readings(
    address: int, request_: bytes, answer: bytes, reading: TemperatureReading
) -> None:
    assert int(answer[-4:-2], 16) == _xor(answer[1 : answer.index(b"*")])  # the frame is sound
    line = _Line(answer)
    assert await Thermometer(line, address, name="t").read() == reading
    assert line.sent == [request_]


async def test_golden_identity() -> None:
    address, request_, answer, model = IDENTITY
    line = _Line(answer)
    assert await Thermometer(line, address, name="t").identify() == model
    assert line.sent == [request_]


def test_request_encoding_and_checksum() -> None:
    assert encode_request(12, "T") == b"%12T\r"
    assert checksum(b"01,OK,+021.3456") == 0x37
    with pytest.raises(ValueError, match=r"1\.\.32"):
        encode_request(0, "T")
    with pytest.raises(ValueError, match="T or I"):
        encode_request(1, "W")


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (b"%01,OK,+021.3456*38\r\n", "checksum"),
        (b"%02,OK,+020.5000*34\r\n", "address"),
        (b"%01,OK,21.3*1B\r\n", "malformed temperature"),
        (b"%01,??,*01\r\n", "did not understand"),
        (b"%01,ID,PT100-4W*77\r\n", "expected a temperature"),
        (b"@01 ST +0001.7340 N*6C\r\n", "malformed"),  # a load-cell answer on the line
        (b"#01 OK *05\r\n", "malformed"),  # a laser controller's answer
    ],
)
def test_bad_answers_raise_protocol_error(answer: bytes, match: str) -> None:
    with pytest.raises(ProtocolError, match=match):
        decode_reading(answer, 1, device="t")


def test_identity_needs_an_id_answer() -> None:
    with pytest.raises(ProtocolError, match="expected an ID"):
        decode_identity(b"%01,OK,+021.3456*37\r\n", 1, device="t")


async def test_comm_error_names_the_sensor() -> None:
    with pytest.raises(CommError) as info:
        await Thermometer(_Line(None), 1, name="acu-thermometer").read()
    assert info.value.device == "acu-thermometer"


async def test_fake_fits_the_protocol() -> None:
    fake = FakeThermometer(lambda: 20.123456)
    sensor: TemperatureSensor = fake
    assert await sensor.read() == TemperatureReading(20.1235, True)
    fake.error = True
    assert (await sensor.read()).ok is False
    fake.lost = True
    with pytest.raises(CommError):
        await sensor.read()


# ---- the simulator answers the same frames -------------------------------------------------


@pytest.mark.parametrize(("address", "request_", "answer", "reading"), GOLDEN)
def test_simulator_frames_are_the_golden_ones(
    address: int, request_: bytes, answer: bytes, reading: TemperatureReading
) -> None:
    assert reading_frame(address, reading.temperature_c, ok=reading.ok) == answer


def test_simulator_line_answers_identity_unknown_and_stays_silent() -> None:
    silent = False
    sensor = SimThermometer(
        1,
        lambda: 21.3456,
        noise_c=0.0,
        rng=random.Random(1),
        silent=lambda: silent,
    )
    line = ThermometerLine([sensor])
    assert line.handle(b"%01T") == b"%01,OK,+021.3456*37\r\n"
    assert line.handle(IDENTITY[1].rstrip(b"\r")) == IDENTITY[2]
    other = SimThermometer(3, lambda: 0.0, noise_c=0.0, rng=random.Random(1), silent=lambda: False)
    assert ThermometerLine([other]).handle(UNKNOWN[1].rstrip(b"\r")) == UNKNOWN[2]
    assert line.handle(b"%02T") is None  # nobody at that address
    assert line.handle(b"@01W") is None  # not this protocol
    sensor.sensor_error = True
    assert line.handle(b"%01T") == GOLDEN[3][2]
    silent = True
    assert line.handle(b"%01T") is None


def test_the_document_lists_these_frames() -> None:
    """docs/hardware.md §9 shows exactly the frames tested here."""
    doc = (Path(__file__).resolve().parents[3] / "docs" / "hardware.md").read_text()
    section = doc.split("## 9. Temperature-profile sensor")[1]
    pairs = re.findall(r"request\s+'(%[^']*)'\s+response\s+'(%[^']*)'", section)
    documented = [(ast.literal_eval(f"b'{q}'"), ast.literal_eval(f"b'{a}'")) for q, a in pairs]
    tested = [(g[1], g[2]) for g in GOLDEN] + [IDENTITY[1:3], UNKNOWN[1:3]]
    assert documented == tested
