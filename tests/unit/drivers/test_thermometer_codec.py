"""The temperature transmitter against the golden frames of docs/hardware.md §9 (driver side;
the frames are read from the document by `golden_doc`, the simulator side is
tests/unit/simulators/test_thermometer.py)."""

from __future__ import annotations

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

from ..golden_doc import AsciiFrame, ascii_frames, cases, paired

GOLDEN = ascii_frames(9)
#: what each golden frame of §9 means, in the document's order: (address, command, answer);
#: the answer is a reading, the identity, or None for ``??`` (a ProtocolError)
MEANINGS: list[tuple[int, str, TemperatureReading | str | None]] = [
    (1, "T", TemperatureReading(21.3456, True)),
    (1, "T", TemperatureReading(-1.25, True)),
    (2, "T", TemperatureReading(20.5, True)),
    (1, "T", TemperatureReading(0.0, False)),
    (1, "I", "PT100-4W"),
    (3, "X", None),  # the driver never sends X: only its answer is decoded
]


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


def test_every_golden_frame_has_its_meaning() -> None:
    paired(GOLDEN, MEANINGS, "§9")


@pytest.mark.parametrize(("frame", "meaning"), cases(GOLDEN, MEANINGS))
async def test_golden_frames(
    frame: AsciiFrame, meaning: tuple[int, str, TemperatureReading | str | None]
) -> None:
    address, command, answer = meaning
    payload, check = frame.response[1:-2].split(b"*")
    assert checksum(payload) == int(check, 16)
    line = _Line(frame.response)
    sensor = Thermometer(line, address, name="t")
    if isinstance(answer, TemperatureReading):
        assert await sensor.read() == answer
    elif isinstance(answer, str):
        assert await sensor.identify() == answer
    else:
        with pytest.raises(ProtocolError, match="did not understand"):
            decode_reading(frame.response, address, device="t")
        assert frame.request == f"%{address:02d}{command}\r".encode()
        return
    assert line.sent == [frame.request] == [encode_request(address, command)]


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
